import { ValidationError } from "../errors.js";

const UNIT_MS: Record<string, number> = {
  Y: 365 * 24 * 3600 * 1000,
  W: 7 * 24 * 3600 * 1000,
  D: 24 * 3600 * 1000,
  H: 3600 * 1000,
  S: 1000,
};

/**
 * An ISO-8601 duration in milliseconds, as SageMaker's CacheConfig.ExpireAfter accepts it:
 * "PT1H", "P30D", "P4DT12H", and the forms its docs also show ("p30d", "30d", "T16m", "30dT5h").
 * Months count as 30 days, years as 365.
 */
export function parseIsoDuration(text: string, what: string): number {
  const match =
    /^P?(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(
      typeof text === "string" ? text.trim() : "",
    );
  if (!match || text.trim().replace(/^P/i, "").replace(/T$/i, "") === "") {
    throw new ValidationError(`${what}: "${String(text)}" is not an ISO-8601 duration`, {
      code: "INVALID_STEP_OPTION",
      hint: 'for example "PT1H" (an hour), "P30D" (30 days), "P1DT12H"',
    });
  }
  const [, y, mo, w, d, h, mi, s] = match.map((part) => (part === undefined ? 0 : Number(part)));
  return (
    (y ?? 0) * UNIT_MS.Y! +
    (mo ?? 0) * 30 * UNIT_MS.D! +
    (w ?? 0) * UNIT_MS.W! +
    (d ?? 0) * UNIT_MS.D! +
    (h ?? 0) * UNIT_MS.H! +
    (mi ?? 0) * 60_000 +
    (s ?? 0) * UNIT_MS.S!
  );
}
