import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { IntegrityError } from "../../src/errors.js";
import { checkDigest, checkDigestText, digestOf } from "../../src/serialization/digest.js";

describe("payload digests", () => {
  const bytes = Buffer.from("the payload");

  it("are the SHA-256 and size of the bytes", () => {
    expect(digestOf(bytes)).toEqual({ sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.byteLength });
  });

  it("accept the bytes they were made from", () => {
    expect(() => checkDigest(bytes, digestOf(bytes), "the payload")).not.toThrow();
    expect(() => checkDigestText(bytes, JSON.stringify(digestOf(bytes)), "the payload")).not.toThrow();
  });

  it.each([
    ["a truncated payload", Buffer.from("the pay"), digestOf(bytes), /7 bytes where 11 were written/],
    ["other bytes of the same size", Buffer.from("the paylord"), digestOf(bytes), /SHA-256 is not the one written with it/],
    ["a digest that is not one", bytes, { sha256: "zz", size: 11 }, /metadata.json is missing or not a digest/],
    ["no digest", bytes, null, /metadata.json is missing or not a digest/],
  ])("refuse %s, naming what was checked", (_, payload, metadata, problem) => {
    expect(() => checkDigest(payload, metadata, 'the result of step "train"')).toThrow(IntegrityError);
    expect(() => checkDigest(payload, metadata, 'the result of step "train"')).toThrow(problem);
    expect(() => checkDigest(payload, metadata, 'the result of step "train"')).toThrow(/the result of step "train"/);
  });

  it("refuse metadata that is not JSON", () => {
    expect(() => checkDigestText(bytes, "{torn", "the arguments")).toThrow(IntegrityError);
  });
});
