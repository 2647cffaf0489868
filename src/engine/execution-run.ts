import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import PQueue from "p-queue";
import type { ExceptionType, RetryPolicy } from "../dsl/retry-policies.js";
import { evaluate, evaluateCondition } from "../definition/expressions.js";
import type { DefinedStep, DefinedTrainingStep, DefinitionGraph, Json } from "../definition/model.js";
import type { Logger } from "../logging/logger.js";
import { checkpointsFolderName } from "../runtime/temp-paths.js";
import { toRemoteErrorInfo } from "../serialization/codec.js";
import { IntegrityError, StepboxError, ValidationError } from "../errors.js";
import { layout } from "../store/layout.js";
import { executionEnded, type ExecutionRecord, type ExecutionStatus, type RecordStore, type StepRecord } from "../store/records.js";
import { ExecutionEventHub, StateChanges } from "./execution-events.js";
import { resolveInputChannels } from "./input-channels.js";
import { copyResult, readPayload, stepSeal } from "./payloads.js";
import type { PreparedStep } from "./preflight.js";
import { RunScope } from "./run-scope.js";
import { type TrainingJob, trainingJob } from "./training-job.js";
import { aheadPlan, executeTrainingStep, type TrainingStepContext, type TrainingStepOutcome } from "./training-step-executor.js";
import { StepSchedule, type StepEnd } from "./schedule.js";
import { StepCache } from "./step-cache.js";
import { StepLookahead } from "./step-lookahead.js";
import { failedWith, isTerminal, transition } from "../store/step-state.js";

/** A step of an earlier execution whose result this execution takes instead of running it. */
export interface ReusedStep {
  readonly sourceExecutionId: string;
  readonly sourceExecutionArn: string;
  readonly record: StepRecord;
}

/** What an execution needs from its session, beyond the graph. */
export interface ExecutionServices
  extends Pick<
    TrainingStepContext,
    | "store"
    | "runtime"
    | "image"
    | "imageId"
    | "key"
    | "keyFor"
    | "buildKey"
    | "uris"
    | "owner"
    | "stopGraceSeconds"
    | "outputLimitBytes"
    | "logLimitBytes"
    | "collectTimeoutSeconds"
  > {
  readonly records: RecordStore;
  readonly logger: Logger;
  /** Each Training step's resources, channels and retry policies, checked before the execution was recorded. */
  readonly preflight: ReadonlyMap<string, PreparedStep>;
  /** The parameter values of this execution, checked and with defaults applied. */
  readonly parameters: ReadonlyMap<string, unknown>;
  /** Steps taken from earlier executions (retry, selective execution) instead of run. */
  readonly reuse: ReadonlyMap<string, ReusedStep>;
}

const STOP_REQUEST_POLL_MS = 1000;

/**
 * A step's end as the scheduler settled it: its terminal record (undefined when it never ran), and
 * whether it was the last step going, so that the execution's end follows from it with nothing between.
 */
interface SettledStep {
  readonly record: StepRecord | undefined;
  readonly last: boolean;
}

/**
 * One running execution: schedules its steps in dependency order, at most `parallelism` at a
 * time, records every change in the store, and settles `done` when nothing more will run.
 */
export class ExecutionRun {
  /** Everything that happens in this run, as it happens: state changes, retries, transfers, log lines. */
  readonly events = new ExecutionEventHub();
  readonly #changes = new StateChanges();
  readonly done: Promise<ExecutionRecord>;
  #record: ExecutionRecord;
  readonly #steps = new Map<string, StepRecord>();
  readonly #graph: DefinitionGraph;
  readonly #services: ExecutionServices;
  readonly #abort = new AbortController();
  readonly #kill = new AbortController();
  readonly #queue: PQueue;
  readonly #results = new Map<string, Promise<unknown>>();
  readonly #scope: RunScope;
  readonly #cache: StepCache;
  readonly #schedule: StepSchedule;
  #failure: string | undefined;
  #writes: Promise<void> = Promise.resolve();
  /** The latest state of each record whose write is queued and not begun, by record. */
  readonly #pendingWrites = new Map<string, () => Promise<void>>();
  /** The first record that could not be written: from then on the store does not say what happened. */
  #writeFailure: unknown;
  /** Each step's end once the scheduler settled it; every one is settled by the time the run ends. */
  readonly #settled = new Map<string, { promise: Promise<SettledStep>; resolve: (end: SettledStep) => void }>();
  /** Checkpoints outlive a step's attempts, and go when the execution ends. */
  readonly #checkpointsRoot: string;
  /** Creates the containers of the steps that can start next while earlier ones run. */
  readonly #lookahead: StepLookahead;

