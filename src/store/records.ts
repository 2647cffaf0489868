import { StoreError, UnknownExecutionError, NotFoundError, type RemoteErrorInfo, type StepFailure } from "../errors.js";

export type { FailureKind, StepFailure } from "../errors.js";
import type { ArtifactStore } from "./artifact-store.js";
import { layout } from "./layout.js";
import { recordShapes, type ShapeCheck } from "./record-shapes.js";

export type ExecutionStatus = "Executing" | "Stopping" | "Stopped" | "Failed" | "Succeeded";

/** Whether an execution has ended (Succeeded, Failed or Stopped): its record will not change again. */
export function executionEnded(status: ExecutionStatus): boolean {
  return status === "Succeeded" || status === "Failed" || status === "Stopped";
}
export type StepStatus = "Starting" | "Executing" | "Stopping" | "Stopped" | "Failed" | "Succeeded";

/** A status change of the step's training job, as DescribeTrainingJob's SecondaryStatusTransitions. */
export interface StatusTransition {
  Status: string;
  StartTime: string;
  EndTime?: string;
  StatusMessage?: string;
}

/** SageMaker keeps the first 1024 characters of a failure reason. */
const FAILURE_REASON_LIMIT = 1024;

/** SageMaker's FailureReason for a failure: the one place that text is made. */
export function failureReason(failure: StepFailure): string {
  const text =
    failure.kind === "StepReported" || failure.kind === "Fail" || failure.kind === "Interrupted" ? failure.message : `${failure.kind}: ${failure.message}`;
  return text.slice(0, FAILURE_REASON_LIMIT);
}

/** What the store keeps about one step of one execution. Times are ISO-8601 strings. */
export interface StepRecord {
  StepName: string;
  StepDisplayName: string;
  StepDescription: string;
  StepStatus: StepStatus;
  StartTime?: string;
  EndTime?: string;
  AttemptCount: number;
  /** Made from `Failure` when the record is written. */
  FailureReason?: string;
  /** Why the step failed or was stopped, as data. Not in SageMaker's API. */
  Failure?: StepFailure;
  Metadata: {
    TrainingJob?: {
      Arn: string;
      TrainingJobName: string;
      TrainingJobStatus?: string;
      SecondaryStatus?: string;
      SecondaryStatusTransitions?: StatusTransition[];
      LogStreams?: string[];
      ModelArtifacts?: { S3ModelArtifacts: string };
      OutputDataArtifacts?: string;
    };
    Condition?: { Outcome: "True" | "False" };
    Fail?: { ErrorMessage: string };
  };
  /** Set when the step's result came from an earlier execution's cached run. */
  CacheHitResult?: { SourcePipelineExecutionArn: string };
  /** Why a cached step ran: which part of its cache key changed. Not in SageMaker's API. */
  CacheMissReason?: string;
  /** Set when the step's result was taken from the source of a retry or selective execution. */
  SelectiveExecutionResult?: { SourcePipelineExecutionArn: string };
  /** Every attempt, in order, with its own job name and log streams. Not in SageMaker's API. */
  Attempts?: Array<{
    AttemptCount: number;
    StartTime: string;
    EndTime: string;
    StepStatus: StepStatus;
    FailureReason?: string;
    Failure?: StepFailure;
    TrainingJobName: string;
    LogStreams: string[];
  }>;
  /** The step function's own error, when it threw. */
  Error?: RemoteErrorInfo;
}

/** What the store keeps about one execution. Times are ISO-8601 strings. */
export interface ExecutionRecord {
  PipelineName: string;
  PipelineArn: string;
  PipelineExecutionId: string;
  PipelineExecutionArn: string;
  PipelineExecutionDisplayName: string;
  PipelineExecutionDescription?: string;
  PipelineExecutionStatus: ExecutionStatus;
  FailureReason?: string;
  CreationTime: string;
  LastModifiedTime: string;
  ParallelismConfiguration: { MaxParallelExecutionSteps: number };
  /** The parameter values the execution ran with, as ListPipelineParameters shows them. */
  PipelineParameters: Array<{ Name: string; Value: string }>;
  /** The same values with their JS types, for a retry or selective execution to run with. */
  ParameterValues: Record<string, string | number | boolean>;
  /** For a retry or selective execution: where the reused results come from, and what ran. */
  SelectiveExecutionConfig?: { SourcePipelineExecutionArn: string; SelectedSteps: Array<{ StepName: string }> };
  /** Every step of the execution's graph, in topological order. */
  StepNames: string[];
  /** The engine process that runs it, `<hostname>:<pid>`, to tell orphaned executions. */
  Owner: string;
}

