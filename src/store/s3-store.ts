import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { GetObjectCommandOutput, ListObjectsV2CommandOutput } from "@aws-sdk/client-s3";
import { IntegrityError, NotFoundError, StepboxError, StoreError, ValidationError } from "../errors.js";
import type { ArtifactStore } from "./artifact-store.js";
import { assertValidKey, assertValidPrefix } from "./keys.js";
import { connectS3, CREDENTIAL_FAULTS, networkCode, positiveInteger, type AwsErrorShape, type S3Connection, type S3ConnectionOptions } from "./s3-client.js";

export type { S3ConnectionOptions } from "./s3-client.js";

const MiB = 1024 * 1024;

/** User metadata (`x-amz-meta-*`) that every object carries so that a read can prove it whole. */
const META_SHA256 = "stepbox-sha256";
const META_SIZE = "stepbox-size";

/**
 * How every spool file's name starts: `stepbox-<pid>-<host tag>-upload-`, the form runtime/temp-paths.ts
 * gives stepbox's temp paths, so that a session started after this process was killed removes the spool
 * files it left in the temp folder. The store may import no other layer, hence this copy;
 * test/runtime/temp-sweep.test.ts checks that the sweep knows it.
 */
const SPOOL_PREFIX = `stepbox-${process.pid}-${createHash("sha256").update(hostname()).digest("hex").slice(0, 8)}-upload-`;

/** S3's own floor for a multipart part (all but the last). */
const MIN_PART_BYTES = 5 * MiB;

/** S3 bucket naming rules (3-63 lowercase letters, digits, dots and hyphens, alphanumeric at both ends). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** How the store writes to S3, besides how it reaches it. */
export interface S3StoreTuning {
  /**
   * The size of one multipart part; objects up to this size go up in one PUT. At least 5 MiB.
   * @default 8 MiB
   */
  partSizeBytes?: number;
  /**
   * How many parts of one object upload at once. Memory per upload is about `partSizeBytes * (queueSize + 1)`.
   * @default 4
   */
  queueSize?: number;
  /**
   * Where `putStream` spools a stream while hashing it, before uploading it (see {@link S3Store.putStream}).
   * @default `os.tmpdir()`
   */
  spoolDir?: string;
}

export interface S3StoreOptions extends S3ConnectionOptions, S3StoreTuning {
  /** The bucket; it must exist. */
  bucket: string;
  /**
   * The folder inside the bucket that holds the store: the store's key `a/b` is the object `<prefix>/a/b`.
   * @default "" (the bucket's root)
   */
  prefix?: string;
}

type Action = "read" | "write" | "list" | "delete";

/**
 * An artifact store in an S3 bucket (or an S3-compatible server such as MinIO): the key `a/b` is the
 * object `<prefix>/a/b`, so the layout matches the file store's folder for folder.
 *
 * Every object carries its byte count and SHA-256 in user metadata (`x-amz-meta-stepbox-size`,
 * `x-amz-meta-stepbox-sha256`), and every read checks both, so an object that was truncated or altered
 * outside stepbox is refused with an `IntegrityError` instead of being used.
 *
 * Writes are atomic by S3's own guarantee: a PUT or a completed multipart upload replaces the object
 * whole; a failed upload is aborted and leaves the previous object (or none).
 */
export class S3Store implements ArtifactStore {
  readonly uri: string;
  readonly bucket: string;
  /** The folder inside the bucket, without slashes at either end; `""` for the bucket's root. */
  readonly prefix: string;
  readonly #s3: S3Connection;
  /** The endpoint as messages name it. */
  readonly #endpoint: string;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #spoolDir: string;

  constructor(options: S3StoreOptions) {
    const { bucket, prefix = "" } = options;
    if (typeof bucket !== "string" || !BUCKET_NAME.test(bucket) || bucket.includes("..")) {
      throw new ValidationError(`new S3Store(): ${JSON.stringify(bucket)} is not a valid S3 bucket name`, {
        hint: "bucket names are 3-63 lowercase letters, digits, dots and hyphens, e.g. s3://stepbox/runs",
      });
    }
    const trimmed = prefix.replace(/^\/+|\/+$/g, "");
    try {
      assertValidPrefix(trimmed);
    } catch (error) {
      throw new ValidationError(`new S3Store(): the prefix ${JSON.stringify(prefix)} is not a valid folder inside the bucket`, {
        cause: error,
        hint: "write it as segments separated by single slashes, e.g. s3://stepbox/runs/team-a",
      });
    }
    const s3 = connectS3(options, "new S3Store()");
    this.bucket = bucket;
    this.prefix = trimmed;
    this.uri = `s3://${bucket}${trimmed === "" ? "" : `/${trimmed}`}`;
    this.#s3 = s3;
    this.#endpoint = s3.endpoint;
    this.#partSize = positiveInteger("new S3Store()", "partSizeBytes", options.partSizeBytes, 8 * MiB, MIN_PART_BYTES);
    this.#queueSize = positiveInteger("new S3Store()", "queueSize", options.queueSize, 4);
    this.#spoolDir = options.spoolDir ?? tmpdir();
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    assertValidKey(key);
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    await this.#upload(key, bytes, bytes.length, createHash("sha256").update(bytes).digest("hex"));
  }

