import { lstat, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unmountInside } from "./output-volume.js";
import { isAlive } from "./owner-process.js";
import { HOST_TAG, parseTempName, type TempKind } from "./temp-paths.js";

/** A temp path that a stepbox process which no longer runs left behind. */
export interface LeftTempPath {
  readonly path: string;
  readonly pid: number;
  readonly kind: TempKind;
}

export interface TempSweep {
  readonly removed: readonly LeftTempPath[];
  /** Leftovers that could not be removed, with why; the next sweep tries them again. */
  readonly failed: ReadonlyArray<LeftTempPath & { readonly error: unknown }>;
}

/**
 * Removes what stepbox processes of this host that were killed (SIGKILL, out of memory, power) left in
 * the temp folder: steps' work folders, checkpoints, s3:// channel downloads, shells' and image builds' folders, and upload spool files;
 * the volumes of steps still mounted in a work folder are unmounted first.
 * It removes only entries whose name is exactly one of temp-paths.ts's, whose pid no longer runs here and
 * is not this process's, and that this user owns; a pid that was reused since keeps its files until the
 * process that has it now ends.
 */
export async function sweepTempPaths(dir: string = tmpdir()): Promise<TempSweep> {
  const removed: LeftTempPath[] = [];
  const failed: Array<LeftTempPath & { error: unknown }> = [];
  const uid = process.getuid?.();
  for (const name of await readdir(dir)) {
    const owner = parseTempName(name);
    if (!owner || owner.hostTag !== HOST_TAG || owner.pid === process.pid || isAlive(owner.pid)) continue;
    const left = { path: join(dir, name), pid: owner.pid, kind: owner.kind };
    try {
      const stats = await lstat(left.path);
      // Another user's entry is theirs to sweep; one of another type than its name says (a link) is not ours.
      if (uid !== undefined && stats.uid !== uid) continue;
      if (owner.kind === "upload" ? !stats.isFile() : !stats.isDirectory()) continue;
      // A step's volume the killed process left mounted goes first: removing the folder would reach into it.
      if (owner.kind !== "upload") await unmountInside(left.path);
      await rm(left.path, { recursive: true, force: true });
      removed.push(left);
    } catch (error) {
      // Gone already: another session's sweep got there first.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      failed.push({ ...left, error });
    }
  }
  return { removed, failed };
}
