import { createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { StoreError } from "../errors.js";

const TAIL_LINES = 20;

/** A container's output, captured from before it starts until it ends. */
export interface CapturedLogs {
  /** The last lines printed, for a FailureReason when the step left no failure file. */
  readonly tail: readonly string[];
  /** Resolves once the container's streams have ended and the log file is closed. */
  readonly done: Promise<void>;
}

/**
 * Attaches to a created container's stdout and stderr (before it starts, so no line is lost), and
 * hands every line to `onLine` live while writing it to `logFile`.
 */
export async function captureLogs(
  container: Docker.Container,
  logFile: string,
  onLine: (line: string, stream: "stdout" | "stderr") => void,
): Promise<CapturedLogs> {
  const raw = await container.attach({ stream: true, stdout: true, stderr: true, logs: true });
  const file = createWriteStream(logFile);
  // A log file that cannot be written (a full disk) fails the step when its logs are collected, below;
  // until then the lines still reach the live display and the tail.
  let writeError: Error | undefined;
  file.on("error", (error) => {
    writeError ??= error;
  });
  const tail: string[] = [];
  const pump = (input: PassThrough, name: "stdout" | "stderr"): Promise<void> =>
    new Promise((resolve) => {
      const lines = createInterface({ input, crlfDelay: Infinity });
      lines.on("line", (line) => {
        file.write(`${line}\n`);
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        onLine(line, name);
      });
      lines.on("close", resolve);
    });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  container.modem.demuxStream(raw, stdout, stderr);
  const ended = new Promise<void>((resolve) => {
    raw.once("end", resolve);
    raw.once("close", resolve);
    raw.once("error", () => resolve());
  }).then(() => {
    stdout.end();
    stderr.end();
  });
  const done = Promise.all([pump(stdout, "stdout"), pump(stderr, "stderr"), ended]).then(
    () =>
      new Promise<void>((resolve, reject) => {
        file.end((error?: Error | null) => {
          const failure = writeError ?? error ?? undefined;
          if (failure === undefined) resolve();
          else reject(new StoreError(`cannot write the container's log to ${logFile}`, { cause: failure, hint: "free some space in the temp folder" }));
        });
      }),
  );
  // The runner awaits `done` once the containers have exited; a failure before then must not count as unhandled.
  done.catch(() => undefined);
  return { tail, done };
}
