/**
 * The integrity check of every payload, as SageMaker's remote-function `metadata.json`: an
 * HMAC-SHA256 of the payload under a per-execution key. Node builtins only (it runs in containers).
 */
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { IntegrityError } from "../errors.js";

/** What `metadata.json` holds next to each payload. Only `sha256_hash` is a secret-backed claim. */
export interface PayloadMetadata {
  /** HMAC-SHA256 of the payload under the execution's key, in hex (named as in SageMaker, though keyed). */
  sha256_hash: string;
  version: "stepbox-1";
  serialization_module: "v8";
  /** The Node version that wrote it, for diagnosing a payload that V8 cannot read back. */
  node_version: string;
  /** The payload's length in bytes: a truncated payload is reported as such, not only as a bad HMAC. */
  size: number;
}

/** The metadata that vouches for `payload`: its HMAC-SHA256 under `key`, in hex, and its size. */
export function signPayload(payload: Buffer, key: Buffer): PayloadMetadata {
  return {
    sha256_hash: createHmac("sha256", key).update(payload).digest("hex"),
    version: "stepbox-1",
    serialization_module: "v8",
    node_version: process.version,
    size: payload.byteLength,
  };
}

/** Throws `IntegrityError` unless the metadata is well formed and vouches for exactly these bytes under this key. */
export function verifyPayload(payload: Buffer, metadata: unknown, key: Buffer, what: string): void {
  if (!isPayloadMetadata(metadata)) throw new IntegrityError(`${what} (its metadata is missing or corrupt)`);
  if (metadata.size !== payload.byteLength) {
    throw new IntegrityError(`${what} (${payload.byteLength} bytes where ${metadata.size} were written)`);
  }
  const expected = Buffer.from(metadata.sha256_hash, "hex");
  const actual = createHmac("sha256", key).update(payload).digest();
  if (!timingSafeEqual(expected, actual)) throw new IntegrityError(what);
}

function isPayloadMetadata(value: unknown): value is PayloadMetadata {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.sha256_hash === "string" &&
    // 64 hex digits: anything else would decode to a buffer of another length, which timingSafeEqual throws on.
    /^[0-9a-f]{64}$/.test(m.sha256_hash) &&
    m.version === "stepbox-1" &&
    m.serialization_module === "v8" &&
    typeof m.node_version === "string" &&
    Number.isSafeInteger(m.size) &&
    (m.size as number) >= 0
  );
}

/** The key of one execution, derived from the master key: a container learns nothing of other executions' keys. */
export function deriveExecutionKey(masterKey: Buffer, executionId: string): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), `stepbox execution ${executionId}`, 32));
}

/** The key a pipeline's stored functions and arguments are signed with, derived from the master key. */
export function deriveBuildKey(masterKey: Buffer, pipelineName: string): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), `stepbox functions of pipeline ${pipelineName}`, 32));
}
