import { hostname } from "node:os";
import type Docker from "dockerode";
import { engineError } from "./docker-engine.js";
import { LABEL } from "./labels.js";

/** An execution whose engine process died and left containers behind. */
export interface OrphanedExecution {
  readonly storeUri: string;
  readonly pipeline: string;
  readonly execution: string;
  readonly owner: string;
  readonly containers: number;
}

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

/**
 * Removes the containers and networks of engine processes that no longer run (killed, crashed),
 * and says which executions they belonged to so their records can be marked Failed.
 */
export async function sweepOrphans(docker: Docker): Promise<OrphanedExecution[]> {
  let containers: Docker.ContainerInfo[];
  try {
    containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL.managed}=true`] } });
  } catch (error) {
    throw engineError("to list stepbox's containers", error);
  }
  const orphans = new Map<string, OrphanedExecution>();
  for (const info of containers) {
    const labels = info.Labels ?? {};
    const owner = labels[LABEL.owner];
    if (!ownerIsGone(owner)) continue;
    await docker
      .getContainer(info.Id)
      .remove({ force: true, v: true })
      .catch(() => {
        // Removed by someone else in the meantime.
      });
    const pipeline = labels[LABEL.pipeline];
    const execution = labels[LABEL.execution];
    const storeUri = labels[LABEL.store];
    if (!pipeline || !execution || !storeUri) continue;
    const key = `${storeUri}|${pipeline}|${execution}`;
    const seen = orphans.get(key);
    orphans.set(key, { storeUri, pipeline, execution, owner: owner ?? "unknown", containers: (seen?.containers ?? 0) + 1 });
  }
  const networks = await docker.listNetworks({ filters: { label: [`${LABEL.managed}=true`] } }).catch(() => []);
  for (const network of networks) {
    if (ownerIsGone(network.Labels?.[LABEL.owner])) {
      await docker
        .getNetwork(network.Id)
        .remove()
        .catch(() => {
          // Still in use or already gone; the next sweep tries again.
        });
    }
  }
  return [...orphans.values()];
}
