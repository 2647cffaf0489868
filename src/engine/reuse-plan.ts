import { ValidationError } from "../errors.js";
import type { StepGraph } from "./schedule.js";
import type { ExecutionRecord, StepRecord } from "../store/records.js";
import type { ReusedStep } from "./execution-run.js";

/** Which steps a new execution takes from an earlier one, and which it runs again. */
export interface ReusePlan {
  readonly reuse: ReadonlyMap<string, ReusedStep>;
  /** The source and the steps that run again, as the execution's record keeps them. */
  readonly config: NonNullable<ExecutionRecord["SelectiveExecutionConfig"]>;
}

/** Reads a step's record in the source execution; undefined when it has none. */
export type SourceStepReader = (stepName: string) => Promise<StepRecord | undefined>;

/**
 * A retry (SageMaker's RetryPipelineExecution): every step that succeeded in `source` is taken from
 * it; the failed, stopped and never-started ones run again.
 */
export async function retryPlan(graph: StepGraph, source: ExecutionRecord, readStep: SourceStepReader): Promise<ReusePlan> {
  const reuse = await succeededSteps(graph, source, readStep, () => true);
  const selected = graph.steps.map((s) => s.name).filter((name) => !reuse.has(name));
  return { reuse, config: selectiveConfig(source, selected) };
}

/**
 * A selective execution: only the `selected` steps run; every other step's result is taken from
 * `source`. A step that is not selected, has no result in `source`, and that a selected step needs
 * is refused, naming the step to add.
 */
export async function selectivePlan(
  graph: StepGraph,
  pipelineName: string,
  source: ExecutionRecord,
  steps: readonly string[],
  readStep: SourceStepReader,
): Promise<ReusePlan> {
  const selected = new Set(steps);
  const names = new Set(graph.steps.map((s) => s.name));
  for (const name of selected) {
    if (!names.has(name)) {
      throw new ValidationError(`start(): selectiveExecution names step "${name}", which pipeline "${pipelineName}" does not have`, {
        hint: `its steps are: ${[...names].join(", ")}`,
      });
    }
  }
  if (selected.size === 0) throw new ValidationError("start(): selectiveExecution.steps is empty", { hint: 'name the steps to run: steps: ["train"]' });
  const reuse = await succeededSteps(graph, source, readStep, (name) => !selected.has(name));
  for (const s of graph.steps) {
    if (selected.has(s.name) || reuse.has(s.name)) continue;
    if (graph.steps.some((d) => selected.has(d.name) && dependsOn(graph, d.name, s.name))) {
      throw new ValidationError(
        `start(): step "${s.name}" is not selected, and execution ${source.PipelineExecutionId} has no result of it for the selected steps to use`,
        { hint: `select it too: steps: [${[...selected, s.name].map((n) => JSON.stringify(n)).join(", ")}]` },
      );
    }
  }
  return { reuse, config: selectiveConfig(source, [...selected]) };
}

/** The steps among `candidates` that succeeded in `source`, read in the graph's order. */
async function succeededSteps(
  graph: StepGraph,
  source: ExecutionRecord,
  readStep: SourceStepReader,
  candidate: (name: string) => boolean,
): Promise<Map<string, ReusedStep>> {
  const reuse = new Map<string, ReusedStep>();
  for (const s of graph.steps) {
    if (!candidate(s.name)) continue;
    const record = await readStep(s.name);
    if (record?.StepStatus === "Succeeded") {
      reuse.set(s.name, { sourceExecutionId: source.PipelineExecutionId, sourceExecutionArn: source.PipelineExecutionArn, record });
    }
  }
  return reuse;
}

function selectiveConfig(source: ExecutionRecord, selected: readonly string[]): ReusePlan["config"] {
  return { SourcePipelineExecutionArn: source.PipelineExecutionArn, SelectedSteps: selected.map((StepName) => ({ StepName })) };
}

/** Whether `step` waits, directly or through others, on `on`. */
function dependsOn(graph: StepGraph, step: string, on: string, seen = new Set<string>()): boolean {
  for (const up of graph.upstream.get(step) ?? []) {
    if (up === on) return true;
    if (!seen.has(up)) {
      seen.add(up);
      if (dependsOn(graph, up, on, seen)) return true;
    }
  }
  return false;
}
