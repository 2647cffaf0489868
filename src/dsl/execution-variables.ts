import { inspect } from "node:util";
import { PIPELINE_VALUE, type PipelineValue } from "./pipeline-value.js";

export type ExecutionVariableName = "PipelineExecutionId" | "PipelineExecutionArn" | "PipelineName" | "PipelineArn" | "StartDateTime" | "CurrentDateTime";

/** A value the execution knows when it runs: its id, its pipeline, when it started. */
export class ExecutionVariable<T = unknown> implements PipelineValue<T> {
  declare readonly [PIPELINE_VALUE]: { readonly type?: T; readonly kind: "ExecutionVariable" };
  readonly name: ExecutionVariableName;

  constructor(name: ExecutionVariableName) {
    this.name = name;
    Object.defineProperty(this, PIPELINE_VALUE, { value: { kind: "ExecutionVariable" }, enumerable: false });
    Object.freeze(this);
  }

  get expr(): { Get: string } {
    return { Get: `Execution.${this.name}` };
  }

  [inspect.custom](): string {
    return `ExecutionVariable(${this.name})`;
  }
}

/** SageMaker's `ExecutionVariables`: strings, except the two date-times, which arrive as `Date`. */
export const ExecutionVariables = Object.freeze({
  PIPELINE_EXECUTION_ID: new ExecutionVariable<string>("PipelineExecutionId"),
  PIPELINE_EXECUTION_ARN: new ExecutionVariable<string>("PipelineExecutionArn"),
  PIPELINE_NAME: new ExecutionVariable<string>("PipelineName"),
  PIPELINE_ARN: new ExecutionVariable<string>("PipelineArn"),
  START_DATETIME: new ExecutionVariable<Date>("StartDateTime"),
  CURRENT_DATETIME: new ExecutionVariable<Date>("CurrentDateTime"),
});

export function isExecutionVariable(value: unknown): value is ExecutionVariable {
  return value instanceof ExecutionVariable;
}
