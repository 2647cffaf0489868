/**
 * Plain reads of the objects a job wrote to S3 (its results, its exception), by `s3://` URI: a job in
 * SageMaker writes them without the size and SHA-256 metadata the artifact store adds, so their
 * integrity is checked with the `metadata.json` beside them, not by the store.
 */
import type { Readable } from "node:stream";
import { NotFoundError, StoreError, ValidationError } from "../errors.js";
import { type AwsErrorShape, connectS3, type S3Connection, type S3ConnectionOptions } from "../store/s3-client.js";
import { cloudError } from "./aws-calls.js";

/** More than any result a step should hand back through S3: past it, a read is refused rather than held in memory. */
const MAX_OBJECT_BYTES = 2 * 1024 ** 3;

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new ValidationError(`${JSON.stringify(uri)} is not an s3://bucket/key URI`, { hint: "e.g. s3://my-bucket/stepbox/churn/results" });
  return { bucket: match[1]!, key: match[2]! };
}

export class S3Objects {
  readonly #s3: S3Connection;
  #opened: ReturnType<S3Connection["open"]> | undefined;

  constructor(options: S3ConnectionOptions) {
    this.#s3 = connectS3(options, "new PipelineSession()");
  }

  /** The object's bytes; a missing object is a `NotFoundError`, one over 2 GiB a `StoreError`. */
  async get(uri: string): Promise<Buffer> {
    const { bucket, key } = parseS3Uri(uri);
    const { sdk, client } = await (this.#opened ??= this.#s3.open());
    let body: Readable;
    try {
      const response = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
      if ((response.ContentLength ?? 0) > MAX_OBJECT_BYTES) {
        (response.Body as Readable | undefined)?.destroy();
        throw new StoreError(`${uri} has ${response.ContentLength} bytes, more than the ${MAX_OBJECT_BYTES} stepbox reads into memory`, {
          hint: "return a smaller value from the step and write large data to /opt/ml/model or an S3 location of your own",
        });
      }
      body = response.Body as Readable;
    } catch (error) {
      if ((error as AwsErrorShape).name === "NoSuchKey") throw new NotFoundError(key, `s3://${bucket}`);
      throw cloudError("s3:GetObject", uri, error);
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of body) {
      bytes += (chunk as Buffer).length;
      if (bytes > MAX_OBJECT_BYTES) {
        body.destroy();
        throw new StoreError(`${uri} is longer than the ${MAX_OBJECT_BYTES} bytes stepbox reads into memory`);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /** Closes the client's connections, when one was made. */
  close(): void {
    void this.#opened?.then(({ client }) => client.destroy()).catch(() => undefined);
  }
}
