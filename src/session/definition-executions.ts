import { StepboxError, ValidationError } from "../errors.js";
import { readDefinition } from "../definition/read-definition.js";
import { definedParameterValues } from "../engine/parameters.js";
import { retryPlan, selectivePlan } from "../engine/reuse-plan.js";
import { type ExecutionRecord, executionEnded } from "../store/records.js";
import { launchExecution } from "./launch-execution.js";
import type { LocalPipelineSession } from "./local-pipeline-session.js";
import { PipelineExecution } from "./pipeline-execution.js";

/** How an execution of a recorded pipeline is started (StartPipelineExecution's members). */
export interface DefinitionStartOptions {
  /** Values by name, as text (as the API sends them) or typed; the others take their defaults. */
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly executionDisplayName?: string;
  readonly executionDescription?: string;
  /** At most this many steps at once. @default the session's (the CPU count) */
  readonly parallelism?: number;
  /**
   * Run only these steps, taking every other step's result from the source execution (SageMaker's
   * SelectiveExecutionConfig); parameters not given take the source's values.
   */
  readonly selective?: { readonly sourceExecutionId: string; readonly steps: readonly string[] };
}

function checkedParallelism(session: LocalPipelineSession, parallelism: number | undefined): number {
  const n = parallelism ?? session.defaultParallelism;
  if (!Number.isInteger(n) || n < 1) throw new ValidationError(`MaxParallelExecutionSteps must be an integer >= 1, got ${String(parallelism)}`);
  return n;
}

/** An execution that has ended, for a retry or a selective execution to take results from. */
async function endedSource(session: LocalPipelineSession, pipelineName: string, id: string): Promise<ExecutionRecord> {
  const source = await session.records.readExecution(pipelineName, id);
  if (!executionEnded(source.PipelineExecutionStatus)) {
    throw new ValidationError(`execution ${id} is still ${source.PipelineExecutionStatus}`, { hint: "wait for it to end first" });
  }
  return source;
}

/**
 * Starts an execution of a pipeline recorded in the session's store, from its definition alone (as
 * SageMaker's StartPipelineExecution does): no code of this process is involved, only what the
 * definition says and the functions and arguments it references in the store.
 */
export async function startRecordedPipeline(
  session: LocalPipelineSession,
  pipelineName: string,
  options: DefinitionStartOptions = {},
): Promise<PipelineExecution> {
  const pipeline = await session.records.readPipeline(pipelineName);
  if (!pipeline) {
    throw new StepboxError("NOT_FOUND", `pipeline "${pipelineName}" is not recorded in ${session.store.uri}`, {
      hint: "create it first (CreatePipeline, pipeline.upsert() or stepbox run)",
    });
  }
  const graph = readDefinition(pipeline.PipelineDefinition);
  const selective = options.selective;
  const source = selective && (await endedSource(session, pipelineName, selective.sourceExecutionId));
  const reusePlan =
    source &&
    (await selectivePlan(graph, pipelineName, source, selective!.steps, (step) => session.records.readStep(pipelineName, source.PipelineExecutionId, step)));
  const run = await launchExecution(session, {
    pipelineName,
    definition: pipeline.PipelineDefinition,
    graph,
    parameters: definedParameterValues(pipelineName, graph.parameters, { ...source?.ParameterValues, ...options.parameters }),
    parallelism: checkedParallelism(session, options.parallelism),
    displayName: options.executionDisplayName,
    description: options.executionDescription,
    reusePlan,
    local: new Map(),
  });
  return new PipelineExecution(session, pipelineName, run.record.PipelineExecutionId, run);
}

/**
 * RetryPipelineExecution: a new execution of the same definition the source ran, with its parameters,
 * taking the results of the steps that succeeded there and running the others again.
 */
export async function retryRecordedExecution(
  session: LocalPipelineSession,
  pipelineName: string,
  sourceExecutionId: string,
  options: { readonly parallelism?: number } = {},
): Promise<PipelineExecution> {
  const source = await endedSource(session, pipelineName, sourceExecutionId);
  if (source.PipelineExecutionStatus === "Succeeded") {
    throw new ValidationError(`execution ${sourceExecutionId} succeeded: there is nothing to retry`, { hint: "start a new execution instead" });
  }
  const definition = await new PipelineExecution(session, pipelineName, sourceExecutionId).describeDefinition();
  const graph = readDefinition(definition.PipelineDefinition);
  const reusePlan = await retryPlan(graph, source, (step) => session.records.readStep(pipelineName, sourceExecutionId, step));
  const run = await launchExecution(session, {
    pipelineName,
    definition: definition.PipelineDefinition,
    graph,
    parameters: definedParameterValues(pipelineName, graph.parameters, source.ParameterValues),
    parallelism: checkedParallelism(session, options.parallelism ?? source.ParallelismConfiguration.MaxParallelExecutionSteps),
    displayName: `${source.PipelineExecutionDisplayName}-retry`,
    reusePlan,
    local: new Map(),
  });
  return new PipelineExecution(session, pipelineName, run.record.PipelineExecutionId, run);
}
