import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ValidationError } from "../errors.js";
import type { ChannelListing, InputChannel } from "../runtime/step-runtime.js";
import { tempFolderPrefix } from "../runtime/temp-paths.js";
import { S3Prefix, type S3PrefixObject } from "../store/s3-prefix.js";
import type { CountBytes } from "./transfer-progress.js";

const CHANNEL_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** How many objects of one channel download at once: enough to hide request latency on small files. */
const DOWNLOADS_AT_ONCE = 4;

/** A step's input channel, checked before the run: where its data is, not yet where the containers see it. */
export interface ChannelSource {
  readonly name: string;
  readonly uri: string;
  /** The host folder mounted as the channel, when it is known before staging (a local folder is mounted as it is). */
  readonly mountPath?: string;
  /** Takes stock of the channel's content now; the cache key and the staged files both come from it. */
  snapshot(): Promise<ChannelSnapshot>;
}

export interface ChannelSnapshot {
  readonly name: string;
  readonly uri: string;
  /** How many bytes staging downloads (0 for a local folder, which is mounted as it is). */
  readonly downloadBytes: number;
  /** For S3, the listing in brief, which the job record keeps so that a later download can tell a change. */
  readonly listing?: ChannelListing;
  /** One line per file: its path, size and version (modification time, or S3 ETag), sorted. */
  fingerprint(): Promise<string[]>;
  /** A host folder with exactly this content, to mount read-only; `release` removes what staging made. */
  stage(signal: AbortSignal, count?: CountBytes): Promise<StagedChannel>;
}

export interface StagedChannel extends InputChannel {
  readonly uri: string;
  release(): Promise<void>;
}

/** A local folder, mounted as it is. */
function folderChannel(name: string, uri: string, path: string): ChannelSource {
  const snapshot: ChannelSnapshot = {
    name,
    uri,
    downloadBytes: 0,
    fingerprint: () => folderListing(path),
    stage: async () => ({ name, hostPath: path, uri, release: async () => {} }),
  };
  return { name, uri, mountPath: path, snapshot: async () => snapshot };
}

/** The files of a folder by path, size and modification time: a changed file changes the listing. */
async function folderListing(dir: string, prefix = ""): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) lines.push(...(await folderListing(path, `${prefix}${entry.name}/`)));
    else {
      const info = await stat(path).catch(() => undefined);
      lines.push(`${prefix}${entry.name} ${info?.size ?? -1} ${info?.mtimeMs ?? -1}`);
    }
  }
  return lines.sort();
}

/** The objects under an S3 prefix, downloaded into a temp folder for each attempt of the step. */
function s3Channel(name: string, prefix: S3Prefix): ChannelSource {
  return {
    name,
    uri: prefix.uri,
    snapshot: async () => {
      const objects = await prefix.list();
      const lines = objects.map((o) => `${o.path} ${o.size} ${o.etag}`);
      const bytes = objects.reduce((sum, o) => sum + o.size, 0);
      const listing = { objects: objects.length, bytes, sha256: createHash("sha256").update(lines.join("\n")).digest("hex") };
      return {
        name,
        uri: prefix.uri,
        downloadBytes: bytes,
        listing,
        fingerprint: async () => lines,
        stage: (signal, count) => downloadChannel(name, prefix, objects, listing, signal, count),
      };
    },
  };
}

/** Downloads a channel's listed objects into `<new temp folder>/<channel>/`; `release` removes the temp folder. */
async function downloadChannel(
  name: string,
  prefix: S3Prefix,
  objects: readonly S3PrefixObject[],
  listing: ChannelListing,
  signal: AbortSignal,
  count?: CountBytes,
): Promise<StagedChannel> {
  const root = await mkdtemp(join(tmpdir(), tempFolderPrefix("channel")));
  const release = (): Promise<void> => rm(root, { recursive: true, force: true });
  try {
    const dir = join(root, name);
    await mkdir(dir);
    await downloadAll(prefix, objects, dir, signal, count);
    // The container may run as another uid than the engine: the data must be readable to it, while the
    // 0700 temp folder above keeps it from other users of this machine.
    await makeReadable(dir);
    return { name, hostPath: dir, uri: prefix.uri, listing, release };
  } catch (error) {
    await release();
    throw error;
  }
}

/**
 * A few downloads at a time. On the first failure the others stop, and every one has ended before this
 * returns, so none writes into the folder after its caller removed it.
 */
