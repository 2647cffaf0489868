import type { StepStatus } from "../store/records.js";
import { escapeMarkup } from "./escape.js";
import { statusColours } from "./status-colours.js";
import { formatDuration } from "./time-format.js";

/** One stretch of a step's run: an attempt, or the whole step when it has no attempts. */
export interface TimelineBar {
  readonly start: number;
  readonly end: number;
  readonly status: StepStatus;
  readonly title: string;
}

export interface TimelineRow {
  readonly step: string;
  readonly bars: readonly TimelineBar[];
  /** Shown instead of bars, for a step whose run happened in another execution. */
  readonly note?: string;
  /** Where clicking the row's name goes. */
  readonly link?: string;
}

const WIDTH = 960;
const LABEL_WIDTH = 190;
const RIGHT = 24;
const ROW = 28;
const AXIS = 30;
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
const MAX_LABEL = 24;

/** A Gantt chart of the steps against wall-clock time since the execution began. */
export function timelineSvg(rows: readonly TimelineRow[], origin: number): string {
  const ends = rows.flatMap((r) => r.bars.map((b) => b.end));
  const span = Math.max(1, ...ends.map((e) => e - origin));
  const chart = WIDTH - LABEL_WIDTH - RIGHT;
  const xOf = (t: number): number => LABEL_WIDTH + ((t - origin) / span) * chart;
  const height = AXIS + rows.length * ROW + 8;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 ${WIDTH} ${height}" width="100%" font-family="${escapeMarkup(FONT)}" role="img" aria-label="timeline of ${rows.length} steps">`,
  ];
  for (const tick of ticks(span)) {
    const x = xOf(origin + tick);
    parts.push(
      `<line x1="${x}" y1="${AXIS - 6}" x2="${x}" y2="${height - 4}" stroke="#e2e8f0"/>`,
      `<text x="${x}" y="${AXIS - 12}" font-size="11" fill="#64748b" text-anchor="middle">${tick === 0 ? "0" : escapeMarkup(formatDuration(tick))}</text>`,
    );
  }
  rows.forEach((row, i) => {
    const y = AXIS + i * ROW;
    if (i % 2 === 1) parts.push(`<rect x="0" y="${y}" width="${WIDTH}" height="${ROW}" fill="#f8fafc"/>`);
    const short = row.step.length > MAX_LABEL ? `${row.step.slice(0, MAX_LABEL - 1)}…` : row.step;
    const label = `<text x="8" y="${y + ROW / 2 + 4}" font-size="12" fill="#0f172a"><title>${escapeMarkup(row.step)}</title>${escapeMarkup(short)}</text>`;
    parts.push(row.link === undefined ? label : `<a href="${escapeMarkup(row.link)}">${label}</a>`);
    if (row.note !== undefined) {
      parts.push(`<text x="${LABEL_WIDTH}" y="${y + ROW / 2 + 4}" font-size="11" fill="#64748b" font-style="italic">${escapeMarkup(row.note)}</text>`);
    }
    for (const bar of row.bars) {
      const c = statusColours(bar.status);
      const x = xOf(bar.start);
      // A step of a few milliseconds still gets a visible mark.
      const w = Math.max(3, xOf(bar.end) - x);
      parts.push(
        `<rect class="bar" data-step="${escapeMarkup(row.step)}" data-status="${bar.status}" x="${x.toFixed(1)}" y="${y + 6}" width="${w.toFixed(1)}" height="${ROW - 12}" rx="3" fill="${c.fill}" stroke="${c.stroke}" stroke-width="1.2"><title>${escapeMarkup(bar.title)}</title></rect>`,
      );
    }
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** Round offsets (1, 2 or 5 times a power of ten, or whole minutes) that give 4 to 10 gridlines. */
function ticks(span: number): number[] {
  const steps = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000];
  const step = steps.find((s) => span / s <= 10) ?? Math.ceil(span / 10 / 3_600_000) * 3_600_000;
  const out: number[] = [];
  for (let t = 0; t <= span; t += step) out.push(t);
  return out;
}

/** The most bars that overlap at any moment: how many steps really ran at once. */
export function peakConcurrency(rows: readonly TimelineRow[]): number {
  const events = rows.flatMap((r) => r.bars.flatMap((b) => [[b.start, 1] as const, [b.end, -1] as const]));
  // At equal times an end comes before a start: back-to-back steps did not overlap.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let peak = 0;
  for (const [, delta] of events) peak = Math.max(peak, (running += delta));
  return peak;
}
