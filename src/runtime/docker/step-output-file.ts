import { constants } from "node:fs";
import { lstat, open } from "node:fs/promises";
import { join } from "node:path";
import { CONTAINER_PATHS } from "../../container/contract.js";
import { StepOutputError } from "../../errors.js";

/** Where the host folder of a step's /opt/ml/output is seen inside its container. */
const CONTAINER_OUTPUT = CONTAINER_PATHS.output;

/**
 * Reads a file a step left under its /opt/ml/output, as hostile input: undefined when it is not
 * there; a `StepOutputError` (which fails the step, naming the file) when it or a folder on its way
 * is a link, when it is not a regular file, or when it is larger than `limitBytes`. It never blocks:
 * a named pipe is opened without waiting for a writer and refused, so a step cannot hang the engine.
 * The step's containers have exited when this runs, so nothing changes the files between the checks
 * and the read.
 */
export async function readStepOutputFile(outputDir: string, relativePath: string, limitBytes: number): Promise<Buffer | undefined> {
  const shown = `${CONTAINER_OUTPUT}/${relativePath}`;
  const parts = relativePath.split("/");
  // Every folder on the way, not only the file: O_NOFOLLOW guards the last component alone.
  for (let i = 1; i < parts.length; i++) {
    const folder = await lstat(join(outputDir, ...parts.slice(0, i))).catch(() => undefined);
    if (folder === undefined) return undefined;
    if (!folder.isDirectory())
      throw new StepOutputError(`${CONTAINER_OUTPUT}/${parts.slice(0, i).join("/")}`, folder.isSymbolicLink() ? "is a symbolic link" : "is not a folder");
  }
  let handle;
  try {
    handle = await open(join(outputDir, relativePath), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new StepOutputError(shown, "is a symbolic link");
    throw new StepOutputError(shown, `cannot be opened (${code ?? String(error)})`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new StepOutputError(shown, "is not a regular file (a named pipe, a socket, a device or a folder)");
    if (info.size > limitBytes) throw new StepOutputError(shown, `is ${info.size} bytes, more than its limit of ${limitBytes}`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
