import { isAlive } from "../runtime/owner-process.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { LocalFileStore } from "../store/local-store.js";
import type { TempFileSweep } from "../store/temp-files.js";

/**
 * How long a temp file must have been left unchanged before a sweep may remove it, even when its name
 * carries no writer or the writer is gone: a writer streams into it, so a live write keeps it fresh.
 */
export const STALE_TEMP_FILE_MS = 5 * 60_000;

/**
 * Removes the temp files that writers killed mid-write left in a local store (a write goes to a temp
 * file renamed over the object when complete); a writer that still runs on this machine keeps its
 * own. For the session's start-up and `stepbox gc`. An S3 store leaves none: an upload that never
 * completes never becomes an object.
 */
export async function sweepStoreTempFiles(store: ArtifactStore, olderThanMs = STALE_TEMP_FILE_MS): Promise<TempFileSweep> {
  if (!(store instanceof LocalFileStore)) return { removed: [], failed: [] };
  return store.sweepTempFiles({ olderThanMs, writerIsAlive: isAlive });
}
