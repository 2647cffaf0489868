import { EventEmitter } from "node:events";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import PQueue from "p-queue";
import { FunctionStep, type PipelineStep } from "../dsl/function-step.js";
import type { PipelineGraph } from "../graph/compile.js";
import type { Logger } from "../logging/logger.js";
import { toRemoteErrorInfo } from "../serialization/codec.js";
import type { ExecutionRecord, ExecutionStatus, RecordStore, StepRecord } from "../store/records.js";
import { executeFunctionStep, type FunctionStepContext } from "./function-step-executor.js";
import type { PreparedStep } from "./preflight.js";
import { readPayload } from "./payloads.js";
import { transition } from "./step-state.js";

export type StepEventListener = (record: StepRecord) => void;

/** What an execution needs from its session, beyond the graph. */
export interface ExecutionServices
  extends Omit<
    FunctionStepContext,
    "upstreamResult" | "onProgress" | "signal" | "killSignal" | "executionId" | "executionArn" | "pipelineName" | "resources" | "channels" | "checkpointsDir"
  > {
  readonly records: RecordStore;
  readonly logger: Logger;
  /** Each function step's resources and channels, checked before the execution was recorded. */
  readonly preflight: ReadonlyMap<string, PreparedStep>;
}

/**
 * One running execution: schedules its steps in dependency order, at most `parallelism` at a
 * time, records every change in the store, and settles `done` when nothing more will run.
 */
export class ExecutionRun {
  readonly events = new EventEmitter();
  readonly done: Promise<ExecutionRecord>;
  #record: ExecutionRecord;
  readonly #steps = new Map<string, StepRecord>();
  readonly #graph: PipelineGraph;
  readonly #services: ExecutionServices;
  readonly #abort = new AbortController();
  readonly #kill = new AbortController();
  readonly #queue: PQueue;
  readonly #results = new Map<string, Promise<unknown>>();
  #failure: string | undefined;
  #writes: Promise<void> = Promise.resolve();
  /** Checkpoints outlive a step's attempts, and go when the execution ends. */
  readonly #checkpointsRoot: string;

  constructor(record: ExecutionRecord, graph: PipelineGraph, services: ExecutionServices) {
    this.#record = record;
    this.#graph = graph;
    this.#services = services;
    this.#queue = new PQueue({ concurrency: record.ParallelismConfiguration.MaxParallelExecutionSteps });
    this.events.setMaxListeners(0);
    this.#checkpointsRoot = join(tmpdir(), `stepbox-checkpoints-${record.PipelineExecutionId}`);
    this.done = this.#run();
  }

  get record(): ExecutionRecord {
    return this.#record;
  }

  step(name: string): StepRecord | undefined {
    return this.#steps.get(name);
  }

