/**
 * Integrity of the payloads a job exchanges with its client, without a shared secret, as the SageMaker
 * SDK (v3.8+) does it: what the client sends to a job (the function, the arguments) is signed with an
 * ECDSA P-256 private key that only the client holds, one per pipeline definition build; the job gets
 * the PUBLIC key, in its environment (`REMOTE_FUNCTION_SECRET_KEY`, the SDK's name), which anyone may
 * read through DescribeTrainingJob without being able to sign. What a job returns (results, exception)
 * carries only its SHA-256: the job holds no key to sign with.
 *
 * `metadata.json` beside each payload:
 * `{"sha256_hash": hex, "version": "2023-04-24", "asymmetric_signature": base64 DER, "serialization_module": "stepbox-v8"}`
 * (no `asymmetric_signature` on what a job returns).
 *
 * Node builtins only: the container runner imports it.
 */
import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from "node:crypto";
import { PayloadSignatureError } from "../errors.js";

/** The job environment variable that carries the public key PEM (the SDK's name, though the key is not secret). */
export const JOB_PUBLIC_KEY_ENV = "REMOTE_FUNCTION_SECRET_KEY";

/** The metadata format's version, as the SDK writes it. */
export const JOB_METADATA_VERSION = "2023-04-24";
/** stepbox's payloads are V8 serializations (serialization/codec.ts), not cloudpickle. */
export const JOB_SERIALIZATION_MODULE = "stepbox-v8";

/** What `metadata.json` holds beside a payload a job returns: its digest only. */
export interface JobPayloadDigest {
  /** SHA-256 of the payload, in hex. */
  readonly sha256_hash: string;
  readonly version: typeof JOB_METADATA_VERSION;
  readonly serialization_module: typeof JOB_SERIALIZATION_MODULE;
}

/** What `metadata.json` holds beside a payload sent to a job: its digest and the client's signature of it. */
export interface SignedJobPayload extends JobPayloadDigest {
  /** ECDSA P-256 / SHA-256 signature of the payload bytes, DER, base64. */
  readonly asymmetric_signature: string;
}

/** The key pair of one definition build: the private half stays with the client, the public PEM goes to the job. */
export interface JobSigningKey {
  readonly privateKey: KeyObject;
  /** SPKI PEM ("-----BEGIN PUBLIC KEY-----"), the value of `REMOTE_FUNCTION_SECRET_KEY`. */
  readonly publicKeyPem: string;
}

/** P-256's group order: a private scalar must be in [1, n-1]. */
const P256_ORDER = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

function keyPair(privateKey: KeyObject): JobSigningKey {
  return { privateKey, publicKeyPem: createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString() };
}

/** A fresh random key pair: one per definition build when nothing needs to make the same build again. */
export function generateJobSigningKey(): JobSigningKey {
  return keyPair(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey);
}

/** A P-256 private key from its scalar `d` and its public point, 0x04 || x (32 bytes) || y (32 bytes). */
function privateKeyFromScalar(d: Buffer, uncompressedPoint: Buffer): KeyObject {
  const jwk = {
    kty: "EC",
    crv: "P-256",
    d: d.toString("base64url"),
    x: uncompressedPoint.subarray(1, 33).toString("base64url"),
    y: uncompressedPoint.subarray(33, 65).toString("base64url"),
  };
  return createPrivateKey({ key: jwk, format: "jwk" });
}

/**
 * The key pair of one definition build, derived from a client secret (the host's master key) and the
 * build's identity: the same build gets the same public key, so its definition has the same bytes
 * every time, and the private half never needs to be stored. Different builds get unrelated keys.
 */
export function deriveJobSigningKey(secret: Buffer, build: string): JobSigningKey {
  if (secret.byteLength < 16) throw new RangeError("deriveJobSigningKey: the secret must be at least 16 bytes");
  for (let counter = 0; ; counter++) {
    const d = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), `stepbox job signing key\0${build}\0${counter}`, 32));
    const scalar = BigInt(`0x${d.toString("hex")}`);
    // Out of range with probability ~2^-32: the next counter gives another candidate.
    if (scalar === 0n || scalar >= P256_ORDER) continue;
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(d);
    return keyPair(privateKeyFromScalar(d, ecdh.getPublicKey()));
  }
}

const sha256Hex = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