async function downloadAll(prefix: S3Prefix, objects: readonly S3PrefixObject[], dir: string, signal: AbortSignal, count?: CountBytes): Promise<void> {
  const failed = new AbortController();
  const stop = AbortSignal.any([signal, failed.signal]);
  let failure: unknown;
  const queue = [...objects];
  const worker = async (): Promise<void> => {
    for (let o = queue.shift(); o !== undefined && !stop.aborted; o = queue.shift()) {
      const file = join(dir, o.path);
      try {
        await mkdir(dirname(file), { recursive: true });
        await prefix.download(o, file, stop, count);
      } catch (error) {
        failure ??= error;
        failed.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: DOWNLOADS_AT_ONCE }, worker));
  if (failure !== undefined || signal.aborted) throw failure ?? signal.reason;
}

/** mkdir and open apply the umask: give the container read and traverse rights whatever it was. */
async function makeReadable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makeReadable(path);
    else await chmod(path, 0o644);
  }
}

/**
 * Checks a step's input channels before anything runs: names, URIs, and that the data is there (a
 * folder that exists; objects under an S3 prefix, reached with the standard AWS settings).
 */
export async function resolveInputChannels(step: string, inputs: Readonly<Record<string, string>>): Promise<ChannelSource[]> {
  const channels: ChannelSource[] = [];
  for (const [name, uri] of Object.entries(inputs)) {
    const where = `step "${step}": input channel "${name}"`;
    if (!CHANNEL_NAME.test(name)) {
      throw new ValidationError(`${where}: the name is not a valid channel name`, {
        code: "INVALID_STEP_OPTION",
        hint: "use letters, digits, '.', '-' and '_' (at most 64), e.g. inputs: { train: \"file:///data/train\" }",
      });
    }
    channels.push(await checkedChannel(where, name, uri));
  }
  return channels;
}

/**
 * Checks one channel's URI and that its data is there; `where` begins every error message. A shell into
 * a step uses it too, to stage the channel again from its recorded URI.
 */
export function checkedChannel(where: string, name: string, uri: unknown): Promise<ChannelSource> {
  return typeof uri === "string" && uri.startsWith("s3://") ? checkedS3Channel(where, name, uri) : checkedFolderChannel(where, name, uri);
}

async function checkedS3Channel(where: string, name: string, uri: string): Promise<ChannelSource> {
  const prefix = new S3Prefix(uri, { context: where });
  if (!(await prefix.exists())) {
    throw new ValidationError(`${where}: there are no objects under ${prefix.uri}/ at ${prefix.endpoint}`, {
      code: "INVALID_STEP_OPTION",
      hint: `upload the channel's files there (aws s3 cp --recursive ./data ${prefix.uri}/), or fix the URI; the endpoint comes from AWS_ENDPOINT_URL_S3`,
    });
  }
  return s3Channel(name, prefix);
}

async function checkedFolderChannel(where: string, name: string, uri: unknown): Promise<ChannelSource> {
  if (typeof uri !== "string" || !uri.startsWith("file://")) {
    throw new ValidationError(`${where}: ${JSON.stringify(uri)} is not a file:// or s3:// URI`, {
      code: "INVALID_STEP_OPTION",
      hint: "give a folder as file:///absolute/path, or objects in S3 as s3://bucket/prefix",
    });
  }
  let path: string;
  try {
    path = fileURLToPath(uri);
  } catch (cause) {
    throw new ValidationError(`${where}: ${uri} is not a valid file:// URI`, { code: "INVALID_STEP_OPTION", cause, hint: "file:///absolute/path" });
  }
  const info = await stat(path).catch(() => undefined);
  if (!isAbsolute(path) || !info?.isDirectory()) {
    throw new ValidationError(`${where}: ${path} is not an existing folder`, {
      code: "INVALID_STEP_OPTION",
      hint: "a channel is a folder; its files appear read-only under /opt/ml/input/data/<channel>/",
    });
  }
  return folderChannel(name, uri, path);
}

/**
 * Stages every channel of a step attempt (downloads what is remote) and returns the folders to mount,
 * with one `release` that removes all downloads; a staging failure releases what was already staged.
 * `count` is told of each chunk downloaded, for a progress display.
 */
export async function stageChannels(
  snapshots: readonly ChannelSnapshot[],
  signal: AbortSignal,
  count?: CountBytes,
): Promise<{ channels: InputChannel[]; release: () => Promise<void> }> {
  const staged: StagedChannel[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(staged.map((s) => s.release()));
  };
  try {
    for (const snapshot of snapshots) staged.push(await snapshot.stage(signal, count));
  } catch (error) {
    await release();
    throw error;
  }
  return { channels: staged.map(({ name, hostPath, uri, listing }) => ({ name, hostPath, uri, listing })), release };
}
