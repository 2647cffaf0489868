/**
 * The engine's logger for the command line: instead of pino's JSON lines, a person sees warnings,
 * errors, the runtime image being built and the steps' transfers, as sentences or in the live table.
 * With --verbose every other event is shown too.
 */
import { pino, type Logger } from "pino";
import type { TransferEvent } from "../engine/transfer-progress.js";
import { formatDuration } from "./output.js";

/** What the engine logs: pino's JSON line, of which these fields are read. */
interface LogEntry {
  level: number;
  msg?: string;
  event?: string;
  tag?: string;
  reference?: string;
  durationMs?: number;
  step?: string;
  err?: { message?: string };
  direction?: TransferEvent["direction"];
  what?: string;
  bytes?: number;
  totalBytes?: number;
  failed?: true;
}

const WARN = 40;
const ERROR = 50;

/** Told about the engine's messages, about image builds as they start and end, and about transfers. */
export interface EngineLogListener {
  message(line: string, stream: "stdout" | "stderr"): void;
  /** An image build or import began (`what` says which), or ended (`what` undefined). */
  imageActivity(what: string | undefined): void;
  /** A step's download or upload started, moved on, or ended; only a display that runs steps shows it. */
  transfer?(event: TransferEvent): void;
}

export function cliLogger(listener: EngineLogListener, verbose: boolean): Logger {
  const sink = {
    write(chunk: string): void {
      let entry: LogEntry;
      try {
        entry = JSON.parse(chunk) as LogEntry;
      } catch {
        return;
      }
      render(entry, listener, verbose);
    },
  };
  return pino(
    {
      name: "stepbox",
      // Transfers report their bytes at debug level; the sink shows those in the table and drops the
      // other debug events unless --verbose.
      level: "debug",
      redact: { paths: ["secret"], censor: "[redacted]" },
    },
    sink,
  );
}

function render(entry: LogEntry, listener: EngineLogListener, verbose: boolean): void {
  const msg = entry.msg ?? entry.event ?? "";
  const where = entry.step ? ` (step ${entry.step})` : "";
  if (entry.level >= ERROR) {
    listener.message(`error: ${msg}${where}${entry.err?.message ? `: ${entry.err.message}` : ""}`, "stderr");
    return;
  }
  if (entry.level >= WARN) {
    listener.message(`warning: ${msg}${where}`, "stderr");
    return;
  }
  switch (entry.event) {
    case "image.base.import":
    case "image.base.pull":
    case "image.build": {
      const what = `${msg}${entry.tag ? ` ${entry.tag}` : entry.reference ? ` ${entry.reference}` : ""}`;
      listener.message(`${what}...`, "stdout");
      listener.imageActivity(what);
      return;
    }
    case "image.base.imported":
    case "image.built":
      listener.imageActivity(undefined);
      listener.message(`${msg}${entry.durationMs !== undefined ? ` in ${formatDuration(entry.durationMs)}` : ""}`, "stdout");
      return;
    case "transfer.started":
    case "transfer.progress":
    case "transfer.ended": {
      const { step, direction, what, bytes } = entry;
      if (step === undefined || direction === undefined || what === undefined || bytes === undefined) return;
      listener.transfer?.({
        event: entry.event,
        step,
        direction,
        what,
        bytes,
        ...(entry.totalBytes !== undefined ? { totalBytes: entry.totalBytes } : {}),
        ...(entry.durationMs !== undefined ? { durationMs: entry.durationMs } : {}),
        ...(entry.failed ? { failed: true } : {}),
      });
      return;
    }
  }
  if (verbose) listener.message(`${entry.event ?? "log"}: ${msg}${where}`, "stderr");
}