  /**
   * S3 takes user metadata before the first byte, and the SHA-256 is known only after the last, so the
   * stream is first spooled to a temp file in `spoolDir` (hashed on the way), then streamed up from
   * that file. Memory stays bounded by the upload's parts; the spool file is removed in every case.
   */
  async putStream(key: string, body: Readable): Promise<{ bytes: number }> {
    assertValidKey(key);
    const spool = join(this.#spoolDir, `${SPOOL_PREFIX}${randomBytes(6).toString("hex")}.spool`);
    let sourceError: unknown;
    body.once("error", (error) => {
      sourceError = error;
    });
    try {
      const hash = createHash("sha256");
      let bytes = 0;
      const hasher = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          bytes += chunk.length;
          done(null, chunk);
        },
      });
      try {
        await pipeline(body, hasher, createWriteStream(spool, { flags: "wx", mode: 0o600 }));
      } catch (error) {
        if (sourceError !== undefined && error === sourceError) throw error;
        throw new StoreError(`cannot spool ${key} to ${this.#spoolDir} before uploading it to ${this.#where(key)}`, {
          cause: error,
          hint: "free some space there, or set spoolDir (or TMPDIR) to a folder with room for the object",
        });
      }
      const file = createReadStream(spool, { highWaterMark: MiB });
      try {
        await this.#upload(key, file, bytes, hash.digest("hex"));
      } finally {
        file.destroy();
      }
      return { bytes };
    } finally {
      await rm(spool, { force: true });
    }
  }

  async get(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.getStream(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * The stream checks the object's size and SHA-256 as it flows: a wrong size is refused before the
   * first byte when S3 reports it, and a wrong hash makes the stream fail with an `IntegrityError` at
   * its end, after the bytes went by. Consumers that act on the data only once the stream ended
   * (`stream/promises.pipeline`, then use) never act on a bad object.
   */
  async getStream(key: string): Promise<Readable> {
    assertValidKey(key);
    const { sdk, client } = await this.#s3.open();
    let response: GetObjectCommandOutput;
    try {
      response = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.#objectKey(key) }));
    } catch (error) {
      if ((error as AwsErrorShape).name === "NoSuchKey") throw new NotFoundError(key, this.uri);
      throw this.#fault(error, "read", key);
    }
    const body = response.Body;
    if (!(body instanceof Readable)) {
      throw new StoreError(`cannot read ${this.#where(key)}: the S3 client returned no Node stream`);
    }
    const sha256 = response.Metadata?.[META_SHA256];
    const sizeText = response.Metadata?.[META_SIZE];
    const size = sizeText !== undefined && /^\d+$/.test(sizeText) ? Number(sizeText) : undefined;
    if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256) || size === undefined) {
      body.destroy();
      throw new IntegrityError(`${this.#where(key)} (it has no stepbox size and SHA-256 metadata, so it was not written by stepbox)`);
    }
    if (response.ContentLength !== undefined && response.ContentLength !== size) {
      body.destroy();
      throw new IntegrityError(`${this.#where(key)} (it has ${response.ContentLength} bytes, stepbox wrote ${size})`);
    }
    return this.#verified(key, body, size, sha256);
  }

  async exists(key: string): Promise<boolean> {
    assertValidKey(key);
    const objectKey = this.#objectKey(key);
    // A listing, not a HEAD: a HEAD answers a bare 404 for a missing bucket too, which would read as
    // "absent" instead of reporting the bucket. The key sorts first among keys it prefixes.
    const page = await this.#listPage({ Prefix: objectKey, MaxKeys: 1 }, "list", key);
    return page.Contents?.[0]?.Key === objectKey;
  }

  async list(prefix: string): Promise<string[]> {
    assertValidPrefix(prefix);
    const objectKeys = await this.#objectKeysUnder(prefix);
    const keys = objectKeys.map((objectKey) => objectKey.slice(this.#rootPrefix().length)).filter(isStoreKey);
    return [...new Set(keys)].sort();
  }

  async listChildren(prefix: string): Promise<string[]> {
    assertValidPrefix(prefix);
    const folder = this.#folderPrefix(prefix);
    const names = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.#listPage({ Prefix: folder, Delimiter: "/", ContinuationToken: token }, "list", prefix);
      for (const common of page.CommonPrefixes ?? []) names.add((common.Prefix ?? "").slice(folder.length, -1));
      for (const object of page.Contents ?? []) names.add((object.Key ?? "").slice(folder.length));
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return [...names].filter(isStoreKey).sort();
  }

  async deletePrefix(prefix: string): Promise<void> {
    assertValidKey(prefix);
    const objectKeys = await this.#objectKeysUnder(prefix);
    // S3 deletes at most 1000 keys per request.
    for (let start = 0; start < objectKeys.length; start += 1000) {
      const batch = objectKeys.slice(start, start + 1000);
      let errors: Array<{ Key?: string; Code?: string; Message?: string }>;
      const { sdk, client } = await this.#s3.open();
      try {
        const result = await client.send(
          new sdk.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        );
        errors = result.Errors ?? [];
      } catch (error) {
        throw this.#fault(error, "delete", prefix);
      }
      const first = errors[0];
      if (first !== undefined) {
        throw new StoreError(
          `cannot delete ${errors.length} object(s) under ${this.#where(prefix)}, e.g. ${first.Key ?? "?"}: ${first.Code ?? "error"} ${first.Message ?? ""}`.trimEnd(),
          { hint: "check that the credentials may delete objects in the bucket (s3:DeleteObject), then delete again" },
        );
      }
    }
  }

  /** Every object key at the prefix itself or under `<prefix>/`; the whole store for `""`. */
  async #objectKeysUnder(prefix: string): Promise<string[]> {
    const folder = this.#folderPrefix(prefix);
    const keys: string[] = [];
    if (prefix !== "" && (await this.exists(prefix))) keys.push(this.#objectKey(prefix));
    let token: string | undefined;
    do {
      const page = await this.#listPage({ Prefix: folder, ContinuationToken: token }, "list", prefix);
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  }

  async #listPage(
    input: { Prefix: string; MaxKeys?: number; Delimiter?: string; ContinuationToken?: string | undefined },
    action: Action,
    key: string,
  ): Promise<ListObjectsV2CommandOutput> {
    const { sdk, client } = await this.#s3.open();
    try {
      return await client.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, ...input }));
    } catch (error) {
      throw this.#fault(error, action, key);
    }
  }

  async #upload(key: string, body: Buffer | Readable, size: number, sha256: string): Promise<void> {
    const [{ client }, { Upload }] = await Promise.all([this.#s3.open(), import("@aws-sdk/lib-storage")]);
    const upload = new Upload({
      client,
      params: {
        Bucket: this.bucket,
        Key: this.#objectKey(key),
        Body: body,
        ContentLength: size,
        ContentType: "application/octet-stream",
        Metadata: { [META_SHA256]: sha256, [META_SIZE]: String(size) },
      },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      // The store aborts a failed multipart upload itself: lib-storage's own abort replaces the upload's
      // error with the abort's when the abort fails too, which hides why the upload failed.
      leavePartsOnError: true,
    });
    try {
      await upload.done();
    } catch (error) {
      const outcome = await this.#abandon(key, upload.uploadId);
      throw this.#fault(await this.#whyDropped(error), "write", key, outcome);
    }
  }

  /**
   * A server that refuses an upload (a bucket that does not exist) may answer before it has read the
   * body and close the connection, so the client sees the connection dropped (EPIPE, ECONNRESET)
   * instead of the answer. A listing of the bucket tells the two apart: its error, when it has one
   * that names the bucket, is the real reason.
   */
  async #whyDropped(error: unknown): Promise<unknown> {
    const network = networkCode(error);
    if (network !== "EPIPE" && network !== "ECONNRESET") return error;
    const { sdk, client } = await this.#s3.open();
    try {
      await client.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1 }));
      return error;
    } catch (probeError) {
      return (probeError as AwsErrorShape).name === "NoSuchBucket" ? probeError : error;
    }
  }

  /** Aborts a failed multipart upload so its parts do not linger (and bill); says what became of the key. */
  async #abandon(key: string, uploadId: string | undefined): Promise<string> {
    const kept = "the key keeps its previous object, if any";
    if (uploadId === undefined) return kept;
    const { sdk, client } = await this.#s3.open();
    try {
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.#objectKey(key), UploadId: uploadId }));
      return `the multipart upload was aborted and ${kept}`;
    } catch (abortError) {
      if ((abortError as AwsErrorShape).name === "NoSuchUpload") return kept;
      const reason = (abortError as AwsErrorShape).name ?? "error";
      return `${kept}; its uploaded parts could not be removed (${reason}): a bucket lifecycle rule with AbortIncompleteMultipartUpload removes them`;
    }
  }

  #verified(key: string, body: Readable, size: number, sha256: string): Readable {
    const hash = createHash("sha256");
    let seen = 0;
    const where = this.#where(key);
    const verifier = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        if (seen > size) {
          done(new IntegrityError(`${where} (it has more than the ${size} bytes stepbox wrote)`));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
      flush(done) {
        const actual = hash.digest("hex");
        if (seen !== size) done(new IntegrityError(`${where} (it has ${seen} bytes, stepbox wrote ${size})`));
        else if (actual !== sha256) done(new IntegrityError(`${where} (its SHA-256 is ${actual}, stepbox wrote ${sha256})`));
        else done();
      },
    });
    body.on("error", (error) => verifier.destroy(this.#fault(error, "read", key)));
    // A consumer that stops early (destroy) must not leave the HTTP response open.
    verifier.once("close", () => body.destroy());
    body.pipe(verifier);
    return verifier;
  }

  #rootPrefix(): string {
    return this.prefix === "" ? "" : `${this.prefix}/`;
  }

  #objectKey(key: string): string {
    return `${this.#rootPrefix()}${key}`;
  }

  #folderPrefix(prefix: string): string {
    return prefix === "" ? this.#rootPrefix() : `${this.#objectKey(prefix)}/`;
  }

  #where(key: string): string {
    return `s3://${this.bucket}/${this.#objectKey(key)}`;
  }

  /** Turns an SDK or network error into a StoreError that names the bucket, the key and what to do. */
  #fault(error: unknown, action: Action, key: string, outcome?: string): StepboxError {
    if (error instanceof StepboxError) return error;
    const shape = (typeof error === "object" && error !== null ? error : {}) as AwsErrorShape;
    const name = shape.name ?? "Error";
    const status = shape.$metadata?.httpStatusCode;
    const target = action === "list" && key === "" ? this.uri : this.#where(key);
    const why = (reason: string): string => `cannot ${action} ${target}: ${reason}${outcome !== undefined ? `; ${outcome}` : ""}`;
    if (name === "NoSuchBucket") {
      return new StoreError(why(`the bucket "${this.bucket}" does not exist at ${this.#endpoint}`), {
        cause: error,
        hint: `create it (aws s3 mb s3://${this.bucket}${this.#endpoint.startsWith("http") ? ` --endpoint-url ${this.#endpoint}` : ""}), or point the artifact root at an existing bucket`,
      });
    }
    if (CREDENTIAL_FAULTS.has(name) || status === 401 || status === 403) {
      return new StoreError(why(`${this.#endpoint} refused the credentials (${name}${status !== undefined ? `, HTTP ${status}` : ""})`), {
        cause: error,
        hint: `check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and that this identity may get, put, list and delete objects in s3://${this.bucket}`,
      });
    }
    const network = networkCode(error);
    if (network !== undefined) {
      const attempts = shape.$metadata?.attempts;
      const after = attempts !== undefined ? ` after ${attempts} attempt(s)` : "";
      const what = network === "ETIMEDOUT" ? "stopped answering" : "could not be reached or dropped the connection";
      return new StoreError(why(`the S3 endpoint ${this.#endpoint} ${what} (${network})${after}`), {
        cause: error,
        hint: "check that the S3 server is running and that AWS_ENDPOINT_URL_S3 points at it (for the local MinIO: docker compose up -d), then run again",
      });
    }
    return new StoreError(why(`${name}${status !== undefined ? ` (HTTP ${status})` : ""}: ${shape.message ?? String(error)}`), {
      cause: error,
      hint: `check that ${this.#endpoint} is an S3-compatible server and that the bucket accepts this request`,
    });
  }
}

/** Keys that the store can address; drops what other tools leave, such as console "folder/" markers. */
function isStoreKey(key: string): boolean {
  try {
    assertValidKey(key);
    return true;
  } catch {
    return false;
  }
}
