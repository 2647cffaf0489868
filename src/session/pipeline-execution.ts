import { NotFoundError, StepboxError, StepFailedError, UnknownStepError, ValidationError } from "../errors.js";
import type { ExecutionEvent } from "../engine/execution-events.js";
import type { ExecutionRun } from "../engine/execution-run.js";
import { readPayload, stepSeal } from "../engine/payloads.js";
import { readDefinition } from "../definition/read-definition.js";
import { isTerminal, recordedFailure } from "../store/step-state.js";
import { executionArn } from "../naming/sagemaker-arns.js";
import { deriveExecutionKey } from "../serialization/signing.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { layout } from "../store/layout.js";
import {
  executionEnded,
  failureReason,
  type ExecutionRecord,
  type ExecutionStatus,
  type StepFailure,
  type StepRecord,
  type StepStatus,
} from "../store/records.js";
import type { LocalPipelineSession } from "./local-pipeline-session.js";
import type { Pipeline } from "./pipeline.js";
import { watchRecordedExecution } from "./recorded-events.js";

/** DescribePipelineExecution's answer. */
export interface PipelineExecutionDescription {
  PipelineArn: string;
  PipelineExecutionArn: string;
  PipelineExecutionDisplayName: string;
  PipelineExecutionDescription?: string;
  PipelineExecutionStatus: ExecutionStatus;
  FailureReason?: string;
  CreationTime: Date;
  LastModifiedTime: Date;
  ParallelismConfiguration: { MaxParallelExecutionSteps: number };
  PipelineExperimentConfig: { ExperimentName: string; TrialName: string };
  SelectiveExecutionConfig?: ExecutionRecord["SelectiveExecutionConfig"];
}

/** DescribePipelineDefinitionForExecution's answer. */
export interface PipelineExecutionDefinition {
  /** The definition JSON the execution ran with, byte for byte, whatever the pipeline became since. */
  PipelineDefinition: string;
  /**
   * When the execution started, which is when it took this definition. SageMaker documents the
   * field as the pipeline's creation time; a local store keeps no pipeline versions, and this is the
   * moment that dates the definition.
   */
  CreationTime: Date;
}

/** An item of ListPipelineExecutionSteps. */
export interface PipelineExecutionStep {
  StepName: string;
  StepDisplayName: string;
  StepDescription: string;
  StepStatus: StepStatus;
  StartTime?: Date;
  EndTime?: Date;
  AttemptCount: number;
  FailureReason?: string;
  /** Not in SageMaker's API: why it failed or was stopped, as data (kind, exit code, OOM, job exception type). */
  Failure?: StepFailure;
  Metadata: StepRecord["Metadata"];
  CacheHitResult?: { SourcePipelineExecutionArn: string };
  SelectiveExecutionResult?: { SourcePipelineExecutionArn: string };
  /** Not in SageMaker's API: why a cached step ran. */
  CacheMissReason?: string;
  /** Not in SageMaker's API: every attempt with its own job name and log streams. */
  Attempts?: StepRecord["Attempts"];
}

const POLL_MS = 250;

function toDate(iso: string | undefined): Date | undefined {
  return iso === undefined ? undefined : new Date(iso);
}

/** A step's record as ListPipelineExecutionSteps answers it. */
export function stepView(r: StepRecord): PipelineExecutionStep {
  return {
    StepName: r.StepName,
    StepDisplayName: r.StepDisplayName,
    StepDescription: r.StepDescription,
    StepStatus: r.StepStatus,
    ...(r.StartTime ? { StartTime: new Date(r.StartTime) } : {}),
    ...(r.EndTime ? { EndTime: toDate(r.EndTime)! } : {}),
    AttemptCount: r.AttemptCount,
    ...(r.FailureReason !== undefined ? { FailureReason: r.FailureReason } : {}),
    ...(r.Failure ? { Failure: r.Failure } : {}),
    Metadata: r.Metadata,
    ...(r.CacheHitResult ? { CacheHitResult: r.CacheHitResult } : {}),
    ...(r.SelectiveExecutionResult ? { SelectiveExecutionResult: r.SelectiveExecutionResult } : {}),
    ...(r.CacheMissReason ? { CacheMissReason: r.CacheMissReason } : {}),
    ...(r.Attempts ? { Attempts: r.Attempts } : {}),
  };
}

/**
 * One run of a pipeline. It answers from the live run when this process started it, and from the
 * artifact store otherwise, so another process can inspect and read any recorded execution.
 */
