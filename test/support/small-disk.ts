/**
 * A real small file system for tests of a full or read-only store: a tmpfs of a given size, mounted
 * on a temp folder. Mounting needs root (or CAP_SYS_ADMIN); where it is refused, `mountSmallDisk`
 * says why, for the test to skip with that reason.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface SmallDisk {
  readonly path: string;
  /** Remounts it read-only, as a disk that went read-only under a running engine. */
  readOnly(): Promise<void>;
  unmount(): Promise<void>;
}

export async function mountSmallDisk(bytes: number): Promise<SmallDisk | { refused: string }> {
  const path = await mkdtemp(join(tmpdir(), "stepbox-small-disk-"));
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", path]);
  } catch (error) {
    await rm(path, { recursive: true, force: true });
    return { refused: `cannot mount a ${bytes}-byte tmpfs here (needs root): ${(error as Error).message.split("\n")[0]}` };
  }
  return {
    path,
    readOnly: async () => {
      await run("mount", ["-o", "remount,ro", path]);
    },
    unmount: async () => {
      await run("umount", [path]);
      await rm(path, { recursive: true, force: true });
    },
  };
}
