import { IntegrityError, NotFoundError, StoreError } from "../errors.js";
import { deserialize } from "../serialization/codec.js";
import { verifySignedJobPayload } from "../serialization/asymmetric-signing.js";
import { isJson } from "../serialization/pipeline-references.js";
import { signPayload, verifyPayload } from "../serialization/signing.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { layout, type PayloadKind } from "../store/layout.js";

/** Where a step's payload lives: which execution, which step, which kind. */
export interface PayloadAddress {
  readonly pipeline: string;
  readonly execution: string;
  readonly step: string;
  readonly kind: PayloadKind;
}

/** Stores a serialized payload and its HMAC; the metadata is written last, so it only ever vouches for a whole payload. */
export async function writePayload(store: ArtifactStore, at: PayloadAddress, payload: Buffer, key: Buffer): Promise<void> {
  const keys = layout.payload(at.pipeline, at.execution, at.step, at.kind);
  await store.put(keys.payload, payload);
  await store.put(keys.metadata, JSON.stringify(signPayload(payload, key)));
}

/** How a payload is vouched for: an HMAC under a key of this machine, or the client's ECDSA signature (its public key's PEM). */
export type PayloadCheck = { readonly hmacKey: Buffer } | { readonly publicKey: string };

/**
 * A payload and the `metadata.json` beside it, refused unless the metadata vouches for exactly these
 * bytes as `check` says; `missing` makes the error for a payload that is not there.
 */
export async function readVerifiedAt(
  store: ArtifactStore,
  keys: { readonly payload: string; readonly metadata: string },
  check: PayloadCheck,
  what: string,
  missing: (cause: NotFoundError) => Error,
): Promise<Buffer> {
  let payload: Buffer;
  let metadataBytes: Buffer;
  try {
    [payload, metadataBytes] = await Promise.all([store.get(keys.payload), store.get(keys.metadata)]);
  } catch (error) {
    if (error instanceof NotFoundError) throw missing(error);
    throw error;
  }
  let metadata: unknown;
  try {
    metadata = JSON.parse(metadataBytes.toString("utf8"));
  } catch (cause) {
    throw new IntegrityError(what, { cause });
  }
  if ("publicKey" in check) verifySignedJobPayload(payload, metadata, check.publicKey, what);
  else verifyPayload(payload, metadata, check.hmacKey, what);
  return payload;
}

/** A step's payload in an execution, refused unless its HMAC checks out under the key. */
function readVerifiedBytes(store: ArtifactStore, at: PayloadAddress, key: Buffer): Promise<Buffer> {
  const what = `the ${at.kind} of step "${at.step}" in execution ${at.execution}`;
  return readVerifiedAt(store, layout.payload(at.pipeline, at.execution, at.step, at.kind), { hmacKey: key }, what, (cause) => {
    return new StoreError(`${what} is missing from ${store.uri}`, { cause, hint: "run the step again" });
  });
}

/** Reads a payload, refuses it unless its HMAC checks out, and deserializes it. */
export async function readPayload(store: ArtifactStore, at: PayloadAddress, key: Buffer): Promise<unknown> {
  return deserialize(await readVerifiedBytes(store, at, key));
}

/** Where a step's result lives. */
export interface StepAddress {
  readonly pipeline: string;
  readonly execution: string;
  readonly step: string;
}

/**
 * Copies a step's result from another execution: verified under the source's key, then signed
 * under the target's, so every execution's payloads check out with its own key.
 */
export async function copyResult(
  store: ArtifactStore,
  from: StepAddress,
  fromKey: Buffer,
  to: StepAddress,
  toKey: Buffer,
  options: { readonly json: boolean },
): Promise<void> {
  const payload = await readVerifiedBytes(store, { ...from, kind: "results" }, fromKey);
  await writePayload(store, { ...to, kind: "results" }, payload, toKey);
  if (options.json) await writeResultsJson(store, to, payload);
}

/**
 * `results.json` beside a step's result, as the SDK's `--serialize_output_to_json` writes it: what
 * conditions and Fail messages read with `Std:JsonGet`. A result JSON cannot carry is named, not lost.
 */
export async function writeResultsJson(store: ArtifactStore, at: StepAddress, payload: Buffer): Promise<void> {
  const value = deserialize(payload);
  const body = isJson(value)
    ? { Result: value, Exception: null }
    : { Result: null, Exception: `The function return (${describeValue(value)}) is not JSON serializable.` };
  await store.put(layout.resultsJson(at.pipeline, at.execution, at.step), JSON.stringify(body));
}

function describeValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value !== "object" || value === null) return String(value);
  return Object.getPrototypeOf(value)?.constructor?.name ?? "object";
}
