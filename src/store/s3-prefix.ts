import { createWriteStream } from "node:fs";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ListObjectsV2CommandOutput } from "@aws-sdk/client-s3";
import { StepboxError, StoreError, ValidationError } from "../errors.js";
import { connectS3, CREDENTIAL_FAULTS, type AwsErrorShape, type S3Connection, type S3ConnectionOptions } from "./s3-client.js";

/** One object under an S3 prefix, as a listing shows it. */
export interface S3PrefixObject {
  /** Its path below the prefix (`images/1.png`), or its own name when the URI names this one object. */
  readonly path: string;
  /** Its full object key in the bucket. */
  readonly key: string;
  readonly size: number;
  /** S3's tag for this version of its content: an object that is written again gets a new one. */
  readonly etag: string;
}

export type S3PrefixOptions = S3ConnectionOptions & {
  /** Put in front of every error message, to say what the prefix is for (`step "train": input channel "data"`). */
  context?: string;
};

/** A path below the prefix is written to disk: it must stay inside the folder it lands in. */
function unsafePath(path: string): boolean {
  return path.split("/").some((segment) => segment === "" || segment === "." || segment === "..") || path.includes("\0");
}

/** S3 quotes ETags in some answers and not in others. */
const bareEtag = (etag: string | undefined): string => (etag ?? "").replace(/^"|"$/g, "");

/**
 * The objects under an `s3://bucket/prefix` that stepbox did not write, such as a training set: listed
 * with their sizes and ETags, and downloaded one by one as streams. Unlike `S3Store` it expects no
 * stepbox metadata on them; a download is checked against its listing (ETag and byte count) instead.
 *
 * The prefix is a folder: `s3://data/train` holds the objects under `train/`. When there are none and an
 * object's key is exactly the prefix, that one object is the content, under its own name.
 */
export class S3Prefix {
  readonly uri: string;
  readonly bucket: string;
  /** The key prefix, without slashes at either end; `""` for the whole bucket. */
  readonly prefix: string;
  readonly #s3: S3Connection;
  /** The endpoint as messages name it. */
  readonly endpoint: string;
  readonly #context: string;

  /** @throws ValidationError when the URI is not `s3://bucket[/prefix]`. */
  constructor(uri: string, options: S3PrefixOptions = {}) {
    this.#context = options.context !== undefined ? `${options.context}: ` : "";
    const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
    const prefix = (match?.[2] ?? "").replace(/\/+$/, "");
    if (match === null || (prefix !== "" && unsafePath(prefix))) {
      throw new ValidationError(`${this.#context}${JSON.stringify(uri)} is not an s3://bucket/prefix URI`, {
        code: "INVALID_STEP_OPTION",
        hint: "write it as s3://<bucket>/<folder>, e.g. s3://my-bucket/datasets/train (a lowercase bucket name, single slashes)",
      });
    }
    this.bucket = match[1]!;
    this.prefix = prefix;
    this.uri = `s3://${this.bucket}${prefix === "" ? "" : `/${prefix}`}`;
    // The store's client setup, so an endpoint that serves the artifact store serves channels too.
    this.#s3 = connectS3(options, "an s3:// input channel");
    this.endpoint = this.#s3.endpoint;
  }

