import { createHash } from "node:crypto";
import { isDelayedReturn } from "../dsl/delayed-return.js";
import { FunctionStep, type PipelineStep } from "../dsl/function-step.js";
import { isPipelineValue } from "../dsl/pipeline-value.js";
import { type Condition, ConditionComparison, ConditionIn, ConditionNot, ConditionOr } from "../dsl/conditions.js";
import { ConditionStep, FailStep } from "../dsl/control-steps.js";
import { isJoin } from "../dsl/join.js";
import { resolveInstanceType } from "../dsl/instance-types.js";
import type { PipelineGraph } from "./compile.js";
import { projectRelativePaths } from "../dsl/module-path.js";

const DEFINITION_VERSION = "2020-12-01";

/**
 * The pipeline definition as SageMaker's `Pipeline.definition()` writes it, with the same top-level
 * keys and a `Training` step per function step. Unlike SageMaker's, it embeds no timestamps, random
 * names or paths of this machine (modules are named from their project's root), so the same pipeline
 * gives the same bytes every time, from any checkout.
 */
export function pipelineDefinition(graph: PipelineGraph, parameters: readonly unknown[] = []): string {
  const modulePath = projectRelativePaths();
  const doc = {
    Version: DEFINITION_VERSION,
    Metadata: {},
    Parameters: parameters,
    PipelineExperimentConfig: {
      ExperimentName: { Get: "Execution.PipelineName" },
      TrialName: { Get: "Execution.PipelineExecutionId" },
    },
    Steps: graph.steps.map((s) => stepJson(s, graph, modulePath)),
  };
  return JSON.stringify(doc);
}

function stepJson(step: PipelineStep, graph: PipelineGraph, modulePath: (file: string) => string): object {
  const dependsOn = graph.upstream.get(step.name) ?? [];
  if (step instanceof FunctionStep) {
    const o = step.options;
    const instance = resolveInstanceType(o.instanceType);
    return {
      Name: step.name,
      Type: "Training",
      DisplayName: step.displayName,
      Description: step.description,
      DependsOn: dependsOn,
      Arguments: {
        AlgorithmSpecification: {
          TrainingImage: o.imageUri ?? "stepbox-runtime",
          TrainingInputMode: "File",
          ContainerEntrypoint: ["/usr/local/bin/node", "/opt/stepbox/runner.mjs"],
        },
        ResourceConfig: {
          InstanceType: instance.name,
          InstanceCount: o.instanceCount ?? 1,
          VolumeSizeInGB: o.volumeSize ?? 30,
          KeepAlivePeriodInSeconds: o.keepAlivePeriodInSeconds ?? 0,
        },
        StoppingCondition: { MaxRuntimeInSeconds: o.maxRuntimeInSeconds ?? 86400 },
        RetryStrategy: { MaximumRetryAttempts: o.maxRetryAttempts ?? 1 },
        Environment: o.environmentVariables ?? {},
        HyperParameters: Object.fromEntries(Object.entries(o.hyperparameters ?? {}).map(([k, v]) => [k, String(v)])),
        EnableNetworkIsolation: o.network !== true,
        Function: {
          Module: step.definition.sourceFile ? modulePath(step.definition.sourceFile) : null,
          Name: step.definition.baseName,
        },
        FunctionArguments: step.args.map(argumentJson),
      },
      ...(o.retryPolicies ? { RetryPolicies: o.retryPolicies } : {}),
      ...(o.cacheConfig ? { CacheConfig: { Enabled: o.cacheConfig.enableCaching, ExpireAfter: o.cacheConfig.expireAfter } } : {}),
    };
  }
  if (step instanceof ConditionStep) {
    const branches = graph.branches.get(step.name);
    return {
      Name: step.name,
      Type: "Condition",
      DisplayName: step.displayName,
      Description: step.description,
      DependsOn: dependsOn.filter((d) => !branches?.ifSteps.includes(d) && !branches?.elseSteps.includes(d)),
      Arguments: { Conditions: step.conditions.map(conditionJson), IfSteps: branches?.ifSteps ?? [], ElseSteps: branches?.elseSteps ?? [] },
    };
  }
  if (step instanceof FailStep) {
    return {
      Name: step.name,
      Type: "Fail",
      DisplayName: step.displayName,
      Description: step.description,
      DependsOn: dependsOn,
      Arguments: { ErrorMessage: argumentJson(step.errorMessage) },
    };
  }
  return { Name: step.name, DisplayName: step.displayName, Description: step.description, DependsOn: dependsOn };
}

function conditionJson(condition: Condition): object {
  if (condition instanceof ConditionComparison)
    return { Type: condition.type, LeftValue: argumentJson(condition.left), RightValue: argumentJson(condition.right) };
  if (condition instanceof ConditionIn) return { Type: "In", QueryValue: argumentJson(condition.value), Values: condition.inValues.map(argumentJson) };
  if (condition instanceof ConditionNot) return { Type: "Not", Condition: conditionJson(condition.expression) };
  if (condition instanceof ConditionOr) return { Type: "Or", Conditions: condition.conditions.map(conditionJson) };
  return { Type: "Unknown" };
}

/** A step argument as JSON: pipeline values as `{"Get": ...}` references, other values tagged by type. */
function argumentJson(value: unknown): unknown {
  if (isDelayedReturn(value)) return { Get: `Steps.${value.describe()}` };
  if (isJoin(value)) return { "Std:Join": { On: value.on, Values: value.values.map(argumentJson) } };
  if (isPipelineValue(value)) return (value as unknown as { expr: unknown }).expr;
  switch (typeof value) {
    case "undefined":
      return { Undefined: true };
    case "bigint":
      return { BigInt: value.toString() };
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0) ? value : { Number: String(value) };
    case "string":
    case "boolean":
      return value;
    case "object":
      break;
    default:
      return { Unsupported: typeof value };
  }
  if (value === null) return null;
  if (value instanceof Date) return { Date: Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString() };
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return { Bytes: { Type: value.constructor.name, Length: bytes.byteLength, Sha256: createHash("sha256").update(bytes).digest("hex") } };
  }
  if (value instanceof Map) return { Map: [...value].map(([k, v]) => [argumentJson(k), argumentJson(v)]) };
  if (value instanceof Set) return { Set: [...value].map(argumentJson) };
  if (value instanceof RegExp) return { RegExp: value.toString() };
  if (value instanceof Error) return { Error: { Name: value.name, Message: value.message } };
  if (Array.isArray(value)) return value.map(argumentJson);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, argumentJson(v)]));
}
