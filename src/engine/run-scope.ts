import { StepboxError } from "../errors.js";
import type { ExpressionScope } from "../definition/expressions.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import type { StoreUris } from "./store-uris.js";

/** The most `Std:JsonGet` reads of one object: results.json is a step's JSON result, not its data. */
const JSON_GET_LIMIT_BYTES = 16 * 1024 ** 2;

/** What a run's expressions see of the execution. */
export interface RunFacts {
  readonly parameters: ReadonlyMap<string, unknown>;
  readonly executionId: string;
  readonly executionArn: string;
  readonly pipelineName: string;
  readonly pipelineArn: string;
  readonly startTime: Date;
  readonly store: ArtifactStore;
  readonly uris: StoreUris;
}

/**
 * The scope a running execution evaluates its definition's expressions in: its parameters and
 * execution variables, the properties of its Training steps (their requests once evaluated, and what
 * their jobs produced, as DescribeTrainingJob answers), and JSON read from the store.
 */
export class RunScope implements ExpressionScope {
  readonly #facts: RunFacts;
  /** Each Training step's properties, from its evaluated request on, growing as its job ends. */
  readonly #properties = new Map<string, Record<string, unknown>>();

  constructor(facts: RunFacts) {
    this.#facts = facts;
  }

  /** A Training step's request, evaluated: its properties from now on. */
  started(step: string, request: Record<string, unknown>): void {
    this.#properties.set(step, { ...request });
  }

  /** What the step's job produced: its name, ARN, status and model artifacts. */
  ended(
    step: string,
    job: { readonly TrainingJobName: string; readonly Arn: string; readonly TrainingJobStatus?: string; readonly ModelArtifacts?: unknown },
  ): void {
    const properties = this.#properties.get(step) ?? {};
    this.#properties.set(step, {
      ...properties,
      TrainingJobName: job.TrainingJobName,
      TrainingJobArn: job.Arn,
      TrainingJobStatus: job.TrainingJobStatus,
      ...(job.ModelArtifacts ? { ModelArtifacts: job.ModelArtifacts } : {}),
    });
  }

  parameter(name: string): unknown {
    if (!this.#facts.parameters.has(name)) {
      throw new StepboxError("INVALID_ARGUMENT", `parameter "${name}" has no value in this execution`, { hint: "declare it in the definition's Parameters" });
    }
    return this.#facts.parameters.get(name);
  }

  executionVariable(name: string): unknown {
    const f = this.#facts;
    switch (name) {
      case "PipelineExecutionId":
        return f.executionId;
      case "PipelineExecutionArn":
        return f.executionArn;
      case "PipelineName":
        return f.pipelineName;
      case "PipelineArn":
        return f.pipelineArn;
      case "StartDateTime":
        return f.startTime.toISOString();
      case "CurrentDateTime":
        return new Date().toISOString();
      default:
        throw new StepboxError("INVALID_ARGUMENT", `Execution.${name} is not an execution variable`, {
          hint: "use PipelineExecutionId, PipelineExecutionArn, PipelineName, PipelineArn, StartDateTime or CurrentDateTime",
        });
    }
  }

  stepProperty(step: string, path: string): unknown {
    let current: unknown = this.#properties.get(step);
    if (current === undefined) {
      throw new StepboxError("INVALID_ARGUMENT", `Steps.${step}.${path} is not known yet: step "${step}" has not started`, {
        hint: `make the step that reads it wait for "${step}" (DependsOn, or read its output)`,
      });
    }
    for (const part of path.split(".")) {
      if (current === null || typeof current !== "object" || !Object.hasOwn(current, part)) {
        throw new StepboxError("INVALID_ARGUMENT", `step "${step}" has no property ${path}`, {
          hint: "Training steps have the properties of DescribeTrainingJob: OutputDataConfig.S3OutputPath, TrainingJobName, ModelArtifacts.S3ModelArtifacts...",
        });
      }
      current = (current as Record<string, unknown>)[part];
    }
    return current;
  }

  async readJson(s3Uri: string): Promise<unknown> {
    const key = this.#facts.uris.key(s3Uri, "Std:JsonGet's S3Uri");
    const bytes = await this.#facts.store.get(key);
    if (bytes.byteLength > JSON_GET_LIMIT_BYTES) {
      throw new StepboxError("INVALID_ARGUMENT", `${s3Uri} is ${bytes.byteLength} bytes, more than Std:JsonGet reads (${JSON_GET_LIMIT_BYTES})`, {
        hint: "return a smaller JSON value from the step whose result a condition reads",
      });
    }
    try {
      return JSON.parse(bytes.toString("utf8"));
    } catch (cause) {
      throw new StepboxError("INVALID_ARGUMENT", `${s3Uri} is not JSON`, { cause, hint: "Std:JsonGet reads a JSON file, such as a step's results.json" });
    }
  }
}