  constructor(record: ExecutionRecord, graph: DefinitionGraph, services: ExecutionServices) {
    this.#record = record;
    this.#graph = graph;
    this.#services = services;
    this.#queue = new PQueue({ concurrency: record.ParallelismConfiguration.MaxParallelExecutionSteps });
    this.#cache = new StepCache(services.store, record.PipelineName);
    // A skipped step (a branch not taken) never runs: containers made ahead for it go at once.
    this.#schedule = new StepSchedule(graph, (name) => this.#lookahead.ended(name));
    this.#scope = new RunScope({
      parameters: services.parameters,
      executionId: record.PipelineExecutionId,
      executionArn: record.PipelineExecutionArn,
      pipelineName: record.PipelineName,
      pipelineArn: record.PipelineArn,
      startTime: new Date(record.CreationTime),
      store: services.store,
      uris: services.uris,
    });
    this.#checkpointsRoot = join(tmpdir(), checkpointsFolderName(record.PipelineExecutionId));
    this.#lookahead = new StepLookahead(graph, services.runtime, record.PipelineExecutionId, this.#queue.concurrency, async (name) => {
      const s = graph.step(name);
      if (s?.type !== "Training" || services.reuse.has(name)) return undefined;
      // Evaluated now, before the step starts: the plan is made only when its arguments are known already.
      const job = trainingJob(s.name, await evaluate(s.arguments, this.#scope));
      const context = this.#trainingContext(s, 1, () => {});
      return context.channels ? aheadPlan(job, { ...context, channels: context.channels }) : undefined;
    });
    // The stream starts with the state the execution was recorded in; its first step starts within #run.
    this.#emitExecution();
    this.done = this.#run();
    // The end event comes from #run; a run that threw has none, and its iterators must not wait for it.
    this.done.catch((error: unknown) => this.events.fail(error));
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
    if (executionEnded(this.#record.PipelineExecutionStatus)) return;
    if (!this.#abort.signal.aborted) {
      this.#setExecution("Stopping");
      this.#abort.abort();
    }
    if (force) this.#kill.abort();
  }

  async #run(): Promise<ExecutionRecord> {
    const log = this.#services.logger.child({ execution: this.#record.PipelineExecutionId });
    log.info({ event: "execution.started", steps: this.#record.StepNames }, "execution started");
    const stopWatch = this.#watchStopRequests();
    /** Steps handed to the queue and not yet settled. */
    let going = 0;
    const enqueue = (ready: readonly string[]): void => {
      for (const name of ready) {
        if (!this.#canStart()) return;
        const s = this.#graph.step(name)!;
        going++;
        this.#lookahead.queued(name);
        void this.#queue
          .add(() => this.#runStep(s, log))
          .then((end) => {
            going--;
            this.#lookahead.ended(name);
            enqueue(this.#schedule.settle(name, end ?? "Failed"));
            // After settle, which starts what the step unblocked: nothing going means the execution ends next.
            const record = this.#steps.get(name);
            if (record && isTerminal(record.StepStatus)) this.#settledEntry(name).resolve({ record, last: going === 0 });
          });
      }
    };
    enqueue(this.#schedule.start());
    await waitUntilIdle(this.#queue);
    clearInterval(stopWatch);
    // Containers made ahead for steps that never ran, and finished ones still being removed.
    await this.#lookahead.close();
    // Checkpoints are scratch space: one that cannot be removed (a step can lock a folder in it) is
    // logged and left to the temp sweep, never a reason to leave the execution recorded as running.
    await rm(this.#checkpointsRoot, { recursive: true, force: true }).catch((error: unknown) => {
      log.warn({ event: "checkpoints.cleanup-failed", err: error, path: this.#checkpointsRoot }, `could not remove ${this.#checkpointsRoot}`);
    });

    const status: ExecutionStatus = this.#abort.signal.aborted ? "Stopped" : this.#failure ? "Failed" : "Succeeded";
    this.#setExecution(status, this.#failure);
    await this.#writes;
    for (const s of this.#graph.steps) {
      const record = this.#steps.get(s.name);
      this.#settledEntry(s.name).resolve({ record: record && isTerminal(record.StepStatus) ? record : undefined, last: true });
    }
    log.info({ event: "execution.ended", status }, `execution ${status}`);
    // Told once its record (and every one before it) is written: whoever acts on the end finds the store saying so.
    this.#emitExecution();
    return this.#record;
  }

  /** Another process (`stepbox stop`) asks for a stop by writing a request into the store. */
  #watchStopRequests(): NodeJS.Timeout {
    const r = this.#record;
    const key = layout.stopRequest(r.PipelineName, r.PipelineExecutionId);
    let checking = false;
    let warned = false;
    const timer = setInterval(() => {
      if (checking || this.#abort.signal.aborted) return;
      checking = true;
      this.#services.store
        .exists(key)
        .then((requested) => {
          if (requested) this.stop();
        })
        .catch((error: unknown) => {
          // The next poll tries again; said once, so a store that stays unreachable does not flood the log.
          if (!warned)
            this.#services.logger.warn(
              { event: "stop-request.unreadable", err: error },
              `cannot check ${key} for a stop request; stepbox stop from another process may not reach this execution`,
            );
          warned = true;
        })
        .finally(() => {
          checking = false;
        });
    }, STOP_REQUEST_POLL_MS);
    timer.unref();
    return timer;
  }

  #canStart(): boolean {
    return this.#failure === undefined && !this.#abort.signal.aborted;
  }

  /** Runs one step to its end. Never throws. */
  async #runStep(s: DefinedStep, log: Logger): Promise<StepEnd> {
    if (!this.#canStart()) return "Stopped";
    // A Training step counts as started once its request is evaluated: what waits on it may read its properties.
    if (s.type !== "Training" || this.#services.reuse.has(s.name)) this.#lookahead.started(s.name);
    const stepLog = log.child({ step: s.name });
    const reused = this.#services.reuse.get(s.name);
    if (reused) return this.#reuse(s, reused);

    let record: StepRecord = {
      StepName: s.name,
      StepDisplayName: s.displayName ?? s.name,
      StepDescription: s.description ?? "",
      StepStatus: "Starting",
      StartTime: new Date().toISOString(),
      AttemptCount: 1,
      Metadata: {},
    };
    this.#setStep(record);
    stepLog.info({ event: "step.started" }, "step started");
    try {
      record = transition(record, "Executing");
      this.#setStep(record);
      switch (s.type) {
        case "Training":
          record = await this.#runTrainingStep(s, record);
          break;
        case "Condition": {
          const outcome = (await Promise.all(s.conditions.map((c) => evaluateCondition(c, this.#scope)))).every(Boolean);
          const branches = this.#graph.branches.get(s.name)!;
          this.#schedule.block(outcome ? branches.elseSteps : branches.ifSteps);
          record = transition(record, "Succeeded", { Metadata: { Condition: { Outcome: outcome ? "True" : "False" } } });
          break;
        }
        case "Fail": {
          const message = String(await evaluate(s.errorMessage as Json, this.#scope));
          record = transition(record, "Failed", { ...failedWith({ kind: "Fail", message }), Metadata: { Fail: { ErrorMessage: message } } });
          break;
        }
      }
    } catch (error) {
      // What the engine could not do around the step (evaluate a condition, store what it left): what
      // it was given is at fault when it is refused as invalid, the platform otherwise.
      const info = toRemoteErrorInfo(error);
      const kind = error instanceof ValidationError || error instanceof IntegrityError ? "ClientError" : "InternalServerError";
      record = transition(this.#steps.get(s.name) ?? record, "Failed", { ...failedWith({ kind, message: info.message }), Error: info });
    }
    this.#setStep(record);
    stepLog.info({ event: "step.ended", status: record.StepStatus }, `step ${record.StepStatus}`);
    // A step stopped by anything but the execution's own stop (its max runtime) fails the execution, as
    // SageMaker's does: it never reads Succeeded with a step that did not finish.
    const endsExecution = record.StepStatus === "Failed" || (record.StepStatus === "Stopped" && !this.#abort.signal.aborted);
    if (endsExecution && this.#failure === undefined) {
      this.#failure = `Step '${s.name}' failed with message: ${record.FailureReason ?? "unknown"}`.slice(0, 1024);
    }
    return record.StepStatus as StepEnd;
  }

  /** A Training step's request with its expressions evaluated, read as a job; its properties from now on. */
  async #trainingJob(s: DefinedTrainingStep): Promise<TrainingJob> {
    const request = (await evaluate(s.arguments, this.#scope)) as Record<string, unknown>;
    const job = trainingJob(s.name, request);
    this.#scope.started(s.name, request);
    return job;
  }

  /** Attempts a Training step until it succeeds or its retry policies give up. */
  async #runTrainingStep(s: DefinedTrainingStep, initial: StepRecord): Promise<StepRecord> {
    const job = await this.#trainingJob(s);
    this.#lookahead.started(s.name);
    const policies = this.#prepared(s).retryPolicies;
    const channels = this.#prepared(s).channels ?? (await resolveInputChannels(s.name, job.inputs));
    const firstStart = Date.now();
    const attempts: NonNullable<StepRecord["Attempts"]> = [];
    let record = initial;
    for (let attempt = 1; ; attempt++) {
      const started = new Date().toISOString();
      record = { ...record, AttemptCount: attempt };
      this.#setStep(record);
      const context = this.#trainingContext(s, attempt, (trainingJob) => {
        record = { ...record, Metadata: { TrainingJob: trainingJob } };
        this.#setStep(record);
      });
      const prepared = attempt === 1 ? await this.#lookahead.take(s.name) : undefined;
      const outcome = await executeTrainingStep({ name: s.name, job, cacheConfig: s.cacheConfig }, { ...context, channels, ...(prepared ? { prepared } : {}) });
      // Taken by the runtime (then this does nothing), or not needed: a cache hit, a failure before the containers.
      prepared?.discard();
      attempts.push({
        AttemptCount: attempt,
        StartTime: started,
        EndTime: new Date().toISOString(),
        StepStatus: outcome.status,
        ...(outcome.failure ? failedWith(outcome.failure) : {}),
        TrainingJobName: outcome.trainingJob.TrainingJobName,
        LogStreams: outcome.trainingJob.LogStreams ?? [],
      });
      const delay = outcome.status === "Failed" && !this.#abort.signal.aborted ? retryDelay(policies, outcome, attempt, firstStart) : undefined;
      if (delay === undefined) return this.#finishTrainingStep(s, record, outcome, attempts);
      this.#services.logger.info({ event: "step.retry", step: s.name, attempt, delaySeconds: delay / 1000 }, `retrying step ${s.name}`);
      this.events.emit({ type: "attempt", step: s.name, attempt, delaySeconds: delay / 1000 });
      record = { ...record, Attempts: [...attempts], ...(outcome.failure ? failedWith(outcome.failure) : {}) };
      this.#setStep(record);
      await sleep(delay, this.#abort.signal);
      if (this.#abort.signal.aborted) return this.#finishTrainingStep(s, record, outcome, attempts);
    }
  }

  #finishTrainingStep(s: DefinedTrainingStep, record: StepRecord, outcome: TrainingStepOutcome, attempts: NonNullable<StepRecord["Attempts"]>): StepRecord {
    this.#scope.ended(s.name, outcome.trainingJob);
    const { FailureReason: _previous, Failure: _previousFailure, ...rest } = record;
    return transition(rest, outcome.status, {
      Metadata: { TrainingJob: outcome.trainingJob },
      Attempts: attempts,
      ...(outcome.failure ? failedWith(outcome.failure) : {}),
      ...(outcome.error ? { Error: outcome.error } : {}),
      ...(outcome.cacheHit ? { CacheHitResult: outcome.cacheHit } : {}),
      ...(outcome.cacheMissReason ? { CacheMissReason: outcome.cacheMissReason } : {}),
    });
  }

  /** Takes a step's result and outcome from an earlier execution (retry, selective execution). */
  async #reuse(s: DefinedStep, reused: ReusedStep): Promise<StepEnd> {
    const r = this.#record;
    try {
      if (s.type === "Training") {
        const job = await this.#trainingJob(s);
        await copyResult(
          this.#services.store,
          { pipeline: r.PipelineName, execution: reused.sourceExecutionId, step: s.name },
          stepSeal(s, this.#services.keyFor(reused.sourceExecutionId)),
          { pipeline: r.PipelineName, execution: r.PipelineExecutionId, step: s.name },
          stepSeal(s, this.#services.key),
          { json: job.function?.serializeOutputToJson === true },
        );
        const source = reused.record.Metadata.TrainingJob;
        if (source) this.#scope.ended(s.name, source);
      }
      if (s.type === "Condition") {
        const outcome = reused.record.Metadata.Condition?.Outcome === "True";
        const branches = this.#graph.branches.get(s.name)!;
        this.#schedule.block(outcome ? branches.elseSteps : branches.ifSteps);
      }
    } catch (error) {
      const info = toRemoteErrorInfo(error);
      this.#failure ??= `Step '${s.name}' failed with message: cannot reuse its result from execution ${reused.sourceExecutionId}: ${info.message}`;
      return "Failed";
    }
    const { Attempts: _attempts, CacheMissReason: _miss, ...source } = reused.record;
    this.#setStep({ ...source, SelectiveExecutionResult: { SourcePipelineExecutionArn: reused.sourceExecutionArn } });
    return "Succeeded";
  }

  #prepared(s: DefinedTrainingStep): PreparedStep {
    const prepared = this.#services.preflight.get(s.name);
    if (!prepared) throw new Error(`internal: step "${s.name}" was not checked before the run`);
    return prepared;
  }

  #trainingContext(
    s: DefinedTrainingStep,
    attempt: number,
    onProgress: TrainingStepContext["onProgress"],
  ): Omit<TrainingStepContext, "channels"> & Pick<PreparedStep, "channels"> {
    const r = this.#record;
    const { resources, channels } = this.#prepared(s);
    return {
      ...this.#services,
      resources,
      channels,
      pipelineName: r.PipelineName,
      executionId: r.PipelineExecutionId,
      executionArn: r.PipelineExecutionArn,
      checkpointsDir: join(this.#checkpointsRoot, s.name),
      signal: this.#abort.signal,
      killSignal: this.#kill.signal,
      attempt,
      cache: this.#cache,
      onProgress,
      onLogLine: (step, host, line, stream) => this.events.emit({ type: "log", step, ...(host !== undefined ? { host } : {}), stream, line }),
      onTransfer: (event) => this.events.emit({ type: "transfer", ...event }),
      sealOf: (step, key) => stepSeal(this.#graph.step(step), key),
    };
  }

  #settledEntry(name: string): { promise: Promise<SettledStep>; resolve: (end: SettledStep) => void } {
    let entry = this.#settled.get(name);
    if (!entry) {
      let resolve!: (end: SettledStep) => void;
      const promise = new Promise<SettledStep>((r) => (resolve = r));
      entry = { promise, resolve };
      this.#settled.set(name, entry);
    }
    return entry;
  }

  /**
   * The step's terminal record once it is in the store, or undefined once the execution ended without
   * running the step. When the step was the last one going, this waits for the execution's end record
   * too: whoever learns the step's value may exit at once, and then both records must already say so.
   * Rejects when a record could not be written.
   */
  async stepEnded(name: string): Promise<StepRecord | undefined> {
    const { record, last } = await this.#settledEntry(name).promise;
    if (last) await this.done;
    await this.flush();
    return record;
  }

  /** The output of a step of this execution that succeeded, read once and verified. */
  result(name: string): Promise<unknown> {
    let cached = this.#results.get(name);
    if (!cached) {
      const r = this.#record;
      cached = readPayload(
        this.#services.store,
        { pipeline: r.PipelineName, execution: r.PipelineExecutionId, step: name, kind: "results" },
        stepSeal(this.#graph.step(name), this.#services.key),
      );
      this.#results.set(name, cached);
    }
    return cached;
  }

  #setStep(record: StepRecord): void {
    this.#steps.set(record.StepName, record);
    this.#record = { ...this.#record, LastModifiedTime: new Date().toISOString() };
    this.#enqueueWrite(`step:${record.StepName}`, () => this.#services.records.writeStep(this.#record.PipelineName, this.#record.PipelineExecutionId, record));
    const change = this.#changes.step(record, new Date());
    if (change) this.events.emit(change);
  }

  #setExecution(status: ExecutionStatus, failureReason?: string): void {
    this.#record = {
      ...this.#record,
      PipelineExecutionStatus: status,
      LastModifiedTime: new Date().toISOString(),
      ...(failureReason !== undefined ? { FailureReason: failureReason } : {}),
    };
    const snapshot = this.#record;
    this.#enqueueWrite("execution", () => this.#services.records.writeExecution(snapshot));
    if (!executionEnded(status)) this.#emitExecution();
  }

  #emitExecution(): void {
    const change = this.#changes.execution(this.#record, new Date());
    if (change) this.events.emit(change);
  }

  /**
   * Record writes happen in order, one at a time, so the store never goes back to an older state. A
   * record that changes again before its queued write has begun is written once, in its latest state:
   * a step passes through several states within milliseconds, and each write is synced to disk.
   */
  #enqueueWrite(record: string, write: () => Promise<void>): void {
    const queued = this.#pendingWrites.has(record);
    this.#pendingWrites.set(record, write);
    if (queued) return;
    const latest = (): Promise<void> => {
      const next = this.#pendingWrites.get(record)!;
      this.#pendingWrites.delete(record);
      return next();
    };
    this.#writes = this.#writes.then(latest).catch((error: unknown) => {
      this.#writeFailure ??= error;
      this.#services.logger.error({ event: "record.write-failed", err: error }, "could not write a record to the store");
    });
  }

  /**
   * Waits until every record write so far has reached the store; rejects when one of them (now or
   * before) could not be written, since the store then does not hold what the caller would be told.
   */
  async flush(): Promise<void> {
    await this.#writes;
    if (this.#writeFailure === undefined) return;
    const r = this.#record;
    throw new StepboxError(
      "STORE",
      `the records of execution ${r.PipelineExecutionId} could not all be written to ${this.#services.store.uri}, so the store does not say how it went`,
      {
        cause: this.#writeFailure,
        hint: "check that the store is reachable and writable; the engine log has the failed write",
      },
    );
  }
}

/** The wait before the next attempt, or undefined when no policy covers the failure or they are used up. */
function retryDelay(policies: readonly RetryPolicy[], outcome: TrainingStepOutcome, attempt: number, firstStart: number): number | undefined {
  const failure = { exceptionType: outcome.failure?.exceptionType as ExceptionType | undefined, errorName: outcome.error?.name };
  const policy = policies.find((p) => p.covers(failure));
  if (!policy) return undefined;
  if (policy.maxAttempts !== undefined && attempt > policy.maxAttempts) return undefined;
  const delay = policy.delaySeconds(attempt) * 1000;
  if (policy.expireAfterMins !== undefined && Date.now() + delay - firstStart > policy.expireAfterMins * 60_000) return undefined;
  return delay;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/** p-queue's onIdle resolves between a task's end and its follow-ups being added; settle only when truly idle. */
async function waitUntilIdle(queue: PQueue): Promise<void> {
  do {
    await queue.onIdle();
    await new Promise((resolve) => setImmediate(resolve));
  } while (queue.size > 0 || queue.pending > 0);
}
