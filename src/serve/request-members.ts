/**
 * Reads and checks the members of a request body as SageMaker does: every problem is collected and
 * answered at once in AWS's words ("2 validation errors detected: Value null at 'pipelineName' failed
 * to satisfy constraint: Member must not be null; ..."). A member of the wrong JSON type is a
 * SerializationException, as AWS answers it.
 */
import { ApiError, validation } from "./api-error.js";

/** SageMaker's patterns and limits for the members serve reads. */
export const PATTERNS = {
  pipelineName: /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$/,
  pipelineNameOrArn: /^(arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:pipeline\/.*)?([a-zA-Z0-9](-*[a-zA-Z0-9]){0,255})$/,
  executionArn: /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:pipeline\/.*\/execution\/.*$/,
  roleArn: /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/,
  executionDisplayName: /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}$/,
  parameterName: /^[A-Za-z0-9\-_]*$/,
  // SageMaker's is `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`; stepbox's job names keep the `_` a step name may have.
  trainingJobName: /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/,
} as const;

interface StringRule {
  required?: boolean;
  min?: number;
  max?: number;
  pattern?: RegExp;
  oneOf?: readonly string[];
}

/** The member's name as AWS's validation messages spell it: `pipelineName` for `PipelineName`. */
function wireName(member: string): string {
  return member.charAt(0).toLowerCase() + member.slice(1);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class RequestMembers {
  readonly #body: Record<string, unknown>;
  readonly #problems: string[] = [];

  constructor(body: Record<string, unknown>) {
    this.#body = body;
  }

  /** Throws the ValidationException of every problem found so far, if any. */
  check(): void {
    const n = this.#problems.length;
    if (n > 0) throw validation(`${n} validation error${n > 1 ? "s" : ""} detected: ${this.#problems.join("; ")}`);
  }

  string(member: string, rule: StringRule & { required: true }): string;
  string(member: string, rule?: StringRule): string | undefined;
  string(member: string, rule: StringRule = {}): string | undefined {
    return this.#stringAt(wireName(member), this.#body[member], rule);
  }

  #stringAt(at: string, value: unknown, rule: StringRule): string | undefined {
    if (value === undefined || value === null) {
      if (rule.required) this.#problems.push(`Value null at '${at}' failed to satisfy constraint: Member must not be null`);
      return undefined;
    }
    if (typeof value !== "string") throw new ApiError("SerializationException", `${at} must be a string, got ${JSON.stringify(value)}`);
    const shown = `Value '${value.length > 200 ? `${value.slice(0, 200)}...` : value}' at '${at}' failed to satisfy constraint: Member must`;
    if (rule.min !== undefined && value.length < rule.min) this.#problems.push(`${shown} have length greater than or equal to ${rule.min}`);
    else if (rule.max !== undefined && value.length > rule.max) this.#problems.push(`${shown} have length less than or equal to ${rule.max}`);
    else if (rule.pattern && !rule.pattern.test(value)) this.#problems.push(`${shown} satisfy regular expression pattern: ${rule.pattern.source}`);
    else if (rule.oneOf && !rule.oneOf.includes(value)) this.#problems.push(`${shown} satisfy enum value set: [${rule.oneOf.join(", ")}]`);
    else return value;
    return undefined;
  }

  integer(member: string, rule: { min?: number; max?: number } = {}): number | undefined {
    const value = this.#body[member];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value))
      throw new ApiError("SerializationException", `${wireName(member)} must be an integer, got ${JSON.stringify(value)}`);
    const shown = `Value '${value}' at '${wireName(member)}' failed to satisfy constraint: Member must have value`;
    if (rule.min !== undefined && value < rule.min) this.#problems.push(`${shown} greater than or equal to ${rule.min}`);
    else if (rule.max !== undefined && value > rule.max) this.#problems.push(`${shown} less than or equal to ${rule.max}`);
    else return value;
    return undefined;
  }

  /** A timestamp member (epoch seconds, as JSON 1.1 sends them), as a Date. */
  time(member: string): Date | undefined {
    const value = this.#body[member];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value))
      throw new ApiError("SerializationException", `${wireName(member)} must be a timestamp in epoch seconds, got ${JSON.stringify(value)}`);
    return new Date(value * 1000);
  }

  /** `ParallelismConfiguration: { MaxParallelExecutionSteps }`. */
  parallelism(member = "ParallelismConfiguration"): { MaxParallelExecutionSteps: number } | undefined {
    const value = this.#body[member];
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) throw new ApiError("SerializationException", `${wireName(member)} must be a structure`);
    const steps = value.MaxParallelExecutionSteps;
    const at = `${wireName(member)}.maxParallelExecutionSteps`;
    if (steps === undefined || steps === null) {
      this.#problems.push(`Value null at '${at}' failed to satisfy constraint: Member must not be null`);
      return undefined;
    }
    if (typeof steps !== "number" || !Number.isInteger(steps)) throw new ApiError("SerializationException", `${at} must be an integer`);
    if (steps < 1) {
      this.#problems.push(`Value '${steps}' at '${at}' failed to satisfy constraint: Member must have value greater than or equal to 1`);
      return undefined;
    }
    return { MaxParallelExecutionSteps: steps };
  }

  /** `PipelineParameters: [{ Name, Value }]`, at most 200. */
  parameters(member = "PipelineParameters"): Array<{ Name: string; Value: string }> | undefined {
    const value = this.#body[member];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) throw new ApiError("SerializationException", `${wireName(member)} must be a list`);
    if (value.length > 200) {
      this.#problems.push(`Value at '${wireName(member)}' failed to satisfy constraint: Member must have length less than or equal to 200`);
      return undefined;
    }
    const parameters: Array<{ Name: string; Value: string }> = [];
    for (const [i, item] of value.entries()) {
      if (!isObject(item)) throw new ApiError("SerializationException", `${wireName(member)}.${i + 1} must be a structure`);
      const at = `${wireName(member)}.${i + 1}.member`;
      const name = this.#stringAt(`${at}.name`, item.Name, { required: true, min: 1, max: 256, pattern: PATTERNS.parameterName });
      const v = this.#stringAt(`${at}.value`, item.Value, { required: true, max: 2500 });
      if (name !== undefined && v !== undefined) parameters.push({ Name: name, Value: v });
    }
    return parameters;
  }

  /** `SelectiveExecutionConfig: { SourcePipelineExecutionArn, SelectedSteps: [{ StepName }] }`, 1 to 50 steps. */
  selectiveExecution(member = "SelectiveExecutionConfig"): { sourceExecutionArn: string; steps: string[] } | undefined {
    const value = this.#body[member];
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) throw new ApiError("SerializationException", `${wireName(member)} must be a structure`);
    const at = wireName(member);
    const source = this.#stringAt(`${at}.sourcePipelineExecutionArn`, value.SourcePipelineExecutionArn, {
      required: true,
      max: 2048,
      pattern: PATTERNS.executionArn,
    });
    const selected = value.SelectedSteps;
    if (!Array.isArray(selected)) throw new ApiError("SerializationException", `${at}.SelectedSteps must be a list`);
    if (selected.length < 1 || selected.length > 50) {
      this.#problems.push(`Value at '${at}.selectedSteps' failed to satisfy constraint: Member must have length between 1 and 50`);
      return undefined;
    }
    const steps: string[] = [];
    for (const [i, item] of selected.entries()) {
      if (!isObject(item)) throw new ApiError("SerializationException", `${at}.SelectedSteps.${i + 1} must be a structure`);
      const name = this.#stringAt(`${at}.selectedSteps.${i + 1}.member.stepName`, item.StepName, { required: true, max: 256, pattern: /^[A-Za-z0-9\-_]*$/ });
      if (name !== undefined) steps.push(name);
    }
    return source === undefined ? undefined : { sourceExecutionArn: source, steps };
  }

  /** Whether the request has the member at all. */
  has(member: string): boolean {
    return this.#body[member] !== undefined && this.#body[member] !== null;
  }
}
