import { ValidationError } from "../errors.js";

/**
 * The longest key, in UTF-8 bytes. S3 refuses object keys over 1024 bytes, and an S3 store puts its
 * own prefix in front, so keys stay well under that.
 */
const MAX_KEY_BYTES = 900;

/**
 * The longest segment, in UTF-8 bytes. File systems refuse names over 255 bytes, and the file store
 * writes `.<segment>.<pid>.<random>.tmp` beside the object while it is in flight.
 */
const MAX_SEGMENT_BYTES = 200;

/**
 * The shape of the name a store gives an object while it is being written (store/temp-files.ts makes
 * them; names from before the pid was added lack it). Keys may not use it, so an in-flight write
 * never shows up in a listing and a key can never collide with one.
 */
export const IN_FLIGHT_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

const KEY_EXAMPLE = '"my-pipeline/abc123/train/results/payload.bin"';

/** Why a key is refused, or `undefined` when it is fine. */
function keyProblem(key: string): string | undefined {
  if (key === "") return "it is empty";
  if (key.startsWith("/")) return "it starts with /";
  if (key.includes("\\")) return "it contains a backslash";
  // C0 controls and DEL, NUL included: S3 listings (XML) cannot carry them and they make printed keys lie.
  if (/[\u0000-\u001f\u007f]/.test(key)) return "it contains a control character";
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `it is longer than ${MAX_KEY_BYTES} bytes`;
  for (const segment of key.split("/")) {
    if (segment === "") return "it has an empty segment (// or a trailing /)";
    if (segment === "." || segment === "..") return `it has a "${segment}" segment`;
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) return `its segment "${segment.slice(0, 20)}..." is longer than ${MAX_SEGMENT_BYTES} bytes`;
    if (IN_FLIGHT_NAME.test(segment)) return `its segment "${segment}" has the shape reserved for writes in flight`;
  }
  return undefined;
}

/**
 * Checks an artifact store key: a relative, `/`-separated path of named segments, with no `.`, `..`
 * or empty segments, no backslash and no control characters (NUL included).
 *
 * @throws ValidationError naming the key and what is wrong with it.
 */
export function assertValidKey(key: string): void {
  const problem = typeof key === "string" ? keyProblem(key) : `it is a ${typeof key}, not a string`;
  if (problem !== undefined) {
    throw new ValidationError(`${JSON.stringify(key)} is not a valid artifact store key: ${problem}`, {
      hint: `keys are relative paths of named segments, e.g. ${KEY_EXAMPLE}`,
    });
  }
}

/**
 * Checks a prefix to list under: a valid key, or `""` for the whole store.
 *
 * @throws ValidationError naming the prefix and what is wrong with it.
 */
export function assertValidPrefix(prefix: string): void {
  if (prefix !== "") assertValidKey(prefix);
}

/**
 * Joins key parts with `/`, skipping empty parts so that a root prefix of `""` composes, and checks
 * the result.
 *
 * @example joinKey("my-pipeline", "abc123", "execution.json") // "my-pipeline/abc123/execution.json"
 * @throws ValidationError when the joined key is not valid (a part was `..`, say).
 */
export function joinKey(...parts: string[]): string {
  const key = parts.filter((part) => part !== "").join("/");
  assertValidKey(key);
  return key;
}
