import { inspect } from "node:util";
import { ValidationError, StepboxError } from "../errors.js";
import type { DelayedReturn } from "../dsl/delayed-return.js";
import type { PipelineStep } from "../dsl/function-step.js";
import type { Parameter } from "../dsl/parameters.js";
import type { ParallelismConfiguration } from "../dsl/retry-policies.js";
import { compilePipeline, type PipelineGraph } from "../graph/compile.js";
import { type EmittedDefinition, emitDefinition, localStepSettings } from "../definition/emit-definition.js";
import type { DefinitionGraph } from "../definition/model.js";
import { readDefinition } from "../definition/read-definition.js";
import type { ExecutionRun } from "../engine/execution-run.js";
import { checkParameterList, checkParametersUsed, resolveParameterValues } from "../engine/parameters.js";
import { retryPlan, selectivePlan, type ReusePlan } from "../engine/reuse-plan.js";
import { isPipelineName, pipelineArn } from "../naming/sagemaker-arns.js";
import { deriveBuildKey, signPayload } from "../serialization/signing.js";
import type { CloudPipelineExecution } from "../cloud/cloud-execution.js";
import { PipelineSession } from "../cloud/pipeline-session.js";
import { deletePipeline, describePipeline, executionArnOf, listPipelineExecutions, startPipelineExecution } from "../cloud/pipelines.js";
import { deployToCloud } from "./cloud-deploy.js";
import { layout } from "../store/layout.js";
import { executionEnded, type ExecutionRecord, type ExecutionStatus, type PipelineRecord } from "../store/records.js";
import { storeFunctionPayloads } from "./function-payloads.js";
import { definitionRoot, launchExecution } from "./launch-execution.js";
import { LocalPipelineSession } from "./local-pipeline-session.js";
import { PipelineExecution } from "./pipeline-execution.js";
import { refuseStartWhileLoading } from "./start-guard.js";

/** The image and role a local definition names: the local engine runs its own runtime image, as no role. */
const LOCAL_RUNTIME_IMAGE = "stepbox-runtime";
const LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/stepbox-local";

type ParallelismSetting = ParallelismConfiguration | { maxParallelExecutionSteps: number };

/** Where a pipeline runs: this machine (LocalPipelineSession) or SageMaker (PipelineSession). */
export type AnySession = LocalPipelineSession | PipelineSession;

/** What start() gives for a session: a local execution, or one in SageMaker. */
export type ExecutionOf<S extends AnySession> = S extends PipelineSession ? CloudPipelineExecution : PipelineExecution;

export interface PipelineOptions<S extends AnySession = LocalPipelineSession> {
  /** Letters, digits and `-`, at most 256 characters. */
  name: string;
  /** The steps' outputs (DelayedReturns) or steps; listing the last ones is enough, upstream steps are found. */
  steps: readonly unknown[];
  /** The parameters the steps use: ParameterString, ParameterInteger, ParameterFloat, ParameterBoolean. */
  parameters?: readonly Parameter[];
  /** At most this many steps run at once, unless start() says otherwise. @default the number of CPUs */
  parallelismConfiguration?: ParallelismSetting;
  /**
   * Where it runs: a LocalPipelineSession (this machine), or a PipelineSession (SageMaker, or
   * `stepbox serve`), to which upsert() deploys it and start() submits it.
   * @default a new LocalPipelineSession with default options
   */
  session?: S;
}

export interface StartOptions {
  /** Values for the pipeline's parameters; the others take their defaults. */
  parameters?: Readonly<Record<string, unknown>>;
  executionDisplayName?: string;
  executionDescription?: string;
  /** At most this many steps run at once (SageMaker's MaxParallelExecutionSteps). */
  parallelism?: number;
  parallelismConfiguration?: ParallelismSetting;
  /** Run only these steps; take every other step's result from the source execution. */
  selectiveExecution?: { sourceExecutionId: string; steps: readonly string[] };
}

export interface PipelineSummary {
  PipelineArn: string;
  PipelineName: string;
  PipelineDisplayName: string;
  PipelineDefinition: string;
  PipelineStatus: "Active";
  CreationTime: Date;
  LastModifiedTime: Date;
}

export interface PipelineExecutionSummary {
  PipelineExecutionArn: string;
  PipelineExecutionDisplayName: string;
  PipelineExecutionStatus: ExecutionStatus;
  StartTime: Date;
}

