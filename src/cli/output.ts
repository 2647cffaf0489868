/**
 * How the command line writes what it read: aligned tables, durations, times, and JSON that carries
 * the values a step can return (Map, Set, bigint, Date, bytes) instead of dropping them.
 */
import { inspect } from "node:util";

/** Columns padded to their widest cell; the last column is not padded, so lines carry no trailing blanks. */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** "850 ms", "12.3 s", "4m 05s", "2h 10m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Local time to the second, as people read a log: "2025-03-01 14:02:07". */
export function formatTime(date: Date | string | undefined): string {
  if (date === undefined) return "-";
  const d = typeof date === "string" ? new Date(date) : date;
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** How long something took: from start to end, or to now while it runs. */
export function elapsed(start: Date | string | undefined, end: Date | string | undefined, now = Date.now()): string {
  if (start === undefined) return "-";
  return formatDuration((end === undefined ? now : new Date(end).getTime()) - new Date(start).getTime());
}

/** The first line of a possibly long, multi-line text, cut to `max` characters. */
export function firstLine(text: string, max = 100): string {
  const line = text.split("\n", 1)[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** JSON for any value a step returns: Map as an object (or entries), Set as an array, bigint as a string, bytes as base64. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, jsonReplacer, 2) ?? "null";
}

function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify calls toJSON before the replacer; look at the raw value for Buffer and Date.
  const raw = (this as Record<string, unknown>)[key];
  if (typeof raw === "bigint") return raw.toString();
  if (raw instanceof Map) return [...raw.keys()].every((k) => typeof k === "string") ? Object.fromEntries(raw) : [...raw.entries()];
  if (raw instanceof Set) return [...raw];
  if (ArrayBuffer.isView(raw)) return { base64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64") };
  if (raw instanceof Error) return { name: raw.name, message: raw.message, ...(raw.stack ? { stack: raw.stack } : {}) };
  if (raw === undefined && key !== "") return null;
  return value;
}

/** A value as a person reads it: every level expanded, colours on a terminal. */
export function formatValue(value: unknown, colors: boolean): string {
  return inspect(value, { depth: null, colors, maxArrayLength: 200, maxStringLength: 10_000, breakLength: 100 });
}

/** Writes lines to a stream, each ending in a newline. */
export function writeLines(out: NodeJS.WritableStream, lines: readonly string[]): void {
  if (lines.length > 0) out.write(`${lines.join("\n")}\n`);
}

/** "Name:   value" lines, values aligned; a multi-line value is indented under its first line. */
export function formatFields(fields: ReadonlyArray<readonly [string, string | undefined]>): string[] {
  const shown = fields.filter((f): f is readonly [string, string] => f[1] !== undefined);
  const width = Math.max(...shown.map(([name]) => name.length)) + 2;
  return shown.map(([name, value]) => `${`${name}:`.padEnd(width)}${value.replaceAll("\n", `\n${" ".repeat(width)}`)}`);
}
