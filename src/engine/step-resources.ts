import { availableParallelism } from "node:os";
import { resolveInstanceType } from "../dsl/instance-types.js";

/** A step's `local` option: fewer resources than its instance type has, on a small machine. SageMaker has no field for it. */
export interface LocalResources {
  readonly cpus?: number;
  readonly memoryGiB?: number;
}

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
export function stepResources(step: { readonly name: string; readonly instanceType: string; readonly local?: LocalResources }): StepResources {
  const type = resolveInstanceType(step.instanceType);
  const cpus = step.local?.cpus ?? type.vcpus;
  const memoryGiB = step.local?.memoryGiB ?? type.memoryGiB;
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
