/**
 * Bytes-so-far of the engine's long transfers: a step's S3 input channels coming down before it runs,
 * its logs, model and output going up to the store after. They are events of the execution (see
 * execution-events.ts), so whoever follows it (the command line's progress display) can draw them;
 * the engine's log notes each one's start and end at debug level.
 */
import { pipeline, Transform, type Readable } from "node:stream";
import type { Logger } from "../logging/logger.js";

/** At most this often a transfer reports its bytes: a display redraws about as often. */
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

/** Where a transfer is: started, moving (at most every 250 ms), or ended. */
export interface TransferEvent extends TransferFields {
  readonly phase: "started" | "progress" | "ended";
  /** Bytes moved so far; on `ended`, all of them. */
  readonly bytes: number;
  /** On `ended`: how long it took. */
  readonly durationMs?: number;
  /** On `ended`, when it threw or was stopped before the end. */
  readonly failed?: true;
}

/** Adds a number of bytes to a transfer's count. */
export type CountBytes = (bytes: number) => void;

/** Who hears of a transfer: the execution's events, and the engine's log. */
export interface TransferReport {
  readonly emit: (event: TransferEvent) => void;
  readonly log: Logger;
}

/**
 * Runs one transfer and reports it: started, bytes so far at most every 250 ms while it moves, then
 * ended (with `failed` when `move` threw; the error is rethrown as it was).
 */
export async function trackTransfer<T>(report: TransferReport, fields: TransferFields, move: (count: CountBytes) => Promise<T>): Promise<T> {
  const started = Date.now();
  let bytes = 0;
  let reported = started;
  const event = (phase: TransferEvent["phase"]): TransferEvent => ({ phase, ...fields, bytes });
  report.emit(event("started"));
  report.log.debug({ event: "transfer.started", ...fields }, `${fields.direction} of ${fields.what} started`);
  const count: CountBytes = (n) => {
    bytes += n;
    const now = Date.now();
    if (now - reported < REPORT_EVERY_MS) return;
    reported = now;
    report.emit(event("progress"));
  };
  const end = (failed: boolean): void => {
    const ended: TransferEvent = { ...event("ended"), durationMs: Date.now() - started, ...(failed ? { failed: true } : {}) };
    report.emit(ended);
    report.log.debug({ ...ended, event: "transfer.ended" }, `${fields.direction} of ${fields.what} ${failed ? "failed" : "ended"}`);
  };
  try {
    const result = await move(count);
    end(false);
    return result;
  } catch (error) {
    end(true);
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