export class PipelineExecution {
  readonly id: string;
  readonly pipelineName: string;
  readonly #session: LocalPipelineSession;
  readonly #run: ExecutionRun | undefined;
  readonly #pipeline: Pipeline | undefined;

  constructor(session: LocalPipelineSession, pipelineName: string, id: string, run?: ExecutionRun, pipeline?: Pipeline) {
    this.#session = session;
    this.pipelineName = pipelineName;
    this.id = id;
    this.#run = run;
    this.#pipeline = pipeline;
  }

  /** The parameter values the execution ran with, as ListPipelineParameters shows them. */
  async listParameters(): Promise<{ PipelineParameters: Array<{ Name: string; Value: string }> }> {
    return { PipelineParameters: (await this.#record()).PipelineParameters };
  }

  /**
   * Starts a new execution of the same pipeline that reuses the results of the steps that
   * succeeded here and runs the failed, stopped and never-started ones again.
   */
  async retry(): Promise<PipelineExecution> {
    if (!this.#pipeline) {
      throw new ValidationError(`execution ${this.id} was loaded without its Pipeline, which a retry needs to rebuild its steps`, {
        hint: "get it with pipeline.execution(id) from the Pipeline object, then call retry()",
      });
    }
    await this.wait();
    return this.#pipeline.retryExecution(this.id);
  }

  get arn(): string {
    return executionArn(this.pipelineName, this.id);
  }

  /**
   * The execution's record. A live run's end is told only once it is in the store: a caller that
   * exits the moment it learns the end leaves a record that says the same.
   */
  async #record(): Promise<ExecutionRecord> {
    const run = this.#run;
    if (!run) return this.#session.records.readExecution(this.pipelineName, this.id);
    if (executionEnded(run.record.PipelineExecutionStatus)) await this.#durableEnd(run);
    return run.record;
  }

  /** Resolves once the run's end record, and every record before it, is in the store. */
  async #durableEnd(run: ExecutionRun): Promise<void> {
    await run.done;
    await run.flush();
  }

