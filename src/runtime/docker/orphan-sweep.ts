import type Docker from "dockerode";
import { connectDocker, engineError } from "./docker-engine.js";
import { LABEL } from "./labels.js";
import { ownerIsGone } from "../owner-process.js";

/** An execution whose engine process died and left containers behind. */
export interface OrphanedExecution {
  readonly storeUri: string;
  readonly pipeline: string;
  readonly execution: string;
  readonly owner: string;
  readonly containers: number;
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

/**
 * Removes every container and network labelled with the execution, whoever owns them: what a crash
 * of the engine running it would leave (the engine removes its own).
 */
export async function removeExecutionContainers(executionId: string): Promise<void> {
  const docker = await connectDocker();
  const filters = { label: [`${LABEL.execution}=${executionId}`] };
  try {
    for (const c of await docker.listContainers({ all: true, filters })) {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
    }
    for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove();
  } catch (error) {
    throw engineError(`to remove the containers of execution ${executionId}`, error);
  }
}
