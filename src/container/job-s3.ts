/**
 * S3 as a cloud job reaches it: the AWS SDK with the standard environment (AWS_ENDPOINT_URL_S3 or
 * AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or SageMaker's
 * container credentials, AWS_REGION), path-style URLs when an endpoint is set (S3-compatible servers).
 *
 * Bundled apart from the runner into /opt/stepbox/job-s3.mjs (runtime/docker/image.ts): the SDK is
 * ~1.4 MB of JavaScript, which only a cloud job loads; a step the local engine staged never pays for it.
 */
import { GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";

/** What a cloud job does with S3: whole objects in, whole objects out. */
export interface JobStorage {
  /** The object's bytes; throws `JobStorageError` naming the URI when it cannot be read (missing included). */
  get(uri: string): Promise<Buffer>;
  put(uri: string, body: Buffer | string, contentType?: string): Promise<void>;
  /** Closes the client's connections. */
  close(): void;
}

/** S3 refused or failed a request of the job's; `missing` when the object does not exist. */
export class JobStorageError extends Error {
  override name = "JobStorageError";
  readonly missing: boolean;
  constructor(message: string, options: { cause?: unknown; missing?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.missing = options.missing ?? false;
  }
}

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!match || match[2] === "") throw new JobStorageError(`${JSON.stringify(uri)} is not an s3://bucket/key URI`);
  return { bucket: match[1]!, key: match[2]! };
}

export interface JobStorageOptions {
  /** @default env.AWS_REGION, else env.AWS_DEFAULT_REGION, else "us-east-1" */
  region?: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
}

export function openJobStorage(options: JobStorageOptions = {}): JobStorage {
  const env = options.env ?? process.env;
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const config: S3ClientConfig = {
    region: options.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: 3,
    // Servers that do not speak aws-chunked framing (s3rver, older MinIO) would store it as the bytes;
    // every payload carries its own SHA-256, checked end to end.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
  };
  const client = new S3Client(config);
  const where = endpoint ? ` at ${endpoint}` : "";
  return {
    async get(uri) {
      const { bucket, key } = parseS3Uri(uri);
      try {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from(await response.Body!.transformToByteArray());
      } catch (cause) {
        const name = (cause as { name?: string }).name ?? "Error";
        const missing = name === "NoSuchKey" || (cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
        throw new JobStorageError(`cannot read ${uri}${where}: ${missing ? "it does not exist" : `${name}: ${(cause as Error).message}`}`, {
          cause,
          missing,
        });
      }
    },
    async put(uri, body, contentType) {
      const { bucket, key } = parseS3Uri(uri);
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...(contentType ? { ContentType: contentType } : {}) }));
      } catch (cause) {
        throw new JobStorageError(`cannot write ${uri}${where}: ${(cause as { name?: string }).name ?? "Error"}: ${(cause as Error).message}`, { cause });
      }
    },
    close: () => client.destroy(),
  };
}
