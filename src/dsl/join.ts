import { inspect } from "node:util";
import { PIPELINE_CHILDREN, PIPELINE_VALUE, type PipelineValue } from "./pipeline-value.js";

/**
 * SageMaker's `Join`: strings and pipeline values joined at run time, for a FailStep's message or
 * a condition's operand. `new Join({ on: " ", values: ["accuracy", report.get("accuracy"), "is too low"] })`.
 */
export class Join implements PipelineValue<string> {
  declare readonly [PIPELINE_VALUE]: { readonly type?: string; readonly kind: "Join" };
  readonly on: string;
  readonly values: readonly unknown[];

  constructor(options: { on?: string; values: readonly unknown[] }) {
    this.on = options.on ?? "";
    this.values = [...options.values];
    Object.defineProperty(this, PIPELINE_VALUE, { value: { kind: "Join" }, enumerable: false });
    Object.defineProperty(this, PIPELINE_CHILDREN, { value: this.values, enumerable: false });
    Object.freeze(this);
  }

  [inspect.custom](): string {
    return `Join(${JSON.stringify(this.on)}, ${this.values.length} values)`;
  }
}

export function isJoin(value: unknown): value is Join {
  return value instanceof Join;
}