  async #stepRecord(name: string): Promise<StepRecord | undefined> {
    return this.#run ? this.#run.step(name) : this.#session.records.readStep(this.pipelineName, this.id, name);
  }

  async describe(): Promise<PipelineExecutionDescription> {
    const r = await this.#record();
    return {
      PipelineArn: r.PipelineArn,
      PipelineExecutionArn: r.PipelineExecutionArn,
      PipelineExecutionDisplayName: r.PipelineExecutionDisplayName,
      ...(r.PipelineExecutionDescription !== undefined ? { PipelineExecutionDescription: r.PipelineExecutionDescription } : {}),
      PipelineExecutionStatus: r.PipelineExecutionStatus,
      ...(r.FailureReason !== undefined ? { FailureReason: r.FailureReason } : {}),
      CreationTime: new Date(r.CreationTime),
      LastModifiedTime: new Date(r.LastModifiedTime),
      ParallelismConfiguration: r.ParallelismConfiguration,
      PipelineExperimentConfig: { ExperimentName: r.PipelineName, TrialName: r.PipelineExecutionId },
      ...(r.SelectiveExecutionConfig ? { SelectiveExecutionConfig: r.SelectiveExecutionConfig } : {}),
    };
  }

  /**
   * The definition JSON the execution ran with, as DescribePipelineDefinitionForExecution. An execution
   * recorded by a stepbox that did not keep it has none: that throws a `StepboxError` with code
   * `NOT_FOUND` rather than answering with the pipeline's latest definition, which may not be what ran.
   */
  async describeDefinition(): Promise<PipelineExecutionDefinition> {
    const record = await this.#record();
    const definition = await readExecutionDefinition(this.#session.store, this.pipelineName, this.id);
    if (definition === undefined) {
      throw new StepboxError(
        "NOT_FOUND",
        `execution ${this.id} of pipeline "${this.pipelineName}" has no definition of its own in ${this.#session.store.uri}`,
        {
          hint: "it was recorded before stepbox kept each execution's definition; the pipeline's latest (pipeline.describe(), or stepbox definition <pipeline-file>) may differ from what it ran",
        },
      );
    }
    return { PipelineDefinition: definition, CreationTime: new Date(record.CreationTime) };
  }

  /** The steps that have started, newest first, as SageMaker lists them. */
  async listSteps(): Promise<PipelineExecutionStep[]> {
    const r = await this.#record();
    const records = await Promise.all(r.StepNames.map((name) => this.#stepRecord(name)));
    return records
      .filter((s): s is StepRecord => s !== undefined)
      .map(stepView)
      .sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0));
  }

  /**
   * What happens in the execution, as typed events, until it ends: the execution's and each step's
   * state changes, retries, transfers and the steps' log lines. Iterating starts with the state
   * changes so far, then buffers every event from the moment `events()` is called, and ends after the
   * event that says the execution ended (its record is in the store by then).
   *
   * An execution this process does not run (another process runs it, or it ended) is followed by
   * reading its records about four times a second: its state changes as they are seen, without log
   * lines, transfers or retries, which only the running process knows.
   */
  events(): AsyncIterableIterator<ExecutionEvent> {
    return this.#run ? this.#run.events.iterate() : watchRecordedExecution(this.#session.records, this.pipelineName, this.id);
  }

  /** Resolves when the execution has ended (Succeeded, Failed or Stopped), with its description. */
  async wait(): Promise<PipelineExecutionDescription> {
    if (this.#run) {
      await this.#durableEnd(this.#run);
    } else {
      while (!executionEnded((await this.#record()).PipelineExecutionStatus)) await sleep(POLL_MS);
    }
    return this.describe();
  }

  /**
   * Stops the execution: running steps get SIGTERM, then SIGKILL after the grace period. An execution
   * that another process runs is asked through the store; that process stops it within a second.
   */
  async stop(): Promise<void> {
    if (this.#run) {
      this.#run.stop();
      return;
    }
    const record = await this.#record();
    if (executionEnded(record.PipelineExecutionStatus)) return;
    await this.#session.store.put(
      layout.stopRequest(this.pipelineName, this.id),
      JSON.stringify({ RequestedAt: new Date().toISOString(), By: this.#session.owner }),
    );
  }

  /**
   * Waits for a step to end and returns its output. Throws `StepFailedError` (with the step's
   * FailureReason and its own error's name, message and stack) when it failed, was stopped or never ran.
   */
  async result(stepName: string): Promise<unknown> {
    const r = await this.#record();
    if (!r.StepNames.includes(stepName)) throw new UnknownStepError(stepName, r.StepNames);
    const step = await this.#waitForStep(stepName);
    if (step?.StepStatus === "Succeeded") {
      if (this.#run) return this.#run.result(stepName);
      const key = deriveExecutionKey(await this.#session.masterKey(), this.id);
      // A client-signed step's result carries its digest, as a SageMaker job leaves it: the definition it ran says which.
      const definition = await readExecutionDefinition(this.#session.store, this.pipelineName, this.id);
      const seal = stepSeal(definition === undefined ? undefined : readDefinition(definition).step(stepName), key);
      return readPayload(this.#session.store, { pipeline: this.pipelineName, execution: this.id, step: stepName, kind: "results" }, seal);
    }
    if (!step) {
      const ended = await this.#record();
      throw new StepFailedError({
        stepName,
        failureReason: `the execution ended ${ended.PipelineExecutionStatus}${ended.FailureReason ? ` (${ended.FailureReason})` : ""} first`,
        status: "NotRun",
      });
    }
    const failure = recordedFailure(step);
    const started = step.StartTime ? Date.parse(step.StartTime) : Number.NaN;
    const ended = step.EndTime ? Date.parse(step.EndTime) : Number.NaN;
    throw new StepFailedError({
      stepName,
      failureReason: step.FailureReason ?? failureReason(failure),
      status: step.StepStatus === "Stopped" ? "Stopped" : "Failed",
      failure,
      originalError: step.Error,
      durationMs: Number.isFinite(ended - started) ? ended - started : undefined,
    });
  }

  /**
   * The step's record once it is terminal, or undefined when the execution ended without running it.
   * From a live run, only once that record is in the store (see ExecutionRun.stepEnded).
   */
  async #waitForStep(name: string): Promise<StepRecord | undefined> {
    if (this.#run) return this.#run.stepEnded(name);
    for (;;) {
      const step = await this.#stepRecord(name);
      if (step && isTerminal(step.StepStatus)) return step;
      if (executionEnded((await this.#record()).PipelineExecutionStatus)) {
        const last = await this.#stepRecord(name);
        return last && isTerminal(last.StepStatus) ? last : undefined;
      }
      await sleep(POLL_MS);
    }
  }
}

/**
 * The definition JSON an execution ran with, or undefined for one recorded before stepbox kept it:
 * describeDefinition() refuses those, while a picture of the run falls back to the pipeline's latest.
 */
export async function readExecutionDefinition(store: ArtifactStore, pipelineName: string, id: string): Promise<string | undefined> {
  try {
    return (await store.get(layout.executionDefinition(pipelineName, id))).toString("utf8");
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
