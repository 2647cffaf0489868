/**
 * A duration as a person types it for `gc --older-than`: 30s, 15m, 12h, 7d, 2w, or ISO-8601 (P7D, PT12H).
 */
import { ValidationError } from "../errors.js";
import { parseIsoDuration } from "../engine/iso-duration.js";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseDuration(text: string, option: string): number {
  const short = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(text.trim());
  if (short) return Number(short[1]) * UNIT_MS[short[2]!.toLowerCase()]!;
  if (/^P/i.test(text.trim())) {
    try {
      return parseIsoDuration(text, option);
    } catch {
      // Reported below, with the forms this option takes.
    }
  }
  throw new ValidationError(`${option} ${text} is not a duration`, { hint: "write it as a number and a unit: 30s, 15m, 12h, 7d, 2w (or ISO-8601: P7D)" });
}
