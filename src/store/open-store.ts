import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ValidationError } from "../errors.js";
import type { ArtifactStore } from "./artifact-store.js";
import { LocalFileStore } from "./local-store.js";
import { S3Store, type S3ConnectionOptions, type S3StoreTuning } from "./s3-store.js";

export interface OpenArtifactStoreOptions {
  /**
   * How to reach S3 when the root is an `s3://` URI.
   * @default endpoint, region and credentials from the environment, as the AWS SDK reads them
   */
  s3?: S3ConnectionOptions & S3StoreTuning;
  /**
   * The folder a relative path is resolved against.
   * @default process.cwd()
   */
  cwd?: string;
}

const ROOT_FORMS = "a folder, file:///absolute/folder or s3://bucket/prefix";

/** Whether a root is written as a URI (`scheme://...`) rather than a path. */
function hasScheme(root: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(root);
}

/**
 * Where runs are recorded when no artifact root is given: `STEPBOX_HOME` when it is set (a folder,
 * relative to `cwd`, or a URI such as `s3://stepbox/runs`), else `<cwd>/.stepbox`.
 */
export function defaultArtifactRoot(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const home = env.STEPBOX_HOME;
  if (home === undefined || home === "") return resolve(cwd, ".stepbox");
  return hasScheme(home) ? home : resolve(cwd, home);
}

/**
 * Opens the store that an artifact root names.
 *
 * @param root `s3://bucket/prefix` for an {@link S3Store}; `file:///abs/folder` or a folder path
 *   (relative ones resolve against `options.cwd`) for a {@link LocalFileStore}.
 * @example openArtifactStore("s3://stepbox/runs") // objects under runs/ in the bucket stepbox
 * @example openArtifactStore(defaultArtifactRoot())
 * @throws ValidationError for an empty root, an unknown scheme or an `s3://` URI without a bucket.
 */
export function openArtifactStore(root: string, options: OpenArtifactStoreOptions = {}): ArtifactStore {
  if (typeof root !== "string" || root.trim() === "") {
    throw new ValidationError(`the artifact root ${JSON.stringify(root)} is empty`, { hint: `give ${ROOT_FORMS}` });
  }
  const s3 = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(root);
  if (s3 !== null) {
    const [, bucket = "", prefix = ""] = s3;
    if (bucket === "") {
      throw new ValidationError(`the artifact root ${root} names no bucket`, {
        hint: "write it as s3://<bucket>/<prefix>, e.g. s3://stepbox/runs",
      });
    }
    return new S3Store({ ...options.s3, bucket, prefix });
  }
  if (/^file:/i.test(root)) {
    let path: string;
    try {
      path = fileURLToPath(root);
    } catch (error) {
      throw new ValidationError(`the artifact root ${root} is not a local file URL`, {
        cause: error,
        hint: "write it as file:///absolute/folder (three slashes, no host)",
      });
    }
    return new LocalFileStore(path);
  }
  if (hasScheme(root)) {
    throw new ValidationError(`the artifact root ${root} has a scheme stepbox does not support`, { hint: `give ${ROOT_FORMS}` });
  }
  return new LocalFileStore(resolve(options.cwd ?? process.cwd(), root));
}