/** The metadata of a payload a job returns (results, exception): its SHA-256. */
export function digestJobPayload(payload: Buffer): JobPayloadDigest {
  return { sha256_hash: sha256Hex(payload), version: JOB_METADATA_VERSION, serialization_module: JOB_SERIALIZATION_MODULE };
}

/** The metadata of a payload sent to a job (function, arguments): its SHA-256 and the client's signature. */
export function signJobPayload(payload: Buffer, key: JobSigningKey | KeyObject): SignedJobPayload {
  const privateKey = "privateKey" in key ? key.privateKey : key;
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ec") {
    throw new TypeError("signJobPayload: the key must be an ECDSA P-256 private key (see generateJobSigningKey)");
  }
  return { ...digestJobPayload(payload), asymmetric_signature: sign("sha256", payload, privateKey).toString("base64") };
}

/**
 * The job's public key from its PEM, refused unless it is a P-256 public key: a private key there would
 * put the signing secret in the job's environment, where anyone who can describe the job reads it.
 */
export function parseJobPublicKey(pem: string | undefined): KeyObject {
  if (pem === undefined || pem.trim() === "") {
    throw new PayloadSignatureError("the job's public key", `${JOB_PUBLIC_KEY_ENV} is not set in the job's environment`);
  }
  if (!pem.includes("-----BEGIN PUBLIC KEY-----")) {
    throw new PayloadSignatureError("the job's public key", `${JOB_PUBLIC_KEY_ENV} is not a PEM public key ("-----BEGIN PUBLIC KEY-----")`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new PayloadSignatureError("the job's public key", `${JOB_PUBLIC_KEY_ENV} cannot be read as a PEM public key`, { cause });
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new PayloadSignatureError("the job's public key", `${JOB_PUBLIC_KEY_ENV} is not an ECDSA P-256 key`);
  }
  return key;
}

/** Throws `PayloadSignatureError` unless `metadata` is a well-formed digest of exactly these bytes. */
export function verifyJobPayloadDigest(payload: Buffer, metadata: unknown, what: string): void {
  const m = metadataFields(metadata, what);
  const actual = Buffer.from(sha256Hex(payload), "hex");
  if (!timingSafeEqual(Buffer.from(m.sha256_hash, "hex"), actual)) throw new PayloadSignatureError(what, "its SHA-256 is not the one in metadata.json");
}

/**
 * Throws `PayloadSignatureError` unless `metadata` carries this payload's digest and a signature of it
 * that verifies under `publicKey` (a KeyObject from `parseJobPublicKey`, or its PEM).
 */
export function verifySignedJobPayload(payload: Buffer, metadata: unknown, publicKey: KeyObject | string, what: string): void {
  verifyJobPayloadDigest(payload, metadata, what);
  const signature = (metadata as Partial<SignedJobPayload>).asymmetric_signature;
  if (typeof signature !== "string" || signature === "") throw new PayloadSignatureError(what, "its metadata.json has no asymmetric_signature");
  const key = typeof publicKey === "string" ? parseJobPublicKey(publicKey) : publicKey;
  if (!verify("sha256", payload, key, Buffer.from(signature, "base64"))) {
    throw new PayloadSignatureError(what, "its signature does not verify under the job's public key");
  }
}

/** `metadata.json` as read, parsed: text that is not JSON is corrupt metadata. */
export function parseJobMetadata(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new PayloadSignatureError(what, "its metadata.json is not JSON", { cause });
  }
}

function metadataFields(metadata: unknown, what: string): JobPayloadDigest {
  if (typeof metadata !== "object" || metadata === null) throw new PayloadSignatureError(what, "its metadata.json is missing or not an object");
  const m = metadata as Record<string, unknown>;
  // 64 hex digits: anything else would decode to a buffer of another length, which timingSafeEqual throws on.
  if (typeof m.sha256_hash !== "string" || !/^[0-9a-f]{64}$/.test(m.sha256_hash)) {
    throw new PayloadSignatureError(what, "its metadata.json has no sha256_hash");
  }
  if (m.version !== JOB_METADATA_VERSION || m.serialization_module !== JOB_SERIALIZATION_MODULE) {
    throw new PayloadSignatureError(
      what,
      `its metadata.json is of another format (version ${String(m.version)}, serialization_module ${String(m.serialization_module)})`,
    );
  }
  return m as unknown as JobPayloadDigest;
}