function parallelismOf(setting: ParallelismSetting | undefined, where: string): number | undefined {
  if (setting === undefined) return undefined;
  const n = (setting as { maxParallelExecutionSteps?: unknown } | null)?.maxParallelExecutionSteps;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
    throw new ValidationError(`${where}: maxParallelExecutionSteps must be an integer >= 1, got ${String(n)}`, { hint: "new ParallelismConfiguration(2)" });
  }
  return n;
}

/** A pipeline of steps, as SageMaker's `Pipeline`: define it once, start it any number of times. */
export class Pipeline<S extends AnySession = LocalPipelineSession> {
  readonly name: string;
  readonly session: S;
  readonly parameters: readonly Parameter[];
  readonly #steps: readonly unknown[];
  readonly #parallelism: number | undefined;
  readonly #live = new Map<string, ExecutionRun>();

  constructor(options: PipelineOptions<S>) {
    if (!options || typeof options !== "object") {
      throw new ValidationError("new Pipeline() takes an options object", { hint: 'new Pipeline({ name: "my-pipeline", steps: [train(data)] })' });
    }
    if (typeof options.name !== "string" || !isPipelineName(options.name)) {
      throw new ValidationError(`"${String(options.name)}" is not a valid pipeline name`, {
        code: "INVALID_PIPELINE",
        hint: "use letters, digits and '-', starting with a letter or digit, e.g. \"churn-model\"",
      });
    }
    if (!Array.isArray(options.steps)) {
      throw new ValidationError(`pipeline "${options.name}": steps must be a list`, { code: "INVALID_PIPELINE", hint: "steps: [evaluate(model)]" });
    }
    this.name = options.name;
    this.#steps = options.steps;
    this.parameters = checkParameterList(options.name, options.parameters ?? []);
    this.#parallelism = parallelismOf(options.parallelismConfiguration, "parallelismConfiguration");
    if (options.session !== undefined && !(options.session instanceof LocalPipelineSession) && !(options.session instanceof PipelineSession)) {
      throw new ValidationError(`pipeline "${options.name}": session must be a LocalPipelineSession or a PipelineSession`, {
        hint: "new LocalPipelineSession() runs it here; new PipelineSession({ roleArn, s3Root }) runs it in SageMaker",
      });
    }
    this.session = (options.session ?? new LocalPipelineSession()) as S;
  }

