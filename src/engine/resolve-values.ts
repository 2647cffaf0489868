import { StepboxError } from "../errors.js";
import { isDelayedReturn, type DelayedReturn } from "../dsl/delayed-return.js";
import { isExecutionVariable, type ExecutionVariable } from "../dsl/execution-variables.js";
import { isJoin } from "../dsl/join.js";
import { isParameter } from "../dsl/parameters.js";
import { mapPipelineValues, type PipelineValue } from "../dsl/pipeline-value.js";

/** What pipeline values resolve against while an execution runs. */
export interface ValueScope {
  readonly parameters: ReadonlyMap<string, unknown>;
  readonly executionId: string;
  readonly executionArn: string;
  readonly pipelineName: string;
  readonly pipelineArn: string;
  readonly startTime: Date;
  /** The deserialized output of an upstream step that succeeded. */
  upstreamResult(stepName: string): Promise<unknown>;
}

/** Selects `path` inside a step's output, as `DelayedReturn.get()` chains describe it. */
function select(value: unknown, ref: DelayedReturn): unknown {
  let current = value;
  for (const key of ref.path) {
    if (current instanceof Map) {
      current = current.get(key);
    } else if (current !== null && typeof current === "object" && key in current) {
      current = (current as Record<string | number, unknown>)[key];
    } else {
      throw new StepboxError("INVALID_ARGUMENT", `the output of step "${ref.step.name}" has no ${JSON.stringify(key)} at ${ref.describe()}`, {
        hint: `check what step "${ref.step.name}" returns`,
      });
    }
  }
  return current;
}

function executionVariable(variable: ExecutionVariable, scope: ValueScope): unknown {
  switch (variable.name) {
    case "PipelineExecutionId":
      return scope.executionId;
    case "PipelineExecutionArn":
      return scope.executionArn;
    case "PipelineName":
      return scope.pipelineName;
    case "PipelineArn":
      return scope.pipelineArn;
    case "StartDateTime":
      return new Date(scope.startTime);
    case "CurrentDateTime":
      return new Date();
  }
}

async function resolveOne(value: PipelineValue, scope: ValueScope): Promise<unknown> {
  if (isDelayedReturn(value)) return select(await scope.upstreamResult(value.step.name), value);
  if (isParameter(value)) {
    if (!scope.parameters.has(value.name)) {
      throw new StepboxError("INVALID_ARGUMENT", `parameter "${value.name}" has no value in this execution`, {
        hint: "list it in new Pipeline({ parameters: [...] })",
      });
    }
    return scope.parameters.get(value.name);
  }
  if (isExecutionVariable(value)) return executionVariable(value, scope);
  if (isJoin(value)) {
    const parts = await Promise.all(value.values.map((part) => resolveValues(part, scope)));
    return parts.map((part) => (part instanceof Date ? part.toISOString() : String(part))).join(value.on);
  }
  throw new StepboxError("INVALID_ARGUMENT", "a pipeline value of an unknown kind cannot be resolved");
}

/** The value with every pipeline value inside it (top level, arrays, plain objects) replaced by its real value. */
export function resolveValues(value: unknown, scope: ValueScope): Promise<unknown> {
  return mapPipelineValues(value, (found) => resolveOne(found, scope));
}
