/**
 * The repository URI `stepbox image push` takes, read and checked before anything is built, and how
 * an Amazon ECR registry is told from its host.
 */
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { ecrRegistry, parseRepositoryUri, pushTag } from "../../src/runtime/registry-repository.js";

function refusal(uri: string): ValidationError {
  try {
    parseRepositoryUri(uri);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error(`${uri} was accepted`);
}

describe("parseRepositoryUri", () => {
  it("reads host[:port]/path, with and without a tag", () => {
    expect(parseRepositoryUri("123456789012.dkr.ecr.us-east-1.amazonaws.com/stepbox")).toEqual({
      host: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
      path: "stepbox",
      name: "123456789012.dkr.ecr.us-east-1.amazonaws.com/stepbox",
      tag: undefined,
    });
    expect(parseRepositoryUri("127.0.0.1:5000/team/stepbox:v1.2")).toEqual({
      host: "127.0.0.1:5000",
      path: "team/stepbox",
      name: "127.0.0.1:5000/team/stepbox",
      tag: "v1.2",
    });
    expect(parseRepositoryUri("localhost/a.b_c__d-e")).toMatchObject({ host: "localhost", path: "a.b_c__d-e", tag: undefined });
    expect(parseRepositoryUri("[::1]:5000/stepbox")).toMatchObject({ host: "[::1]:5000", path: "stepbox" });
  });

  it("refuses a URI without a registry host: it would mean Docker Hub", () => {
    for (const uri of ["stepbox", "team/stepbox", "stepbox:v1"]) {
      const error = refusal(uri);
      expect(error.detail).toMatch(/names no registry host/);
      expect(error.hint).toMatch(/put the registry's host first, e\.g\. 123456789012\.dkr\.ecr/);
    }
  });

  it("says what to drop from a URL, a digest or an upper-case path", () => {
    expect(refusal("https://127.0.0.1:5000/stepbox").hint).toBe("leave the scheme out: 127.0.0.1:5000/stepbox");
    const digest = refusal(`127.0.0.1:5000/stepbox@sha256:${"a".repeat(64)}`);
    expect(digest.detail).toMatch(/names a digest/);
    expect(digest.hint).toMatch(/^give the repository alone \(127\.0\.0\.1:5000\/stepbox\)/);
    expect(refusal("127.0.0.1:5000/Team/Stepbox").hint).toBe("repository paths are lower case: 127.0.0.1:5000/team/stepbox");
  });

  it("refuses what Docker's reference grammar does not accept", () => {
    expect(refusal("").detail).toMatch(/is empty/);
    expect(refusal("127.0.0.1:5000/step box").detail).toMatch(/white space/);
    expect(refusal("127.0.0.1:5000/").detail).toMatch(/empty path component/);
    expect(refusal("127.0.0.1:5000/a//b").detail).toMatch(/empty path component/);
    expect(refusal("127.0.0.1:5000/-stepbox").detail).toMatch(/path component, "-stepbox"/);
    expect(refusal("127.0.0.1:5000/stepbox:-v1").detail).toMatch(/tag, "-v1"/);
    expect(refusal("127.0.0.1:5000/stepbox:").detail).toMatch(/tag, ""/);
    expect(refusal("bad_host.example:5000/stepbox").detail).toMatch(/host, "bad_host\.example:5000"/);
    expect(refusal(`registry.example/${"a".repeat(250)}`).detail).toMatch(/longer than the 255/);
  });
});

describe("pushTag", () => {
  const plain = parseRepositoryUri("127.0.0.1:5000/stepbox");
  const tagged = parseRepositoryUri("127.0.0.1:5000/stepbox:v1");

  it("takes the tag asked for, else the URI's, else leaves it to the content hash", () => {
    expect(pushTag(plain, "dev")).toBe("dev");
    expect(pushTag(tagged, undefined)).toBe("v1");
    expect(pushTag(tagged, "v1")).toBe("v1");
    expect(pushTag(plain, undefined)).toBeUndefined();
  });

  it("refuses a bad tag, and two different ones", () => {
    expect(() => pushTag(plain, ".hidden")).toThrow(ValidationError);
    expect(() => pushTag(plain, "x".repeat(129))).toThrow(/not a tag Docker accepts/);
    expect(() => pushTag(tagged, "v2")).toThrow(/names the tag v1, and the tag v2 was asked for too/);
  });
});

describe("ecrRegistry", () => {
  it("reads the account and region of an ECR host", () => {
    expect(ecrRegistry("123456789012.dkr.ecr.us-east-1.amazonaws.com")).toEqual({ accountId: "123456789012", region: "us-east-1" });
    expect(ecrRegistry("123456789012.dkr.ecr.eu-central-1.amazonaws.com")).toEqual({ accountId: "123456789012", region: "eu-central-1" });
    expect(ecrRegistry("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com")).toEqual({ accountId: "123456789012", region: "us-gov-west-1" });
    expect(ecrRegistry("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")).toEqual({ accountId: "123456789012", region: "cn-north-1" });
  });

  it("is undefined for any other registry", () => {
    for (const host of [
      "127.0.0.1:5000",
      "localhost",
      "registry.example.com",
      "12345.dkr.ecr.us-east-1.amazonaws.com",
      "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
      "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000",
      "public.ecr.aws",
    ]) {
      expect(ecrRegistry(host)).toBeUndefined();
    }
  });
});
