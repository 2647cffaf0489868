import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { ValidationError } from "../errors.js";
import type { FunctionStep } from "../dsl/function-step.js";
import type { InputChannel } from "../runtime/docker-step-runner.js";
import { resolveInstanceType } from "../runtime/instance-types.js";

const CHANNEL_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** What a step's containers get: the instance type's CPU and memory, or the `local` override. */
export interface StepResources {
  readonly instanceType: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly memoryGiB: number;
  /** Set when the `local` override gives less than the instance type has. */
  readonly belowInstanceType: string | undefined;
}

function positive(step: string, key: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new ValidationError(`step "${step}": local.${key} must be a number > 0, got ${JSON.stringify(value)}`, {
      code: "INVALID_STEP_OPTION",
      hint: "for example local: { cpus: 1, memoryGiB: 2 }",
    });
  }
  return value;
}

/** The resources of a step; CPUs are capped at this machine's, which Docker refuses to exceed. */
export function stepResources(step: FunctionStep): StepResources {
  const type = resolveInstanceType(step.options.instanceType);
  const cpus = positive(step.name, "cpus", step.options.local?.cpus) ?? type.vcpus;
  const memoryGiB = positive(step.name, "memoryGiB", step.options.local?.memoryGiB) ?? type.memoryGiB;
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
  };
}

/** Checks a step's input channels before anything runs: names, schemes and folders that exist. */
export async function resolveInputChannels(step: FunctionStep): Promise<InputChannel[]> {
  const channels: InputChannel[] = [];
  for (const [name, uri] of Object.entries(step.options.inputs ?? {})) {
    const where = `step "${step.name}": input channel "${name}"`;
    if (!CHANNEL_NAME.test(name)) {
      throw new ValidationError(`${where}: the name is not a valid channel name`, {
        code: "INVALID_STEP_OPTION",
        hint: "use letters, digits, '.', '-' and '_' (at most 64), e.g. inputs: { train: \"file:///data/train\" }",
      });
    }
    if (typeof uri !== "string" || !uri.startsWith("file://")) {
      throw new ValidationError(`${where}: ${JSON.stringify(uri)} is not a file:// URI`, {
        code: "INVALID_STEP_OPTION",
        hint: "give a folder as file:///absolute/path",
      });
    }
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch (cause) {
      throw new ValidationError(`${where}: ${uri} is not a valid file:// URI`, { code: "INVALID_STEP_OPTION", cause, hint: "file:///absolute/path" });
    }
    const info = await stat(path).catch(() => undefined);
    if (!isAbsolute(path) || !info?.isDirectory()) {
      throw new ValidationError(`${where}: ${path} is not an existing folder`, {
        code: "INVALID_STEP_OPTION",
        hint: "a channel is a folder; its files appear read-only under /opt/ml/input/data/<channel>/",
      });
    }
    channels.push({ name, hostPath: path });
  }
  return channels;
}
