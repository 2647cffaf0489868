/**
 * What `metadata.json` next to a payload in a step's /opt/ml holds: the payload's SHA-256 and size.
 * Not a signature (no secret enters a container): it catches a torn or truncated write across the
 * container boundary. The engine signs what it keeps with its own key, on the host.
 * Node builtins only: the container runner imports it.
 */
import { createHash } from "node:crypto";
import { IntegrityError } from "../errors.js";

export interface PayloadDigest {
  /** SHA-256 of the payload, in hex. */
  readonly sha256: string;
  readonly size: number;
}

export function digestOf(bytes: Buffer): PayloadDigest {
  return { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.byteLength };
}

/** Throws `IntegrityError` unless `metadata` is a well-formed digest of exactly these bytes. */
export function checkDigest(bytes: Buffer, metadata: unknown, what: string): void {
  if (!isPayloadDigest(metadata)) throw new IntegrityError(`${what} (its metadata.json is missing or not a digest)`);
  if (metadata.size !== bytes.byteLength) throw new IntegrityError(`${what} (${bytes.byteLength} bytes where ${metadata.size} were written)`);
  if (metadata.sha256 !== digestOf(bytes).sha256) throw new IntegrityError(`${what} (its SHA-256 is not the one written with it)`);
}

/** `checkDigest` of a metadata.json as read: text that is not JSON is a missing digest. */
export function checkDigestText(bytes: Buffer, metadataText: string, what: string): void {
  let metadata: unknown;
  try {
    metadata = JSON.parse(metadataText);
  } catch {
    metadata = undefined;
  }
  checkDigest(bytes, metadata, what);
}

function isPayloadDigest(value: unknown): value is PayloadDigest {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m.sha256 === "string" && /^[0-9a-f]{64}$/.test(m.sha256) && Number.isSafeInteger(m.size) && (m.size as number) >= 0;
}