  /**
   * Stops the execution: no new step starts, running containers get SIGTERM, then SIGKILL after the
   * grace period; with `force`, SIGKILL at once.
   */
  stop({ force = false }: { force?: boolean } = {}): void {
    if (isFinal(this.#record.PipelineExecutionStatus)) return;
    if (!this.#abort.signal.aborted) {
      this.#setExecution("Stopping");
      this.#abort.abort();
    }
    if (force) this.#kill.abort();
  }

  async #run(): Promise<ExecutionRecord> {
    const log = this.#services.logger.child({ execution: this.#record.PipelineExecutionId });
    log.info({ event: "execution.started", steps: this.#record.StepNames }, "execution started");
    const waiting = new Map<string, number>();
    for (const s of this.#graph.steps) waiting.set(s.name, this.#graph.upstream.get(s.name)?.length ?? 0);
    const schedule = (s: PipelineStep): void => {
      void this.#queue.add(() => this.#runStep(s, log)).then((succeeded) => {
        if (!succeeded) return;
        for (const next of this.#graph.downstream.get(s.name) ?? []) {
          const left = waiting.get(next)! - 1;
          waiting.set(next, left);
          if (left === 0 && this.#canStart()) schedule(this.#graph.step(next)!);
        }
      });
    };
    for (const s of this.#graph.steps) if (waiting.get(s.name) === 0) schedule(s);
    await waitUntilIdle(this.#queue);
    await rm(this.#checkpointsRoot, { recursive: true, force: true });

    const status: ExecutionStatus = this.#abort.signal.aborted ? "Stopped" : this.#failure ? "Failed" : "Succeeded";
    this.#setExecution(status, this.#failure);
    await this.#writes;
    log.info({ event: "execution.ended", status }, `execution ${status}`);
    this.events.emit("done", this.#record);
    return this.#record;
  }

  #canStart(): boolean {
    return this.#failure === undefined && !this.#abort.signal.aborted;
  }

  /** Runs one step to its end; resolves to whether it succeeded. Never throws. */
  async #runStep(s: PipelineStep, log: Logger): Promise<boolean> {
    if (!this.#canStart()) return false;
    const stepLog = log.child({ step: s.name });
    let record: StepRecord = {
      StepName: s.name,
      StepDisplayName: s.displayName,
      StepDescription: s.description,
      StepStatus: "Starting",
      StartTime: new Date().toISOString(),
      AttemptCount: 1,
      Metadata: {},
    };
    this.#setStep(record);
    stepLog.info({ event: "step.started" }, "step started");
    try {
      if (!(s instanceof FunctionStep)) throw new Error(`internal: no executor for step "${s.name}"`);
      record = transition(record, "Executing");
      this.#setStep(record);
      const outcome = await executeFunctionStep(s, this.#functionContext(s, () => record, (r) => (record = r)));
      record = transition(this.#steps.get(s.name)!, outcome.status, {
        Metadata: { TrainingJob: outcome.trainingJob },
        ...(outcome.failureReason !== undefined ? { FailureReason: outcome.failureReason } : {}),
        ...(outcome.error ? { Error: outcome.error } : {}),
      });
    } catch (error) {
      const info = toRemoteErrorInfo(error);
      record = transition(this.#steps.get(s.name) ?? record, "Failed", { FailureReason: `${info.name}: ${info.message}`.slice(0, 1024) });
    }
    this.#setStep(record);
    stepLog.info({ event: "step.ended", status: record.StepStatus }, `step ${record.StepStatus}`);
    if (record.StepStatus === "Failed" && this.#failure === undefined) {
      this.#failure = `Step '${s.name}' failed with message: ${record.FailureReason ?? "unknown"}`.slice(0, 1024);
    }
    return record.StepStatus === "Succeeded";
  }

  #functionContext(s: FunctionStep, current: () => StepRecord, update: (r: StepRecord) => void): FunctionStepContext {
    const r = this.#record;
    const prepared = this.#services.preflight.get(s.name);
    if (!prepared) throw new Error(`internal: step "${s.name}" was not checked before the run`);
    return {
      ...this.#services,
      ...prepared,
      checkpointsDir: join(this.#checkpointsRoot, s.name),
      pipelineName: r.PipelineName,
      executionId: r.PipelineExecutionId,
      executionArn: r.PipelineExecutionArn,
      signal: this.#abort.signal,
      killSignal: this.#kill.signal,
      upstreamResult: (name) => this.result(name),
      onProgress: (trainingJob) => {
        const next = { ...current(), Metadata: { TrainingJob: trainingJob } };
        update(next);
        this.#setStep(next);
      },
    };
  }

  /** The output of a step of this execution that succeeded, read once and verified. */
  result(name: string): Promise<unknown> {
    let cached = this.#results.get(name);
    if (!cached) {
      const r = this.#record;
      cached = readPayload(this.#services.store, { pipeline: r.PipelineName, execution: r.PipelineExecutionId, step: name, kind: "results" }, this.#services.key);
      this.#results.set(name, cached);
    }
    return cached;
  }

  #setStep(record: StepRecord): void {
    this.#steps.set(record.StepName, record);
    this.#record = { ...this.#record, LastModifiedTime: new Date().toISOString() };
    this.#enqueueWrite(() => this.#services.records.writeStep(this.#record.PipelineName, this.#record.PipelineExecutionId, record));
    this.events.emit("step", record);
  }

  #setExecution(status: ExecutionStatus, failureReason?: string): void {
    this.#record = {
      ...this.#record,
      PipelineExecutionStatus: status,
      LastModifiedTime: new Date().toISOString(),
      ...(failureReason !== undefined ? { FailureReason: failureReason } : {}),
    };
    const snapshot = this.#record;
    this.#enqueueWrite(() => this.#services.records.writeExecution(snapshot));
    this.events.emit("execution", snapshot);
  }

  /** Record writes happen in order, one at a time, so the store never goes back to an older state. */
  #enqueueWrite(write: () => Promise<void>): void {
    this.#writes = this.#writes.then(write).catch((error: unknown) => {
      this.#services.logger.error({ event: "record.write-failed", err: error }, "could not write a record to the store");
    });
  }

  /** Waits until every record write so far has reached the store. */
  flush(): Promise<void> {
    return this.#writes;
  }
}

function isFinal(status: ExecutionStatus): boolean {
  return status === "Succeeded" || status === "Failed" || status === "Stopped";
}

/** p-queue's onIdle resolves between a task's end and its follow-ups being added; settle only when truly idle. */
async function waitUntilIdle(queue: PQueue): Promise<void> {
  do {
    await queue.onIdle();
    await new Promise((resolve) => setImmediate(resolve));
  } while (queue.size > 0 || queue.pending > 0);
}