  /** The cloud session, when the pipeline runs in SageMaker. */
  get #cloud(): PipelineSession | undefined {
    return this.session instanceof PipelineSession ? this.session : undefined;
  }

  /** The local session; `what` names the call that needs one in the error for a cloud pipeline. */
  #local(what: string): LocalPipelineSession {
    if (this.session instanceof LocalPipelineSession) return this.session;
    throw new ValidationError(`pipeline "${this.name}": ${what} needs a LocalPipelineSession, and this pipeline's session is a PipelineSession`, {
      hint: "use pipeline.withSession(new LocalPipelineSession()) for a local run",
    });
  }

  /**
   * The same pipeline (name, steps, parameters, parallelism) bound to another session: the command
   * line runs a pipeline file's Pipeline in its own session, with its store and progress output.
   */
  withSession<T extends AnySession>(session: T): Pipeline<T> {
    return new Pipeline<T>({
      name: this.name,
      steps: this.#steps,
      parameters: this.parameters,
      ...(this.#parallelism !== undefined ? { parallelismConfiguration: { maxParallelExecutionSteps: this.#parallelism } } : {}),
      session,
    });
  }

  /**
   * The name this pipeline gives a step it holds, or the step behind a DelayedReturn: the calls of a
   * step function are named in the order they were made, `train`, `train-2`, ... counting only the
   * calls in this pipeline. It is the name `result()`, `listSteps()` and the records use.
   */
  stepName(step: DelayedReturn | PipelineStep): string {
    const name = compilePipeline(this.name, this.#steps).nameOf(step);
    if (name === undefined) {
      throw new ValidationError(`pipeline "${this.name}" has no step ${inspect(step)}`, {
        hint: "pass a DelayedReturn (or step) that this pipeline's steps lead to",
      });
    }
    return name;
  }

  /**
   * Finds and checks every step: duplicate names, cycles, unlisted parameters and arguments that
   * cannot reach a container fail here (each step's own options were checked by step()).
   */
  #compile(): PipelineGraph {
    const graph = compilePipeline(this.name, this.#steps);
    checkParametersUsed(this.name, graph, this.parameters);
    return graph;
  }

  /**
   * The pipeline definition JSON, as SageMaker Pipelines accepts it; the same bytes every time for the
   * same pipeline and session, from any checkout. The functions and arguments it references are stored
   * by upsert() (and, for a local session, start()).
   */
  definition(): string {
    return this.#emit(this.#compile()).json;
  }

  #emit(graph: PipelineGraph): EmittedDefinition {
    const cloud = this.#cloud;
    if (cloud) return emitDefinition(graph, this.parameters, cloud.definitionContext(this.name));
    return emitDefinition(graph, this.parameters, {
      root: definitionRoot(this.#local("definition()").store),
      pipelineName: this.name,
      // The runtime image's repository: its tag hashes the base image's id, which only Docker knows,
      // and definition() does no I/O.
      imageUri: LOCAL_RUNTIME_IMAGE,
      region: process.env.AWS_REGION ?? "us-east-1",
      roleArn: LOCAL_ROLE_ARN,
    });
  }

  /** Stores the functions and arguments the definition references. */
  async #storePayloads(emitted: EmittedDefinition): Promise<void> {
    const session = this.#local("storing payloads");
    const buildKey = deriveBuildKey(await session.masterKey(), this.name);
    await storeFunctionPayloads(emitted, this.name, { store: session.store, bundler: session.bundler, seal: (payload) => signPayload(payload, buildKey) });
  }

  /**
   * Records the pipeline in the store (a cloud session: uploads its payloads, then CreatePipeline);
   * fails when it is already there.
   */
  async create(): Promise<{ PipelineArn: string }> {
    const cloud = this.#cloud;
    if (cloud) return deployToCloud(cloud, this.name, this.#emit(this.#compile()), { mode: "create", parallelism: this.#parallelism });
    const session = this.#local("create()");
    if (await session.records.readPipeline(this.name)) {
      throw new ValidationError(`pipeline "${this.name}" already exists in ${session.store.uri}`, {
        hint: "use pipeline.upsert() to update it",
      });
    }
    return this.upsert();
  }

  /**
   * Records the pipeline, or updates its definition when it is already recorded. A cloud session
   * uploads each function and its arguments under its s3Root first, then calls CreatePipeline, or
   * UpdatePipeline when the pipeline exists.
   */
  async upsert(): Promise<{ PipelineArn: string }> {
    const emitted = this.#emit(this.#compile());
    const cloud = this.#cloud;
    if (cloud) return deployToCloud(cloud, this.name, emitted, { mode: "upsert", parallelism: this.#parallelism });
    await this.#storePayloads(emitted);
    return this.#recordDefinition(emitted.json);
  }

  /** Writes `pipeline.json` when `definition` is new; LastModifiedTime says when the definition last changed. */
  async #recordDefinition(definition: string): Promise<{ PipelineArn: string }> {
    const records = this.#local("recording the definition").records;
    const existing = await records.readPipeline(this.name);
    const now = new Date().toISOString();
    // What another client recorded of the pipeline (its role, description, display name through serve) stays.
    const record: PipelineRecord = {
      ...existing,
      PipelineName: this.name,
      PipelineArn: pipelineArn(this.name),
      PipelineDisplayName: existing?.PipelineDisplayName ?? this.name,
      PipelineDefinition: definition,
      CreationTime: existing?.CreationTime ?? now,
      LastModifiedTime: existing && existing.PipelineDefinition === definition ? existing.LastModifiedTime : now,
    };
    if (!existing || existing.PipelineDefinition !== definition) await records.writePipeline(record);
    return { PipelineArn: record.PipelineArn };
  }

  /** The pipeline as DescribePipeline answers it (a cloud session asks SageMaker). */
  async describe(): Promise<PipelineSummary> {
    const cloud = this.#cloud;
    if (cloud) {
      const d = await describePipeline(cloud, this.name);
      return {
        PipelineArn: d.PipelineArn ?? "",
        PipelineName: d.PipelineName ?? this.name,
        PipelineDisplayName: d.PipelineDisplayName ?? this.name,
        PipelineDefinition: d.PipelineDefinition ?? "",
        PipelineStatus: "Active",
        CreationTime: d.CreationTime ?? new Date(0),
        LastModifiedTime: d.LastModifiedTime ?? d.CreationTime ?? new Date(0),
      };
    }
    const session = this.#local("describe()");
    const r = await session.records.readPipeline(this.name);
    if (!r) {
      throw new StepboxError("NOT_FOUND", `pipeline "${this.name}" is not recorded in ${session.store.uri}`, {
        hint: "call pipeline.upsert() or pipeline.start() first",
      });
    }
    return {
      PipelineArn: r.PipelineArn,
      PipelineName: r.PipelineName,
      PipelineDisplayName: r.PipelineDisplayName,
      PipelineDefinition: r.PipelineDefinition,
      PipelineStatus: "Active",
      CreationTime: new Date(r.CreationTime),
      LastModifiedTime: new Date(r.LastModifiedTime),
    };
  }

  /**
   * Starts an execution and resolves as soon as it has begun. Every check (names, cycles, options,
   * parameters, parallelism, the Docker engine) happens first: when one fails, nothing is recorded or run.
   * A cloud session checks the same, then calls StartPipelineExecution of the pipeline upsert() deployed.
   */
  async start(options: StartOptions = {}): Promise<ExecutionOf<S>> {
    refuseStartWhileLoading(this.name);
    const graph = this.#compile();
    const cloud = this.#cloud;
    if (cloud) return (await this.#startInCloud(cloud, options)) as ExecutionOf<S>;
    const selective = options.selectiveExecution;
    if (!selective) return (await this.#launch(graph, options)) as ExecutionOf<S>;
    const source = await this.#finishedSource(selective.sourceExecutionId, "selectiveExecution.sourceExecutionId");
    const records = this.#local("start()").records;
    return (await this.#launch(graph, { parameters: source.ParameterValues, ...options }, (run) =>
      selectivePlan(run, this.name, source, selective.steps, (step) => records.readStep(this.name, source.PipelineExecutionId, step)),
    )) as ExecutionOf<S>;
  }

  async #startInCloud(cloud: PipelineSession, options: StartOptions): Promise<CloudPipelineExecution> {
    // Checked here as a local start checks them; only those given go, and SageMaker applies the defaults
    // (or, for a selective execution, the source's values).
    const given = new Set(Object.keys(options.parameters ?? {}));
    const parameters = new Map([...resolveParameterValues(this.name, this.parameters, options.parameters)].filter(([name]) => given.has(name)));
    const parallelism = this.#parallelismOf(options, undefined);
    const selective = options.selectiveExecution;
    return startPipelineExecution(cloud, this.name, {
      parameters,
      displayName: options.executionDisplayName,
      description: options.executionDescription,
      parallelism,
      selective: selective && {
        sourceExecutionArn: await executionArnOf(cloud, this.name, selective.sourceExecutionId),
        steps: selective.steps,
      },
    });
  }

  /** What start() was told, else the pipeline's own, else `fallback`; checked. */
  #parallelismOf(options: StartOptions, fallback: number | undefined): number | undefined {
    const parallelism =
      options.parallelism ?? parallelismOf(options.parallelismConfiguration, "start(): parallelismConfiguration") ?? this.#parallelism ?? fallback;
    if (parallelism !== undefined && (!Number.isInteger(parallelism) || parallelism < 1)) {
      throw new ValidationError(`start(): parallelism must be an integer >= 1, got ${String(options.parallelism)}`, {
        hint: "for example pipeline.start({ parallelism: 2 })",
      });
    }
    return parallelism;
  }

  /**
   * A new execution that takes the results of the steps that succeeded in `sourceExecutionId` and
   * runs the failed, stopped and never-started ones again (SageMaker's RetryPipelineExecution).
   */
  async retryExecution(sourceExecutionId: string): Promise<ExecutionOf<S>> {
    refuseStartWhileLoading(this.name);
    const cloud = this.#cloud;
    if (cloud) return (await cloud.execution(await executionArnOf(cloud, this.name, sourceExecutionId)).retry()) as ExecutionOf<S>;
    const records = this.#local("retryExecution()").records;
    const graph = this.#compile();
    const source = await this.#finishedSource(sourceExecutionId, "retry");
    if (source.PipelineExecutionStatus === "Succeeded") {
      throw new ValidationError(`execution ${sourceExecutionId} succeeded: there is nothing to retry`, { hint: "start a new execution instead" });
    }
    const plan = (run: DefinitionGraph): Promise<ReusePlan> => retryPlan(run, source, (step) => records.readStep(this.name, source.PipelineExecutionId, step));
    return (await this.#launch(
      graph,
      {
        parameters: source.ParameterValues,
        parallelism: source.ParallelismConfiguration.MaxParallelExecutionSteps,
        executionDisplayName: `${source.PipelineExecutionDisplayName}-retry`,
      },
      plan,
    )) as ExecutionOf<S>;
  }

  async #finishedSource(id: string, what: string): Promise<ExecutionRecord> {
    const source = this.#live.get(id)?.record ?? (await this.#local(what).records.readExecution(this.name, id));
    if (!executionEnded(source.PipelineExecutionStatus)) {
      throw new ValidationError(`${what}: execution ${id} is still ${source.PipelineExecutionStatus}`, { hint: "wait for it to end first" });
    }
    return source;
  }

  async #launch(graph: PipelineGraph, options: StartOptions, reuse?: (run: DefinitionGraph) => Promise<ReusePlan>): Promise<PipelineExecution> {
    const session = this.#local("start()");
    const parameters = resolveParameterValues(this.name, this.parameters, options.parameters);
    const parallelism = this.#parallelismOf(options, session.defaultParallelism)!;
    // The engine runs the definition, read back as any definition is: what runs here is what SageMaker would run.
    const emitted = this.#emit(graph);
    const definitionGraph = readDefinition(emitted.json);
    const reusePlan = reuse ? await reuse(definitionGraph) : undefined;
    await session.runtime();
    await this.#storePayloads(emitted);
    await this.#recordDefinition(emitted.json);
    const run = await launchExecution(session, {
      pipelineName: this.name,
      definition: emitted.json,
      graph: definitionGraph,
      parameters,
      parallelism,
      displayName: options.executionDisplayName,
      description: options.executionDescription,
      reusePlan,
      local: localStepSettings(graph),
    });
    const id = run.record.PipelineExecutionId;
    this.#live.set(id, run);
    // A rejected run reaches its callers through wait() and result(); this bookkeeping only forgets it.
    run.done.finally(() => this.#live.delete(id)).catch(() => undefined);
    return new PipelineExecution(session, this.name, id, run, this as unknown as Pipeline);
  }

  /** An execution by id, live or recorded (a cloud session's, as SageMaker has it). */
  async execution(id: string): Promise<ExecutionOf<S>> {
    const cloud = this.#cloud;
    if (cloud) return cloud.execution(await executionArnOf(cloud, this.name, id)) as ExecutionOf<S>;
    const session = this.#local("execution()");
    const live = this.#live.get(id);
    if (!live) await session.records.readExecution(this.name, id);
    return new PipelineExecution(session, this.name, id, live, this as unknown as Pipeline) as ExecutionOf<S>;
  }

  /** The recorded executions, newest first, as ListPipelineExecutions. */
  async listExecutions(): Promise<{ PipelineExecutionSummaries: PipelineExecutionSummary[] }> {
    const cloud = this.#cloud;
    if (cloud) {
      const summaries = await listPipelineExecutions(cloud, this.name);
      return {
        PipelineExecutionSummaries: summaries.map((s) => ({
          PipelineExecutionArn: s.PipelineExecutionArn ?? "",
          PipelineExecutionDisplayName: s.PipelineExecutionDisplayName ?? "",
          PipelineExecutionStatus: (s.PipelineExecutionStatus ?? "Executing") as ExecutionStatus,
          StartTime: s.StartTime ?? new Date(0),
        })),
      };
    }
    const session = this.#local("listExecutions()");
    const recorded = await session.records.readExecutions(this.name, (damaged) =>
      session.logger.warn({ event: "record.damaged", key: damaged.key }, `skipped ${damaged.detail}`),
    );
    const records = recorded.map((r) => this.#live.get(r.PipelineExecutionId)?.record ?? r);
    return {
      PipelineExecutionSummaries: records
        .map((r) => ({
          PipelineExecutionArn: r.PipelineExecutionArn,
          PipelineExecutionDisplayName: r.PipelineExecutionDisplayName,
          PipelineExecutionStatus: r.PipelineExecutionStatus,
          StartTime: new Date(r.CreationTime),
        }))
        .sort((a, b) => b.StartTime.getTime() - a.StartTime.getTime()),
    };
  }

  /** Removes the pipeline and every recorded execution of it (DeletePipeline for a cloud session). Refused while one of them runs here. */
  async delete(): Promise<void> {
    const cloud = this.#cloud;
    if (cloud) return deletePipeline(cloud, this.name);
    if (this.#live.size > 0) {
      throw new ValidationError(`pipeline "${this.name}" has running executions (${[...this.#live.keys()].join(", ")})`, {
        hint: "stop them or wait for them before deleting the pipeline",
      });
    }
    await this.#local("delete()").store.deletePrefix(layout.pipelineRoot(this.name));
  }
}
