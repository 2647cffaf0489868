import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

/** The bytes under a folder, counting links as themselves and never following them. */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    // Gone (the step removed it) or unreadable: nothing to count. A step can hide bytes from the cap
    // only from an engine that runs as another user than root, which cannot read what uid 1000 locked.
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(path);
    else total += (await lstat(path).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

/**
 * Watches the folders a step writes to and calls `onExceeded` once when together they pass the cap,
 * so a runaway step is killed before it fills the disk. It samples every `intervalMs`: a step may
 * overshoot by what it writes in one interval.
 */
export function watchOutputSize(
  dirs: readonly string[],
  capBytes: number,
  onExceeded: (bytes: number) => void,
  intervalMs = 500,
): { stop: () => Promise<number> } {
  let stopped = false;
  let fired = false;
  const measure = async (): Promise<number> => {
    let total = 0;
    for (const dir of dirs) total += await folderBytes(dir);
    if (total > capBytes && !fired) {
      fired = true;
      onExceeded(total);
    }
    return total;
  };
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    // A walk slower than the interval skips ticks rather than queueing walks behind it.
    if (stopped || running !== undefined) return;
    running = measure().finally(() => {
      running = undefined;
    });
  }, intervalMs);
  let final: Promise<number> | undefined;
  return {
    // The runner stops it after the containers exit and again on its way out: one last walk serves both.
    stop(): Promise<number> {
      final ??= (async () => {
        stopped = true;
        clearInterval(timer);
        await running;
        return measure();
      })();
      return final;
    },
  };
}
