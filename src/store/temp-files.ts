/**
 * The local file store's in-flight temp files: how they are named, and the sweep of those that a
 * killed writer left behind (a kill between the temp file's creation and its rename leaves it there).
 */
import { randomBytes } from "node:crypto";
import { lstat, readdir, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { IN_FLIGHT_NAME } from "./keys.js";

/** The writer's pid inside a temp file's name (`.<name>.<pid>.<random>.tmp`); older names have none. */
const WRITER_PID = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * The temp file a write of `path` goes to before it is renamed over it: beside it (the rename stays
 * on one file system), hidden, unique, and naming the writing process so that a sweep never removes
 * the file of a writer that still runs.
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

/** The pid of the process that writes a temp file, or undefined for a name that does not carry one. */
export function writerPid(name: string): number | undefined {
  const match = WRITER_PID.exec(name);
  return match ? Number(match[1]) : undefined;
}

export interface TempFileSweepOptions {
  /** Temp files changed more recently than this are left: their writer may still be writing. */
  readonly olderThanMs: number;
  /** Whether the process with this pid still runs (and may still rename its temp file). */
  readonly writerIsAlive: (pid: number) => boolean;
}

export interface TempFileSweep {
  /** The temp files removed, as absolute paths. */
  readonly removed: string[];
  readonly failed: Array<{ readonly path: string; readonly error: unknown }>;
}

/**
 * Removes the temp files under `root` whose writer is gone: unchanged for `olderThanMs`, and either
 * written by a process that no longer runs or named before temp names carried the pid. A writer that
 * still runs keeps its file, however old. Links are never followed.
 */
export async function sweepTempFilesUnder(root: string, options: TempFileSweepOptions): Promise<TempFileSweep> {
  const cutoff = Date.now() - options.olderThanMs;
  const sweep: TempFileSweep = { removed: [], failed: [] };
  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true }).catch((error: unknown) => {
      // A folder a concurrent delete removed has nothing left to sweep.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") sweep.failed.push({ path: folder, error });
      return [];
    });
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && IN_FLIGHT_NAME.test(entry.name)) await sweepOne(path, entry.name);
    }
  };
  const sweepOne = async (path: string, name: string): Promise<void> => {
    const pid = writerPid(name);
    if (pid !== undefined && options.writerIsAlive(pid)) return;
    try {
      if ((await lstat(path)).mtimeMs > cutoff) return;
      await rm(path);
      sweep.removed.push(path);
    } catch (error) {
      // Renamed into place or swept by another process meanwhile: either way it is gone.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") sweep.failed.push({ path, error });
    }
  };
  await walk(root);
  return sweep;
}
