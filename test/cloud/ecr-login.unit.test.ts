/**
 * The ECR login of `stepbox image push`: the real AWS SDK client calls GetAuthorizationToken on a
 * real local HTTP server that answers as ECR does (AWS JSON 1.1); its token is decoded into the user
 * and password a registry takes, and AWS's errors become CloudErrors naming the call and the fix.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAuthorizationToken, ecrLogin } from "../../src/cloud/ecr-login.js";
import { CloudError } from "../../src/errors.js";
import { startEcrApi, type TestEcrApi } from "../support/ecr-api.js";

const REGISTRY = { accountId: "123456789012", region: "eu-west-3" };
const CREDENTIALS = { accessKeyId: "AKIDTEST", secretAccessKey: "test-secret" };
const PROXY = "https://123456789012.dkr.ecr.eu-west-3.amazonaws.com";

let ecr: TestEcrApi;

beforeAll(async () => {
  ecr = await startEcrApi({ login: { username: "AWS", password: "pass:with:colons", proxyEndpoint: PROXY } });
});

afterAll(async () => {
  await ecr?.close();
});

describe("ecrLogin", () => {
  it("decodes GetAuthorizationToken's AWS:password and keeps the proxy endpoint as the server address, in the URI's region", async () => {
    ecr.answer({ login: { username: "AWS", password: "pass:with:colons", proxyEndpoint: PROXY } });
    const login = await ecrLogin(REGISTRY, { endpoint: ecr.url, credentials: CREDENTIALS });
    expect(login).toMatchObject({ username: "AWS", password: "pass:with:colons", serveraddress: PROXY });
    expect(login.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 11 * 3600_000);
    const request = ecr.requests.at(-1)!;
    expect(request.target).toBe("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken");
    expect(request.region).toBe("eu-west-3");
    expect(JSON.parse(request.body)).toEqual({});
  });

  it("goes to AWS_ENDPOINT_URL_ECR when no endpoint is given", async () => {
    const saved = process.env.AWS_ENDPOINT_URL_ECR;
    process.env.AWS_ENDPOINT_URL_ECR = ecr.url;
    try {
      const before = ecr.requests.length;
      const login = await ecrLogin(REGISTRY, { credentials: CREDENTIALS });
      expect(login.password).toBe("pass:with:colons");
      expect(ecr.requests.length).toBe(before + 1);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_ECR;
      else process.env.AWS_ENDPOINT_URL_ECR = saved;
    }
  });

  it("turns AWS's refusal into a CloudError naming ecr:GetAuthorizationToken and the fix", async () => {
    ecr.answer({ error: "AccessDeniedException", status: 400 });
    const error = await ecrLogin(REGISTRY, { endpoint: ecr.url, credentials: CREDENTIALS, maxAttempts: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloudError);
    expect(error).toMatchObject({ operation: "ecr:GetAuthorizationToken", awsCode: "AccessDeniedException", httpStatus: 400 });
    expect((error as CloudError).detail).toMatch(
      /^ecr:GetAuthorizationToken on the ECR registry of account 123456789012 in eu-west-3 failed: AccessDeniedException/,
    );
    expect((error as CloudError).hint).toMatch(/allow ecr:GetAuthorizationToken/);
  });

  it("refuses a token that is not base64 of user:password", async () => {
    ecr.answer({ token: Buffer.from("no-colon").toString("base64"), proxyEndpoint: PROXY });
    const error = await ecrLogin(REGISTRY, { endpoint: ecr.url, credentials: CREDENTIALS }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloudError);
    expect(error).toMatchObject({ awsCode: "InvalidAuthorizationToken" });
    expect((error as CloudError).hint).toMatch(/AWS_ENDPOINT_URL_ECR/);
  });
});

describe("decodeAuthorizationToken", () => {
  it("splits at the first colon: the password may hold more", () => {
    expect(decodeAuthorizationToken(Buffer.from("AWS:a:b").toString("base64"), "r")).toEqual({ username: "AWS", password: "a:b" });
    expect(() => decodeAuthorizationToken(Buffer.from(":nouser").toString("base64"), "r")).toThrow(CloudError);
    expect(() => decodeAuthorizationToken(Buffer.from("AWS:").toString("base64"), "r")).toThrow(CloudError);
  });
});
