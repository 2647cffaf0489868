/**
 * Bytes-so-far of the engine's long transfers: a step's S3 input channels coming down before it runs,
 * its logs, model and output going up to the store after. They are log events, as image builds are,
 * so whoever reads the session's logger (the command line's progress display) can follow them.
 */
import { pipeline, Transform, type Readable } from "node:stream";
import type { Logger } from "../logging/logger.js";

/** At most this often a transfer logs its bytes: a display redraws about as often, a log stays short. */
const REPORT_EVERY_MS = 250;

/** What one transfer is. */
export interface TransferFields {
  readonly step: string;
  readonly direction: "download" | "upload";
  /** What moves: `input data`, `logs`, `model.tar.gz`, `output.tar.gz`. */
  readonly what: string;
  /** Known when the sizes are known before it starts (listed objects, log files); absent for an archive packed as it goes up. */
  readonly totalBytes?: number;
}

/**
 * The fields of the `transfer.started` (info), `transfer.progress` (debug, throttled) and
 * `transfer.ended` (info) log events.
 */
export interface TransferEvent extends TransferFields {
  readonly event: "transfer.started" | "transfer.progress" | "transfer.ended";
  /** Bytes moved so far; on `transfer.ended`, all of them. */
  readonly bytes: number;
  /** On `transfer.ended`: how long it took. */
  readonly durationMs?: number;
  /** On `transfer.ended`, when it threw or was stopped before the end. */
  readonly failed?: true;
}

/** Adds a number of bytes to a transfer's count. */
export type CountBytes = (bytes: number) => void;

/**
 * Runs one transfer and logs it: started, bytes so far at most every 250 ms while it moves, then ended
 * (with `failed` when `move` threw; the error is rethrown as it was).
 */
export async function trackTransfer<T>(log: Logger, fields: TransferFields, move: (count: CountBytes) => Promise<T>): Promise<T> {
  const started = Date.now();
  let bytes = 0;
  let reported = started;
  const entry = (event: TransferEvent["event"]): TransferEvent => ({ event, ...fields, bytes });
  log.info(entry("transfer.started"), `${fields.direction} of ${fields.what} started`);
  const count: CountBytes = (n) => {
    bytes += n;
    const now = Date.now();
    if (now - reported < REPORT_EVERY_MS) return;
    reported = now;
    log.debug(entry("transfer.progress"), `${fields.direction} of ${fields.what}`);
  };
  try {
    const result = await move(count);
    log.info({ ...entry("transfer.ended"), durationMs: Date.now() - started }, `${fields.direction} of ${fields.what} ended`);
    return result;
  } catch (error) {
    log.info({ ...entry("transfer.ended"), durationMs: Date.now() - started, failed: true }, `${fields.direction} of ${fields.what} failed`);
    throw error;
  }
}

/** The source's bytes, counted as they are read. An error of the source reaches the reader. */
export function counted(source: Readable, count: CountBytes): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      count(chunk.length);
      done(null, chunk);
    },
  });
  // pipeline destroys the counter with the source's error, so the store's upload sees it and fails;
  // the callback has nothing left to do.
  return pipeline(source, counter, () => {});
}
