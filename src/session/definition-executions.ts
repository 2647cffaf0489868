import { StepboxError, ValidationError } from "../errors.js";
import { readDefinition } from "../definition/read-definition.js";
import { definedParameterValues } from "../engine/parameters.js";
import { retryPlan } from "../engine/reuse-plan.js";
import { executionEnded } from "../store/records.js";
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
}

function checkedParallelism(session: LocalPipelineSession, parallelism: number | undefined): number {
  const n = parallelism ?? session.defaultParallelism;
  if (!Number.isInteger(n) || n < 1) throw new ValidationError(`MaxParallelExecutionSteps must be an integer >= 1, got ${String(parallelism)}`);
  return n;
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
  const run = await launchExecution(session, {
    pipelineName,
    definition: pipeline.PipelineDefinition,
    graph,
    parameters: definedParameterValues(pipelineName, graph.parameters, options.parameters),
    parallelism: checkedParallelism(session, options.parallelism),
    displayName: options.executionDisplayName,
    description: options.executionDescription,
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
  const source = await session.records.readExecution(pipelineName, sourceExecutionId);
  if (!executionEnded(source.PipelineExecutionStatus)) {
    throw new ValidationError(`execution ${sourceExecutionId} is still ${source.PipelineExecutionStatus}`, { hint: "wait for it to end first" });
  }
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
