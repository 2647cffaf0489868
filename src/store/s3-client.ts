/**
 * One S3 client setup for everything stepbox reads or writes in S3 (the artifact store, s3:// input
 * channels), so that an endpoint, region and credentials that serve one serve the other, and the
 * SDK's errors are read the same way.
 */
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { ValidationError } from "../errors.js";

/** How a client reaches S3. Every field has a default that follows the AWS SDK's own conventions. */
export interface S3ConnectionOptions {
  /**
   * The region to sign requests for.
   * @default `env.AWS_REGION`, else `"us-east-1"`
   */
  region?: string;
  /**
   * An S3-compatible endpoint (MinIO, s3rver...). When one is set, requests use path-style URLs
   * (`http://host/bucket/key`), which such servers expect.
   * @default `env.AWS_ENDPOINT_URL_S3`, else `env.AWS_ENDPOINT_URL`, else AWS itself
   * @example "http://127.0.0.1:9000"
   */
  endpoint?: string;
  /**
   * Fixed credentials or a provider.
   * @default the SDK's standard chain: environment, shared config and SSO profiles, container and instance roles
   */
  credentials?: S3ClientConfig["credentials"];
  /**
   * How many times the SDK tries one request before a fault is reported (network errors, 5xx, throttling).
   * @default 3
   */
  maxAttempts?: number;
  /**
   * How long one connection may move no bytes either way before its request is given up (and retried,
   * up to `maxAttempts`): a server or network that stalls mid-transfer ends in a `StoreError` instead of
   * hanging the run. A reader that stops consuming a `getStream` for this long ends that download too.
   * @default 120000 (2 minutes)
   */
  idleTimeoutMs?: number;
  /**
   * The environment that the defaults above are read from.
   * @default process.env
   */
  env?: NodeJS.ProcessEnv;
}

/** An optional whole-number option, checked: `who` names the constructor in the message. */
export function positiveInteger(who: string, name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new ValidationError(`${who}: ${name} must be a whole number >= ${min}, got ${String(value)}`);
  }
  return value;
}

function checkEndpoint(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined || endpoint === "") return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch (error) {
    throw new ValidationError(`the S3 endpoint ${JSON.stringify(endpoint)} is not a URL`, {
      cause: error,
      hint: "write it as http://host:port, e.g. AWS_ENDPOINT_URL_S3=http://127.0.0.1:9000",
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ValidationError(`the S3 endpoint ${endpoint} is not http or https`, { hint: "e.g. AWS_ENDPOINT_URL_S3=http://127.0.0.1:9000" });
  }
  return endpoint;
}

/** S3 error names that mean the credentials are missing, wrong or not allowed to do this. */
export const CREDENTIAL_FAULTS = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "CredentialsProviderError",
]);

/** Node error codes that mean the endpoint could not be reached or dropped the connection. */
const NETWORK_FAULTS = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

export interface AwsErrorShape {
  name?: string;
  code?: string;
  message?: string;
  cause?: unknown;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** The network error code somewhere in an error's cause chain (AggregateErrors included), if any. */
export function networkCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== "object" || error === null || depth > 8) return undefined;
  const shape = error as AwsErrorShape;
  if (shape.code !== undefined && NETWORK_FAULTS.has(shape.code)) return shape.code;
  if (shape.name === "TimeoutError") return "ETIMEDOUT";
  if (shape.message === "socket hang up" || shape.message === "aborted") return "ECONNRESET";
  for (const inner of [shape.cause, ...(shape.errors ?? [])]) {
    const code = networkCode(inner, depth + 1);
    if (code !== undefined) return code;
  }
  return undefined;
}

/** The S3 SDK's commands and clients. */
export type S3Sdk = typeof import("@aws-sdk/client-s3");

/** The options checked and the endpoint named, now; the SDK and its client, on first use. */
export interface S3Connection {
  /**
   * The SDK and a client made from the options, loaded on the first call: `import("stepbox")` and a
   * process that never touches an s3:// root or channel do not pay for loading the SDK.
   */
  open(): Promise<{ readonly sdk: S3Sdk; readonly client: S3Client }>;
  /** `http://127.0.0.1:9000`, or `AWS S3 (us-east-1)`. */
  readonly endpoint: string;
}

/**
 * Prepares the client: the endpoint from the options or `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`
 * (path-style URLs then, which S3-compatible servers expect), the region from `AWS_REGION`, the
 * credentials from the SDK's chain unless given.
 *
 * @param who the constructor, for option errors (`new S3Store()`)
 * @throws ValidationError for an endpoint that is not an http(s) URL or a bad number
 */
export function connectS3(options: S3ConnectionOptions, who: string): S3Connection {
  const env = options.env ?? process.env;
  const endpoint = checkEndpoint(options.endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL));
  const region = options.region ?? (env.AWS_REGION || "us-east-1");
  const config: S3ClientConfig = {
    region,
    ...(endpoint !== undefined ? { endpoint, forcePathStyle: true } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    maxAttempts: positiveInteger(who, "maxAttempts", options.maxAttempts, 3),
    // The SDK's default (WHEN_SUPPORTED) frames streamed bodies as aws-chunked with a trailing
    // checksum; servers that do not speak it (s3rver, older MinIO) store the framing as the bytes.
    // stepbox checks integrity itself, end to end.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // A black-holed endpoint (no RST) would otherwise hang each attempt for the OS's SYN retries (~2 min),
    // and a connection that stalls after connecting would hang it for good.
    requestHandler: { connectionTimeout: 10_000, socketTimeout: positiveInteger(who, "idleTimeoutMs", options.idleTimeoutMs, 120_000) },
  };
  let opened: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;
  return {
    open: () => (opened ??= import("@aws-sdk/client-s3").then((sdk) => ({ sdk, client: new sdk.S3Client(config) }))),
    endpoint: endpoint ?? `AWS S3 (${region})`,
  };
}
