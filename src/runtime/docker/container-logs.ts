import { createWriteStream } from "node:fs";
import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type Docker from "dockerode";
import { StoreError } from "../../errors.js";
import { LineSplitter } from "./log-lines.js";

const TAIL_LINES = 20;

/** How much of a container's output is kept. */
export interface LogLimits {
  /**
   * A line longer than this many bytes is split into lines of at most this size (CloudWatch's event limit).
   * @default 262144 (256 KiB)
   */
  readonly maxLineBytes: number;
  /**
   * The log file stops growing at this many bytes; what is dropped past it is counted, and a last line says how much.
   * @default 104857600 (100 MiB)
   */
  readonly maxLogBytes: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = { maxLineBytes: 256 * 1024, maxLogBytes: 100 * 1024 * 1024 };

/** A container's output, captured from before it starts until it ends. */
export interface CapturedLogs {
  /** The last lines printed, for a FailureReason when the step left no failure file. */
  readonly tail: readonly string[];
  /** Resolves once the container's streams have ended and the log file is closed. */
  readonly done: Promise<void>;
}

/**
 * Attaches to a created container's stdout and stderr (before it starts, so no line is lost), and
 * hands every line to `onLine` live, in the order the container wrote them, while writing it to
 * `logFile` up to the limit.
 * @internal its signature holds dockerode's types, which stay out of the published declarations
 */
export async function captureLogs(
  container: Docker.Container,
  logFile: string,
  onLine: (line: string, stream: "stdout" | "stderr") => void,
  limits: LogLimits = DEFAULT_LOG_LIMITS,
): Promise<CapturedLogs> {
  const raw = await container.attach({ stream: true, stdout: true, stderr: true, logs: true });
  return captureAttached(raw, container.modem, logFile, onLine, limits);
}

/**
 * Captures the multiplexed output of an attach stream (`raw`), demultiplexed by `modem`, as `captureLogs` does.
 * @internal its signature holds dockerode's types, which stay out of the published declarations
 */
export function captureAttached(
  raw: NodeJS.ReadableStream,
  modem: Docker.Container["modem"],
  logFile: string,
  onLine: (line: string, stream: "stdout" | "stderr") => void,
  limits: LogLimits,
): CapturedLogs {
  const file = createWriteStream(logFile);
  // A log file that cannot be written (a full disk) fails the step when its logs are collected, below;
  // until then the lines still reach the live display and the tail.
  let writeError: Error | undefined;
  file.on("error", (error) => {
    writeError ??= error;
  });
  let keptBytes = 0;
  let droppedBytes = 0;
  let droppedLines = 0;
  const tail: string[] = [];
  const record = (line: string, stream: "stdout" | "stderr"): void => {
    const bytes = Buffer.byteLength(line) + 1;
    // Once a line does not fit, nothing after it is kept either: the log is a prefix of the output, never one with holes.
    if (droppedLines === 0 && keptBytes + bytes <= limits.maxLogBytes) {
      keptBytes += bytes;
      file.write(`${line}\n`);
    } else {
      droppedBytes += bytes;
      droppedLines += 1;
    }
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    onLine(line, stream);
  };
  // The demuxer writes each frame to its stream as it arrives, and these sinks split and record it at
  // once: lines keep the order in which the container wrote them, across stdout and stderr.
  const sink = (stream: "stdout" | "stderr"): Writable => {
    const splitter = new LineSplitter(limits.maxLineBytes, (line) => record(line, stream));
    return new Writable({
      write(chunk: Buffer, _encoding, callback) {
        splitter.push(chunk);
        callback();
      },
      final(callback) {
        splitter.end();
        callback();
      },
    });
  };
  const stdout = sink("stdout");
  const stderr = sink("stderr");
  modem.demuxStream(raw, stdout, stderr);
  // Each step waits for the one before it to be over, so the log file ends only after the last byte the
  // demuxer got has been written to it: the attach stream ended (its every 'data' was handed to the
  // demuxer), then the sinks finished (every write they were given was split and recorded, and the
  // last unterminated line flushed), then the file finished.
  const done = (async () => {
    let broke: Error | undefined;
    try {
      await finished(raw);
    } catch (error) {
      // The engine closed the stream before its end (it stopped or restarted): what came is kept.
      broke = error as Error;
    }
    stdout.end();
    stderr.end();
    await Promise.all([finished(stdout), finished(stderr)]);
    if (broke !== undefined) file.write(`[stepbox] the container's output stopped reaching stepbox before the container ended: ${broke.message}\n`);
    if (droppedLines > 0) {
      file.write(`[stepbox] log limit of ${limits.maxLogBytes} bytes reached: ${droppedBytes} bytes in ${droppedLines} lines were not kept\n`);
    }
    file.end();
    try {
      await finished(file);
    } catch (error) {
      writeError ??= error as Error;
    }
    if (writeError !== undefined) {
      throw new StoreError(`cannot write the container's log to ${logFile}`, { cause: writeError, hint: "free some space in the temp folder" });
    }
  })();
  // The runner awaits `done` once the containers have exited; a failure before then must not count as unhandled.
  done.catch(() => undefined);
  return { tail, done };
}
