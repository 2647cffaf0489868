import type { DefinedTrainingStep, DefinitionGraph } from "../definition/model.js";
import { LOCAL_ROOT } from "../definition/emit-definition.js";
import { logSource } from "../engine/execution-events.js";
import { ExecutionRun, type ReusedStep } from "../engine/execution-run.js";
import { executionKeys, firstExecutionRecord, newExecutionId } from "../engine/execution-plan.js";
import type { LocalStepSettings } from "../definition/local-step-settings.js";
import { prepareSteps } from "../engine/preflight.js";
import type { ReusePlan } from "../engine/reuse-plan.js";
import { RunScope } from "../engine/run-scope.js";
import { StoreUris } from "../engine/store-uris.js";
import { executionArn, pipelineArn } from "../naming/sagemaker-arns.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { layout } from "../store/layout.js";
import { trackUntilDone } from "./interrupts.js";
import type { LocalPipelineSession } from "./local-pipeline-session.js";

/** Where a session's definitions say their payloads and results are: its S3 store's own URI, or the local store's bucket name. */
export function definitionRoot(store: ArtifactStore): string {
  return store.uri.startsWith("s3://") ? store.uri : LOCAL_ROOT;
}

/** Why the local engine cannot run a Training step, or undefined when it can. */
export function localRefusal(step: DefinedTrainingStep): string | undefined {
  const mode = (step.arguments.AlgorithmSpecification as { TrainingInputMode?: unknown } | undefined)?.TrainingInputMode;
  if (mode !== undefined && mode !== "File" && typeof mode === "string") {
    return `its TrainingInputMode is ${mode}; the local engine gives channels as files (File mode) only`;
  }
  return undefined;
}

/** One execution of a definition, as the session starts it. */
export interface Launch {
  readonly pipelineName: string;
  /** The definition JSON, byte for byte as recorded, and what it reads as. */
  readonly definition: string;
  readonly graph: DefinitionGraph;
  readonly parameters: ReadonlyMap<string, unknown>;
  readonly parallelism: number;
  readonly displayName?: string | undefined;
  readonly description?: string | undefined;
  readonly reusePlan?: ReusePlan | undefined;
  /** What the definition leaves to this machine, per step. */
  readonly local: ReadonlyMap<string, LocalStepSettings>;
}

/**
 * Checks what needs I/O (the runtime, every Training step's settings and channels), then records the
 * execution and starts running its definition. When a check fails, nothing is recorded or run.
 */
export async function launchExecution(session: LocalPipelineSession, launch: Launch): Promise<ExecutionRun> {
  const started = await session.runtime();
  const id = newExecutionId();
  const uris = new StoreUris(definitionRoot(session.store));
  const facts = {
    parameters: launch.parameters,
    executionId: id,
    executionArn: executionArn(launch.pipelineName, id),
    pipelineName: launch.pipelineName,
    pipelineArn: pipelineArn(launch.pipelineName),
    startTime: new Date(),
    store: session.store,
    uris,
  };
  const preflight = await prepareSteps(launch.graph, new RunScope(facts), launch.local, localRefusal);
  for (const prepared of preflight.values()) {
    if (prepared.resources.belowInstanceType) session.logger.warn({ event: "step.below-instance-type" }, prepared.resources.belowInstanceType);
    if (prepared.resources.withoutGpu) session.logger.warn({ event: "step.without-gpu" }, prepared.resources.withoutGpu);
  }
  const record = firstExecutionRecord({
    graph: launch.graph,
    pipelineName: launch.pipelineName,
    pipelineArn: facts.pipelineArn,
    executionId: id,
    executionArn: facts.executionArn,
    parameters: launch.parameters,
    parallelism: launch.parallelism,
    displayName: launch.displayName,
    description: launch.description,
    selective: launch.reusePlan?.config,
    owner: session.owner,
    creationTime: facts.startTime,
  });
  // Before the record that says Executing, so whoever finds the execution finds the definition it
  // runs; pipeline.json moves on with the next change to the pipeline, this file does not.
  await session.store.put(layout.executionDefinition(launch.pipelineName, id), launch.definition);
  await session.records.writeExecution(record);
  const run = new ExecutionRun(record, launch.graph, {
    records: session.records,
    store: session.store,
    logger: session.logger,
    runtime: started.stepRuntime,
    image: started.image,
    imageId: started.imageId,
    ...executionKeys(started.masterKey, launch.pipelineName, id),
    uris,
    owner: session.owner,
    stopGraceSeconds: session.stopGraceSeconds,
    outputLimitBytes: session.outputLimitBytes,
    logLimitBytes: session.logLimitBytes,
    collectTimeoutSeconds: session.collectTimeoutSeconds,
    preflight,
    parameters: launch.parameters,
    reuse: launch.reusePlan?.reuse ?? new Map<string, ReusedStep>(),
  });
  // The session's onLog hears the steps' lines as it always has, a multi-host step's as `train/algo-2`.
  run.events.subscribe((event) => {
    if (event.type === "log") session.onLog({ step: logSource(event), line: event.line, stream: event.stream });
  });
  trackUntilDone(run, { handleSignals: session.handleSignals });
  return run;
}
