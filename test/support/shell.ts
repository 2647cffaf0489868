import { PassThrough, Readable } from "node:stream";
import { openStepShell, type StepShellOptions } from "../../src/session/step-shell.js";

/**
 * Opens a shell into a step with `commands` piped in, as `echo ... | stepbox shell` does; what it
 * printed on stdout and stderr, and its exit code.
 */
export async function pipedShell(
  commands: string,
  options: Omit<StepShellOptions, "stdin" | "stdout" | "stderr" | "tty"> & { tty?: boolean },
): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  const code = await openStepShell({ tty: false, ...options, stdin: Readable.from([commands]), stdout, stderr });
  return { code, out, err };
}