  /** Whether anything is there: an object under the folder, or an object at the prefix itself. */
  async exists(): Promise<boolean> {
    const page = await this.#listPage(this.#folder(), undefined, 1);
    if ((page.Contents ?? []).length > 0) return true;
    return this.prefix !== "" && (await this.#exactObject()) !== undefined;
  }

  /**
   * Every object under the prefix, sorted by path. Folder markers (keys ending in `/`, which consoles
   * create) are skipped.
   *
   * @throws StoreError for a missing bucket, refused credentials, an unreachable endpoint, or a key that
   *   cannot be a file path (a `..` or empty segment).
   */
  async list(): Promise<S3PrefixObject[]> {
    const folder = this.#folder();
    const objects: S3PrefixObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.#listPage(folder, token);
      for (const o of page.Contents ?? []) {
        const key = o.Key ?? "";
        if (key.endsWith("/")) continue;
        objects.push(this.#entry(key, key.slice(folder.length), o.Size, o.ETag));
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    if (objects.length === 0 && this.prefix !== "") {
      const exact = await this.#exactObject();
      if (exact !== undefined) return [exact];
    }
    return objects.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * Streams one listed object into a new file (never holding it whole in memory), and checks that it
   * is the version the listing showed (same ETag) and that every byte arrived. `onBytes` is told of
   * each chunk as it arrives, for a progress display.
   *
   * @throws StoreError when the object changed or went away since the listing, or the transfer failed.
   */
  async download(object: S3PrefixObject, file: string, signal?: AbortSignal, onBytes?: (bytes: number) => void): Promise<void> {
    const where = `s3://${this.bucket}/${object.key}`;
    let body: Readable;
    const { sdk, client } = await this.#s3.open();
    try {
      const response = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: object.key }), signal ? { abortSignal: signal } : {});
      if (!(response.Body instanceof Readable)) throw new StoreError(`${this.#context}cannot read ${where}: the S3 client returned no Node stream`);
      body = response.Body;
      if (bareEtag(response.ETag) !== object.etag) {
        body.destroy();
        throw this.#changed(where, `its ETag is now ${bareEtag(response.ETag)}, the listing showed ${object.etag}`);
      }
    } catch (error) {
      if ((error as AwsErrorShape).name === "NoSuchKey") throw this.#changed(where, "it was deleted");
      throw this.#fault(error, `read ${where}`);
    }
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        onBytes?.(chunk.length);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(file, { flags: "wx", mode: 0o644 }), signal ? { signal } : {});
    } catch (error) {
      throw this.#fault(error, `download ${where} to ${file}`);
    }
    if (bytes !== object.size) throw this.#changed(where, `${bytes} bytes arrived, the listing showed ${object.size}`);
  }

  #folder(): string {
    return this.prefix === "" ? "" : `${this.prefix}/`;
  }

  #entry(key: string, path: string, size: number | undefined, etag: string | undefined): S3PrefixObject {
    if (unsafePath(path)) {
      throw new StoreError(
        `${this.#context}the object s3://${this.bucket}/${key} cannot be downloaded as a file: its path below ${this.uri} has an empty, "." or ".." segment`,
        {
          hint: "rename the object (single slashes, no . or .. segments), or point at a prefix that does not hold it",
        },
      );
    }
    return { key, path, size: size ?? 0, etag: bareEtag(etag) };
  }

  /** The object whose key is exactly the prefix, if there is one: the URI named a single object. */
  async #exactObject(): Promise<S3PrefixObject | undefined> {
    const page = await this.#listPage(this.prefix, undefined, 1);
    const o = page.Contents?.[0];
    if (o?.Key !== this.prefix) return undefined;
    return this.#entry(o.Key, this.prefix.slice(this.prefix.lastIndexOf("/") + 1), o.Size, o.ETag);
  }

  async #listPage(prefix: string, token: string | undefined, maxKeys?: number): Promise<ListObjectsV2CommandOutput> {
    const { sdk, client } = await this.#s3.open();
    try {
      return await client.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: maxKeys }));
    } catch (error) {
      throw this.#fault(error, `list ${this.uri}`);
    }
  }

  #changed(where: string, how: string): StoreError {
    return new StoreError(`${this.#context}${where} changed while it was being downloaded: ${how}`, {
      hint: "let whatever writes under the prefix finish, then run again",
    });
  }

  /** Turns an SDK or network error into a StoreError that names the object and what to do. */
  #fault(error: unknown, action: string): StepboxError {
    if (error instanceof StepboxError) return error;
    const shape = (typeof error === "object" && error !== null ? error : {}) as AwsErrorShape;
    const name = shape.name ?? "Error";
    const status = shape.$metadata?.httpStatusCode;
    const why = `${this.#context}cannot ${action}`;
    if (name === "NoSuchBucket") {
      return new StoreError(`${why}: the bucket "${this.bucket}" does not exist at ${this.endpoint}`, {
        cause: error,
        hint: `create it and upload the data (aws s3 cp --recursive <folder> ${this.uri}/), or fix the bucket name; the endpoint comes from AWS_ENDPOINT_URL_S3`,
      });
    }
    if (CREDENTIAL_FAULTS.has(name) || status === 401 || status === 403) {
      return new StoreError(`${why}: ${this.endpoint} refused the credentials (${name})`, {
        cause: error,
        hint: `check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and that this identity may list and get objects in s3://${this.bucket}`,
      });
    }
    if (name === "AbortError") return new StoreError(`${why}: it was stopped`, { cause: error });
    return new StoreError(`${why}: ${name}${status !== undefined ? ` (HTTP ${status})` : ""}: ${shape.message ?? String(error)}`, {
      cause: error,
      hint: `check that ${this.endpoint} is reachable (AWS_ENDPOINT_URL_S3 for an S3-compatible server), then run again`,
    });
  }
}
