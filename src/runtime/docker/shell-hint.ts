import { CONTAINER_PATHS } from "../../container/contract.js";
import type { JobRecord } from "../step-runtime.js";

/** Where a shell into a step stands: which step, where its inputs are, and the command that reruns it. */
export function shellHint(job: JobRecord, host: string, rerun: string): string {
  const channels = job.channels.map((c) => `${CONTAINER_PATHS.inputData}/${c.name} (${c.hostPath})`);
  const sandbox = job.network ? "with the network it asked for" : "no network";
  return [
    `stepbox shell: step "${job.stepName}" of execution ${job.executionId} (pipeline "${job.pipelineName}"), as ${host} of ${job.instanceCount} saw it${job.instanceCount > 1 ? " (--host picks another)" : ""}`,
    `  image      ${job.image}: ${sandbox}, a non-root user, no capabilities, read-only except /opt/ml/{model,output,checkpoints} and /tmp`,
    `  config     ${CONTAINER_PATHS.inputConfig}/{hyperparameters,resourceconfig,inputdataconfig}.json`,
    `  channels   ${channels.length > 0 ? channels.join(", ") : "none"}`,
    `  code       ${CONTAINER_PATHS.codeBundle}, arguments in ${CONTAINER_PATHS.argumentsPayload.replace(/\/payload\.bin$/, "")}`,
    `  rerun it:  ${rerun}`,
    `             (exit code 1 when the function throws; its error goes to ${CONTAINER_PATHS.failure}, a result to ${CONTAINER_PATHS.results})`,
    "  The container is removed when this shell exits.",
    "",
  ].join("\n");
}
