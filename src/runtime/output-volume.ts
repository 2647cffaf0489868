import { execFile } from "node:child_process";
import { mkdir, mkdtemp, open, readFile, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { OutputFilesystemError } from "../errors.js";
import { tempFolderPrefix } from "./temp-paths.js";

/*
 * A filesystem of a fixed size for what a step writes: a sparse image file with ext4 on it, mounted
 * through a loop device. The kernel refuses a write past its size (ENOSPC) however fast or in however
 * many files the step writes, which no watcher of folders can promise. Only root may mount, so an
 * engine that is not root (or a machine without mkfs.ext4 or loop devices) holds the limit by watching.
 */

/** No command here should take long; one that hangs (a stuck loop device) must not hang the step. */
const COMMAND_TIMEOUT_MS = 60_000;

/** Runs one of the filesystem commands, no shell; any failure is an OutputFilesystemError naming it. */
function runCommand(command: string, args: readonly string[], path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: COMMAND_TIMEOUT_MS, killSignal: "SIGKILL" }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const why = error.killed ? `did not finish within ${COMMAND_TIMEOUT_MS / 1000} s` : stderr.trim() || error.message;
      reject(new OutputFilesystemError(`${command} ${args.join(" ")} failed: ${why}`, { command, path, cause: error }));
    });
  });
}

/** Who owns the root of a new volume: the user the step runs as. */
export interface VolumeOwner {
  readonly uid: number;
  readonly gid: number;
}

/**
 * Makes a sparse image file of `bytes` at `image` (which must not exist) with an ext4 filesystem on it
 * whose root `owner` owns. No reserved blocks and no journal: the step gets the whole size, and a
 * volume thrown away after the step needs no crash recovery. mke2fs sizes the inode table by its own
 * defaults (an inode per 4 KiB below 512 MiB, per 16 KiB above), enough for many small files; running
 * out of inodes is ENOSPC too.
 */
export async function makeVolumeImage(image: string, bytes: number, owner: VolumeOwner): Promise<void> {
  try {
    const file = await open(image, "wx", 0o600);
    try {
      await file.truncate(bytes);
    } finally {
      await file.close();
    }
  } catch (error) {
    throw new OutputFilesystemError(`could not make the image file ${image}: ${(error as Error).message}`, { command: "truncate", path: image, cause: error });
  }
  await runCommand("mkfs.ext4", ["-q", "-F", "-m", "0", "-O", "^has_journal", "-E", `root_owner=${owner.uid}:${owner.gid}`, image], image);
}

/**
 * Mounts the image on `mountPoint` through a loop device that the kernel detaches by itself when the
 * filesystem is unmounted (mount's `loop` sets autoclear). Nothing set-user-id, no device files.
 */
export function mountVolume(image: string, mountPoint: string): Promise<void> {
  return runCommand("mount", ["-o", "loop,nosuid,nodev", image, mountPoint], mountPoint);
}

/**
 * Unmounts a volume. One still busy (a process of the step that outlived its container's removal) is
 * detached lazily: the folder is free at once, and the kernel lets the filesystem and its loop device
 * go when the last user does.
 */
export async function unmountVolume(mountPoint: string): Promise<void> {
  try {
    await runCommand("umount", [mountPoint], mountPoint);
  } catch {
    await runCommand("umount", ["--lazy", mountPoint], mountPoint);
  }
}

/** How much of a mounted volume is used, and whether it is full. */
export interface VolumeUsage {
  readonly usedBytes: number;
  /**
   * Whether it has no room left for the step: no free inode, or free space under 1 MiB plus 1% of its
   * size (at most 16 MiB more). ext4 refuses a write a few hundred KiB short of full (it keeps room for
   * the metadata of data not yet on disk), so a write that failed with ENOSPC leaves it so; a step that
   * stopped well short of that did not run out of its volume.
   */
  readonly full: boolean;
}

export async function volumeUsage(mountPoint: string): Promise<VolumeUsage> {
  let s;
  try {
    s = await statfs(mountPoint);
  } catch (error) {
    throw new OutputFilesystemError(`could not read the free space of ${mountPoint}: ${(error as Error).message}`, {
      command: "statfs",
      path: mountPoint,
      cause: error,
    });
  }
  const size = s.blocks * s.bsize;
  const room = 1024 * 1024 + Math.min(size / 100, 16 * 1024 * 1024);
  return { usedBytes: (s.blocks - s.bfree) * s.bsize, full: s.ffree === 0 || s.bavail * s.bsize < room };
}

/** The mount points of this process's mount namespace that lie inside `dir` (not `dir` itself), deepest first. */
export async function mountsInside(dir: string): Promise<string[]> {
  const inside = dir.endsWith(sep) ? dir : dir + sep;
  let text: string;
  try {
    text = await readFile("/proc/self/mountinfo", "utf8");
  } catch (error) {
    // No /proc (not Linux): this process mounted nothing.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new OutputFilesystemError(`could not read /proc/self/mountinfo: ${(error as Error).message}`, {
      command: "read",
      path: "/proc/self/mountinfo",
      cause: error,
    });
  }
  const points: string[] = [];
  for (const line of text.split("\n")) {
    // `<id> <parent> <major:minor> <root> <mount point> ...`, with space, tab, newline and backslash as octal escapes.
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
    if (point.startsWith(inside)) points.push(point);
  }
  return points.sort((a, b) => b.length - a.length);
}

/** Why this process cannot give steps volumes, or undefined when it can. */
export type VolumeSupport = { readonly supported: true } | { readonly supported: false; readonly reason: string; readonly expected: boolean };

let support: Promise<VolumeSupport> | undefined;

/**
 * Whether this process can make and mount volumes: it runs as root on Linux, and a small volume can be
 * made, mounted and unmounted in the temp folder. Tried once per process. `expected` is true when the
 * answer is no because the engine is not root on Linux (nothing to warn about).
 */
export function volumeSupport(): Promise<VolumeSupport> {
  return (support ??= probeVolumes());
}

async function probeVolumes(): Promise<VolumeSupport> {
  if (process.platform !== "linux") return { supported: false, reason: "the engine does not run on Linux", expected: true };
  if (process.getuid?.() !== 0) return { supported: false, reason: "the engine does not run as root", expected: true };
  // A stepbox temp name: should this process be killed mid-probe, the temp sweep unmounts and removes it.
  const dir = await mkdtemp(join(tmpdir(), tempFolderPrefix("work")));
  const mountPoint = join(dir, "probe");
  let mounted = false;
  try {
    await mkdir(mountPoint);
    await makeVolumeImage(join(dir, "probe.ext4"), 4 * 1024 * 1024, { uid: 0, gid: 0 });
    await mountVolume(join(dir, "probe.ext4"), mountPoint);
    mounted = true;
    await unmountVolume(mountPoint);
    mounted = false;
    return { supported: true };
  } catch (error) {
    return { supported: false, reason: (error as Error).message, expected: false };
  } finally {
    if (mounted) await unmountVolume(mountPoint).catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Unmounts every mount inside `dir`, deepest first: what must go before `dir` can be removed without
 * reaching into a volume. Tries them all; rejects with the first failure.
 */
export async function unmountInside(dir: string): Promise<void> {
  let first: unknown;
  for (const point of await mountsInside(dir)) {
    await unmountVolume(point).catch((error: unknown) => (first ??= error));
  }
  if (first !== undefined) throw first;
}