export interface PipelineRecord {
  PipelineName: string;
  PipelineArn: string;
  PipelineDisplayName: string;
  PipelineDefinition: string;
  CreationTime: string;
  LastModifiedTime: string;
  /** Given by CreatePipeline or UpdatePipeline through `stepbox serve`; pipeline.upsert() keeps none. */
  PipelineDescription?: string;
  RoleArn?: string;
  ParallelismConfiguration?: { MaxParallelExecutionSteps: number };
  /** The CreatePipeline request's token: the same request repeated answers as the first did. */
  ClientRequestToken?: string;
}

/** A record that is not valid JSON, or not of its kind's shape: named by its key, never half-read. */
export class DamagedRecordError extends StoreError {
  readonly key: string;
  constructor(key: string, where: string, what: string, problem: string, cause?: unknown) {
    super(`the ${what} at ${where}/${key} is damaged: ${problem}`, {
      ...(cause !== undefined ? { cause } : {}),
      hint: "it was changed outside stepbox; restore it, or delete that execution's folder",
    });
    this.key = key;
  }
}

/**
 * Reads the JSON record at `key` and checks its shape: the one way any record of the store is read.
 * Throws `NotFoundError` when it is absent and `DamagedRecordError` (naming the key, and `what` it
 * is) when it is not valid JSON or not of its shape.
 */
export async function readRecord<T>(store: ArtifactStore, key: string, what: string, shape: ShapeCheck): Promise<T> {
  const bytes = await store.get(key);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new DamagedRecordError(key, store.uri, what, "it is not valid JSON", cause);
  }
  const problem = shape(value);
  if (problem !== undefined) throw new DamagedRecordError(key, store.uri, what, problem);
  return value as T;
}

function writeJson(store: ArtifactStore, key: string, value: unknown): Promise<void> {
  return store.put(key, JSON.stringify(value, null, 2));
}

/** Reads and writes the JSON records of pipelines, executions and steps. */
export class RecordStore {
  constructor(readonly store: ArtifactStore) {}

  writePipeline(record: PipelineRecord): Promise<void> {
    return writeJson(this.store, layout.pipeline(record.PipelineName), record);
  }

  async readPipeline(pipeline: string): Promise<PipelineRecord | undefined> {
    try {
      return await readRecord<PipelineRecord>(this.store, layout.pipeline(pipeline), "pipeline record", recordShapes.pipeline);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  writeExecution(record: ExecutionRecord): Promise<void> {
    return writeJson(this.store, layout.execution(record.PipelineName, record.PipelineExecutionId), record);
  }

  async readExecution(pipeline: string, execution: string): Promise<ExecutionRecord> {
    try {
      return await readRecord<ExecutionRecord>(this.store, layout.execution(pipeline, execution), "execution record", recordShapes.execution);
    } catch (error) {
      if (error instanceof NotFoundError) throw new UnknownExecutionError(execution, `${this.store.uri} for pipeline "${pipeline}"`);
      throw error;
    }
  }

  /** The ids of every recorded execution of a pipeline. */
  async listExecutionIds(pipeline: string): Promise<string[]> {
    const children = await this.store.listChildren(layout.pipelineRoot(pipeline));
    const ids: string[] = [];
    for (const child of children) {
      if (await this.store.exists(layout.execution(pipeline, child))) ids.push(child);
    }
    return ids;
  }

  /**
   * Every readable execution record of a pipeline. A damaged one is skipped and handed to `onDamaged`,
   * so one broken record does not hide every other execution.
   */
  async readExecutions(pipeline: string, onDamaged: (error: DamagedRecordError) => void): Promise<ExecutionRecord[]> {
    // Read all at once, as listing did before: on S3 each read is a round trip.
    const read = await Promise.all(
      (await this.listExecutionIds(pipeline)).map((id) =>
        this.readExecution(pipeline, id).catch((error: unknown) => {
          if (!(error instanceof DamagedRecordError)) throw error;
          onDamaged(error);
          return undefined;
        }),
      ),
    );
    return read.filter((record): record is ExecutionRecord => record !== undefined);
  }

  /** The names of every pipeline recorded in the store. */
  async listPipelines(): Promise<string[]> {
    const children = await this.store.listChildren("");
    const names: string[] = [];
    for (const child of children) {
      if (await this.store.exists(layout.pipeline(child))) names.push(child);
    }
    return names;
  }

  writeStep(pipeline: string, execution: string, record: StepRecord): Promise<void> {
    return writeJson(this.store, layout.step(pipeline, execution, record.StepName), record);
  }

  async readStep(pipeline: string, execution: string, step: string): Promise<StepRecord | undefined> {
    try {
      return await readRecord<StepRecord>(this.store, layout.step(pipeline, execution, step), "step record", recordShapes.step);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }
}
