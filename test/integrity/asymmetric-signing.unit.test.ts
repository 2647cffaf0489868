import { createHash, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PayloadSignatureError } from "../../src/errors.js";
import {
  deriveJobSigningKey,
  digestJobPayload,
  generateJobSigningKey,
  parseJobPublicKey,
  signJobPayload,
  verifyJobPayloadDigest,
  verifySignedJobPayload,
} from "../../src/serialization/asymmetric-signing.js";

const SDK_MESSAGE = "Integrity check for the serialized function or data failed. Please restrict access to your S3 bucket";

describe("payloads sent to a job", () => {
  const key = generateJobSigningKey();
  const payload = Buffer.from("export const step = 1;");

  it("carry the SDK's metadata: digest, version, a base64 ECDSA signature and stepbox's serialization", () => {
    const metadata = signJobPayload(payload, key);
    expect(Object.keys(metadata).sort()).toEqual(["asymmetric_signature", "serialization_module", "sha256_hash", "version"]);
    expect(metadata.sha256_hash).toBe(createHash("sha256").update(payload).digest("hex"));
    expect(metadata.version).toBe("2023-04-24");
    expect(metadata.serialization_module).toBe("stepbox-v8");
    // A DER ECDSA signature of the bytes, verifiable by anyone with the public key alone.
    expect(verify("sha256", payload, createPublicKey(key.publicKeyPem), Buffer.from(metadata.asymmetric_signature, "base64"))).toBe(true);
  });

  it("verify under the public key, as the job gets it (PEM) and parsed", () => {
    const metadata = signJobPayload(payload, key);
    expect(() => verifySignedJobPayload(payload, metadata, key.publicKeyPem, "the step's function")).not.toThrow();
    expect(() => verifySignedJobPayload(payload, JSON.parse(JSON.stringify(metadata)), parseJobPublicKey(key.publicKeyPem), "the function")).not.toThrow();
  });

  const refused: Array<[string, () => void, RegExp]> = [
    [
      "a tampered payload",
      () => {
        const tampered = Buffer.from(payload);
        tampered[3]! ^= 0x01;
        verifySignedJobPayload(tampered, signJobPayload(payload, key), key.publicKeyPem, "the step's function");
      },
      /SHA-256 is not the one in metadata.json/,
    ],
    [
      "a payload re-hashed by someone without the key",
      () => {
        const tampered = Buffer.from("export const step = 2;");
        const metadata = { ...signJobPayload(payload, key), sha256_hash: createHash("sha256").update(tampered).digest("hex") };
        verifySignedJobPayload(tampered, metadata, key.publicKeyPem, "the step's function");
      },
      /signature does not verify/,
    ],
    [
      "a payload signed with another key",
      () => verifySignedJobPayload(payload, signJobPayload(payload, generateJobSigningKey()), key.publicKeyPem, "the step's function"),
      /signature does not verify under the job's public key/,
    ],
    [
      "a payload with a digest but no signature",
      () => verifySignedJobPayload(payload, digestJobPayload(payload), key.publicKeyPem, "the step's function"),
      /no asymmetric_signature/,
    ],
    ["no metadata", () => verifySignedJobPayload(payload, undefined, key.publicKeyPem, "the step's function"), /missing or not an object/],
    [
      "metadata of another format",
      () => verifySignedJobPayload(payload, { ...signJobPayload(payload, key), serialization_module: "cloudpickle" }, key.publicKeyPem, "the step's function"),
      /another format/,
    ],
    [
      "no public key in the job's environment",
      () => verifySignedJobPayload(payload, signJobPayload(payload, key), "", "the step's function"),
      /REMOTE_FUNCTION_SECRET_KEY is not set/,
    ],
    [
      "a private key where the public key should be",
      () =>
        verifySignedJobPayload(
          payload,
          signJobPayload(payload, key),
          key.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
          "the step's function",
        ),
      /not a PEM public key/,
    ],
    [
      "a public key of another kind",
      () =>
        verifySignedJobPayload(
          payload,
          signJobPayload(payload, key),
          generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }).toString(),
          "the step's function",
        ),
      /not an ECDSA P-256 key/,
    ],
  ];

  it.each(refused)("refuse %s with the SDK's integrity message", (_, check, reason) => {
    expect(check).toThrow(PayloadSignatureError);
    expect(check).toThrow(SDK_MESSAGE);
    expect(check).toThrow(reason);
    expect(check).toThrow(/the step's function|the job's public key/);
    try {
      check();
    } catch (error) {
      expect((error as PayloadSignatureError).code).toBe("INTEGRITY");
    }
  });
});

describe("payloads a job returns", () => {
  const payload = Buffer.from([1, 2, 3, 4]);

  it("carry only their SHA-256: the job has no key", () => {
    const metadata = digestJobPayload(payload);
    expect(metadata).toEqual({ sha256_hash: createHash("sha256").update(payload).digest("hex"), version: "2023-04-24", serialization_module: "stepbox-v8" });
    expect(() => verifyJobPayloadDigest(payload, metadata, "the result of step train")).not.toThrow();
  });

  it("are refused when altered", () => {
    const check = () => verifyJobPayloadDigest(Buffer.from([1, 2, 3, 5]), digestJobPayload(payload), "the result of step train");
    expect(check).toThrow(PayloadSignatureError);
    expect(check).toThrow(/the result of step train: its SHA-256 is not the one in metadata.json/);
  });
});

describe("a definition build's key", () => {
  const secret = Buffer.alloc(32, 7);

  it("is derived the same for the same build, so the definition keeps its bytes", () => {
    expect(deriveJobSigningKey(secret, "0123456789abcdef").publicKeyPem).toBe(deriveJobSigningKey(secret, "0123456789abcdef").publicKeyPem);
    expect(deriveJobSigningKey(secret, "0123456789abcdef").publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
  });

  it("differs between builds and between secrets", () => {
    const keys = [deriveJobSigningKey(secret, "a"), deriveJobSigningKey(secret, "b"), deriveJobSigningKey(Buffer.alloc(32, 8), "a")];
    expect(new Set(keys.map((k) => k.publicKeyPem)).size).toBe(3);
  });

  it("signs what its public half verifies, and nothing another build's does", () => {
    const payload = Buffer.from("arguments");
    const a = deriveJobSigningKey(secret, "a");
    expect(() => verifySignedJobPayload(payload, signJobPayload(payload, a), a.publicKeyPem, "the arguments")).not.toThrow();
    expect(() => verifySignedJobPayload(payload, signJobPayload(payload, a), deriveJobSigningKey(secret, "b").publicKeyPem, "the arguments")).toThrow(
      PayloadSignatureError,
    );
  });

  it("refuses a short secret", () => {
    expect(() => deriveJobSigningKey(Buffer.alloc(8), "a")).toThrow(/at least 16 bytes/);
  });
});
