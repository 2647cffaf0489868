import { IntegrityError, NotFoundError, StoreError } from "../errors.js";
import { deserialize } from "../serialization/codec.js";
import { digestJobPayload, JOB_PUBLIC_KEY_ENV, verifyJobPayloadDigest, verifySignedJobPayload } from "../serialization/asymmetric-signing.js";
import type { DefinedStep } from "../definition/model.js";
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

/**
 * How the engine vouches for what a step returns: an HMAC under the execution's key, or, for a step
 * whose function and arguments a client signed (a cloud session), its SHA-256 alone, as a SageMaker job
 * writes it: that client holds no key of this machine and checks the digest.
 */
export type PayloadSeal = { readonly hmacKey: Buffer } | { readonly digest: true };

/** How a payload is checked: as it was sealed, or against the client's ECDSA signature (its public key's PEM). */
export type PayloadCheck = PayloadSeal | { readonly publicKey: string };

/** Whether a client signed the step's function and arguments: its job's Environment gives the public key. */
export function isClientSigned(step: DefinedStep | undefined): boolean {
  if (step?.type !== "Training") return false;
  const environment = step.arguments.Environment;
  return typeof environment === "object" && environment !== null && !Array.isArray(environment) && JOB_PUBLIC_KEY_ENV in environment;
}

/** The seal of a step's results and error: the digest for a client-signed step, else the HMAC under `key`. */
export function stepSeal(step: DefinedStep | undefined, key: Buffer): PayloadSeal {
  return isClientSigned(step) ? { digest: true } : { hmacKey: key };
}

function sealed(payload: Buffer, seal: PayloadSeal): object {
  return "digest" in seal ? digestJobPayload(payload) : signPayload(payload, seal.hmacKey);
}

/** Stores a serialized payload and its seal; the metadata is written last, so it only ever vouches for a whole payload. */
export async function writePayload(store: ArtifactStore, at: PayloadAddress, payload: Buffer, seal: PayloadSeal): Promise<void> {
  const keys = layout.payload(at.pipeline, at.execution, at.step, at.kind);
  await store.put(keys.payload, payload);
  await store.put(keys.metadata, JSON.stringify(sealed(payload, seal)));
}

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
  else if ("digest" in check) verifyJobPayloadDigest(payload, metadata, what);
  else verifyPayload(payload, metadata, check.hmacKey, what);
  return payload;
}

/** A step's payload in an execution, refused unless its seal checks out. */
function readVerifiedBytes(store: ArtifactStore, at: PayloadAddress, seal: PayloadSeal): Promise<Buffer> {
  const what = `the ${at.kind} of step "${at.step}" in execution ${at.execution}`;
  return readVerifiedAt(store, layout.payload(at.pipeline, at.execution, at.step, at.kind), seal, what, (cause) => {
    return new StoreError(`${what} is missing from ${store.uri}`, { cause, hint: "run the step again" });
  });
}

/** Reads a payload, refuses it unless its seal checks out, and deserializes it. */
export async function readPayload(store: ArtifactStore, at: PayloadAddress, seal: PayloadSeal): Promise<unknown> {
  return deserialize(await readVerifiedBytes(store, at, seal));
}

/** Where a step's result lives. */
export interface StepAddress {
  readonly pipeline: string;
  readonly execution: string;
  readonly step: string;
}

/**
 * Copies a step's result from another execution: verified as the source sealed it, then sealed for
 * the target, so every execution's payloads check out with its own key.
 */
export async function copyResult(
  store: ArtifactStore,
  from: StepAddress,
  fromSeal: PayloadSeal,
  to: StepAddress,
  toSeal: PayloadSeal,
  options: { readonly json: boolean },
): Promise<void> {
  const payload = await readVerifiedBytes(store, { ...from, kind: "results" }, fromSeal);
  await writePayload(store, { ...to, kind: "results" }, payload, toSeal);
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
