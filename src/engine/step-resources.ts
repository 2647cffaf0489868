import { availableParallelism } from "node:os";
import type { FunctionStep } from "../dsl/function-step.js";
import { resolveInstanceType } from "../dsl/instance-types.js";

/** What a step's containers get: the instance type's CPU and memory, or the `local` override. */
export interface StepResources {
  readonly instanceType: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly memoryGiB: number;
  /** Set when the `local` override gives less than the instance type has. */
  readonly belowInstanceType: string | undefined;
  /** Set when the instance type has GPUs: stepbox passes none to containers. */
  readonly withoutGpu: string | undefined;
}

/**
 * The resources of a step; CPUs are capped at this machine's, which Docker refuses to exceed. Its
 * options were checked by step(): the instance type is known and the local override is positive.
 */
export function stepResources(step: FunctionStep): StepResources {
  const type = resolveInstanceType(step.options.instanceType);
  const cpus = step.options.local?.cpus ?? type.vcpus;
  const memoryGiB = step.options.local?.memoryGiB ?? type.memoryGiB;
  const below =
    cpus < type.vcpus || memoryGiB < type.memoryGiB
      ? `step "${step.name}" runs with ${cpus} CPU and ${memoryGiB} GiB (its local override), less than ${type.name}'s ${type.vcpus} vCPU and ${type.memoryGiB} GiB: it may fail here yet pass in the cloud, or be slower`
      : undefined;
  return {
    instanceType: type.name,
    cpus: Math.min(cpus, availableParallelism()),
    memoryBytes: Math.round(memoryGiB * 1024 ** 3),
    memoryGiB,
    belowInstanceType: below,
    withoutGpu:
      type.gpus > 0
        ? `step "${step.name}" asks for ${type.name}, which has ${type.gpus} GPU(s); stepbox gives its containers none, so code that needs a GPU fails here (or falls back to the CPU) yet may pass in the cloud`
        : undefined,
  };
}
