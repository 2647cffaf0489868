/**
 * The integrity check of every payload, as SageMaker's remote-function `metadata.json`: an
 * HMAC-SHA256 of the payload under a per-execution key. Node builtins only (it runs in containers).
 */
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { IntegrityError } from "../errors.js";

export interface PayloadMetadata {
  sha256_hash: string;
  version: "stepbox-1";
  serialization_module: "v8";
  node_version: string;
  size: number;
}

function hmac(payload: Buffer, key: Buffer): string {
  return createHmac("sha256", key).update(payload).digest("hex");
}

export function signPayload(payload: Buffer, key: Buffer): PayloadMetadata {
  return {
    sha256_hash: hmac(payload, key),
    version: "stepbox-1",
    serialization_module: "v8",
    node_version: process.version,
    size: payload.byteLength,
  };
}

/** Throws `IntegrityError` unless the metadata is well formed and vouches for exactly these bytes under this key. */
export function verifyPayload(payload: Buffer, metadata: unknown, key: Buffer, what: string): void {
  const m = metadata as Partial<PayloadMetadata> | null | undefined;
  if (
    typeof m !== "object" ||
    m === null ||
    typeof m.sha256_hash !== "string" ||
    !/^[0-9a-f]{64}$/.test(m.sha256_hash) ||
    m.version !== "stepbox-1" ||
    m.serialization_module !== "v8" ||
    typeof m.size !== "number"
  ) {
    throw new IntegrityError(`${what} (its metadata.json is missing or corrupt)`);
  }
  if (m.size !== payload.byteLength) {
    throw new IntegrityError(`${what} (${payload.byteLength} bytes where ${m.size} were written)`);
  }
  const expected = Buffer.from(m.sha256_hash, "hex");
  const actual = Buffer.from(hmac(payload, key), "hex");
  if (!timingSafeEqual(expected, actual)) throw new IntegrityError(what);
}

/** The key of one execution, derived from the master key: a container learns nothing of other executions' keys. */
export function deriveExecutionKey(masterKey: Buffer, executionId: string): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), `stepbox execution ${executionId}`, 32));
}
