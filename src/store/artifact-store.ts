import type { Readable } from "node:stream";

/**
 * A place where stepbox keeps everything a run produces: records, payloads, archives, logs.
 *
 * Keys are relative, `/`-separated paths such as `my-pipeline/abc123/train/results/payload.bin`.
 * They never start with `/`, never contain `..`, `.` or empty segments. Every implementation
 * lays keys out the same way, so a run recorded by one process can be read by another that points
 * at the same root.
 *
 * Writes are atomic: a reader sees either the whole new object or the previous state, never a
 * half-written object, even when the writer is killed mid-write.
 */
export interface ArtifactStore {
  /** Where the store lives, as a URI: `file:///abs/path` or `s3://bucket/prefix`. */
  readonly uri: string;

  /** Writes a whole object atomically. */
  put(key: string, body: Buffer | string): Promise<void>;
  /** Writes an object from a stream atomically, without holding it whole in memory. Returns its byte count. */
  putStream(key: string, body: Readable): Promise<{ bytes: number }>;
  /** Reads a whole object. Throws `NotFoundError` when it is absent. */
  get(key: string): Promise<Buffer>;
  /** Reads an object as a stream. Throws `NotFoundError` when it is absent. */
  getStream(key: string): Promise<Readable>;
  /** Whether an object exists at the key. */
  exists(key: string): Promise<boolean>;
  /** The keys of every object under a prefix (recursive), sorted. */
  list(prefix: string): Promise<string[]>;
  /** The names of the immediate children (objects and "folders") under a prefix, sorted. */
  listChildren(prefix: string): Promise<string[]>;
  /** Removes every object under a prefix (or the object at that key). Absent keys are not an error. */
  deletePrefix(prefix: string): Promise<void>;
}
