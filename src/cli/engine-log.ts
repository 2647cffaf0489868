/**
 * The engine's logger for the command line: instead of pino's JSON lines, a person sees warnings,
 * errors and the runtime image being built, as sentences or in the live table. With --verbose every
 * other log entry is shown too. (The steps' transfers and lines come from the execution's events.)
 */
import { pino, type Logger } from "pino";
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
}

const WARN = 40;
const ERROR = 50;

/** Told about the engine's messages, and about image builds as they start and end. */
export interface EngineLogListener {
  message(line: string, stream: "stdout" | "stderr"): void;
  /** An image build or import began (`what` says which), or ended (`what` undefined). */
  imageActivity(what: string | undefined): void;
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
      // Only --verbose shows the debug entries; skipping them here saves formatting lines no one reads.
      level: verbose ? "debug" : "info",
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
    case "image.build":
    case "image.push": {
      const what = `${msg}${entry.tag ? ` ${entry.tag}` : entry.reference ? ` ${entry.reference}` : ""}`;
      listener.message(`${what}...`, "stdout");
      listener.imageActivity(what);
      return;
    }
    case "image.base.imported":
    case "image.built":
    case "image.pushed":
      listener.imageActivity(undefined);
      listener.message(`${msg}${entry.durationMs !== undefined ? ` in ${formatDuration(entry.durationMs)}` : ""}`, "stdout");
      return;
  }
  if (verbose) listener.message(`${entry.event ?? "log"}: ${msg}${where}`, "stderr");
}
