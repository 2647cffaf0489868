import { FunctionStep } from "../dsl/function-step.js";
import type { PipelineGraph } from "../graph/compile.js";
import type { InputChannel } from "../runtime/docker-step-runner.js";
import { resolveInputChannels, stepResources, type StepResources } from "./step-resources.js";

/** A function step's checked settings, ready for its containers. */
export interface PreparedStep {
  readonly resources: StepResources;
  readonly channels: readonly InputChannel[];
}

/**
 * Checks every function step's instance type, local override and input channels, so a bad one
 * fails `start()` before anything is recorded or run.
 */
export async function prepareSteps(graph: PipelineGraph): Promise<Map<string, PreparedStep>> {
  const prepared = new Map<string, PreparedStep>();
  for (const s of graph.steps) {
    if (s instanceof FunctionStep) {
      prepared.set(s.name, { resources: stepResources(s), channels: await resolveInputChannels(s) });
    }
  }
  return prepared;
}
