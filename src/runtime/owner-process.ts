import { hostname } from "node:os";

/*
 * Whether the process that owns a run (`<hostname>:<pid>`, the owner label and record field) still
 * runs: the orphan sweep, the temp sweep and record readers all ask, whatever runs the containers.
 */

/** Whether a process with this pid runs on this machine. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the owner label (`<hostname>:<pid>`) names a process of this machine that no longer runs. */
export function ownerIsGone(owner: string | undefined): boolean {
  if (!owner) return true;
  const at = owner.lastIndexOf(":");
  const host = owner.slice(0, at);
  const pid = Number(owner.slice(at + 1));
  if (host !== hostname() || !Number.isInteger(pid)) return false;
  return pid !== process.pid && !isAlive(pid);
}
