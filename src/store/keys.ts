import { ValidationError } from "../errors.js";

/**
 * Checks a store key: relative, `/`-separated, no `.`, `..` or empty segments, no backslash or NUL.
 * The empty key names the store's root (for listing).
 */
export function assertValidKey(key: string, allowRoot = false): void {
  if (key === "" && allowRoot) return;
  const bad =
    typeof key !== "string" ||
    key === "" ||
    key.startsWith("/") ||
    key.includes("\\") ||
    key.includes("\0") ||
    key.split("/").some((segment) => segment === "" || segment === "." || segment === "..");
  if (bad) {
    throw new ValidationError(`"${String(key)}" is not a valid artifact store key`, {
      hint: 'keys are relative paths of named segments, e.g. "my-pipeline/abc123/train/results/payload.bin"',
    });
  }
}

export function joinKey(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/");
}
