/** A duration as people read it: `850 ms`, `3.2 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** An ISO-8601 time as `2026-01-02 03:04:05 UTC`: records are in UTC, and the report says so. */
export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** Milliseconds between two ISO-8601 times; the end defaults to `now` for what still runs. */
export function elapsed(start: string | undefined, end: string | undefined, now: string): number | undefined {
  if (start === undefined) return undefined;
  return Date.parse(end ?? now) - Date.parse(start);
}
