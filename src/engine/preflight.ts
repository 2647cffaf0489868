import { FunctionStep } from "../dsl/function-step.js";
import type { PipelineGraph } from "../graph/compile.js";
import { ValidationError } from "../errors.js";
import { RetryPolicy } from "../dsl/retry-policies.js";
import { parseIsoDuration } from "./iso-duration.js";
import { resolveInputChannels, type ChannelSource } from "./input-channels.js";
import { stepResources, type StepResources } from "./step-resources.js";

function checkRetryAndCache(s: FunctionStep): void {
  const { retryPolicies, cacheConfig } = s.options;
  if (retryPolicies !== undefined && (!Array.isArray(retryPolicies) || !retryPolicies.every((p) => p instanceof RetryPolicy))) {
    throw new ValidationError(`step "${s.name}": retryPolicies must be a list of retry policies`, {
      code: "INVALID_STEP_OPTION",
      hint: 'retryPolicies: [new StepErrorRetryPolicy({ errorNames: ["FlakyError"], maxAttempts: 3 })]',
    });
  }
  if (cacheConfig !== undefined) {
    if (typeof cacheConfig !== "object" || typeof cacheConfig.enableCaching !== "boolean") {
      throw new ValidationError(`step "${s.name}": cacheConfig must be { enableCaching: boolean, expireAfter?: "<ISO-8601 duration>" }`, {
        code: "INVALID_STEP_OPTION",
        hint: 'cacheConfig: { enableCaching: true, expireAfter: "P30D" }',
      });
    }
    if (cacheConfig.expireAfter !== undefined) parseIsoDuration(cacheConfig.expireAfter, `step "${s.name}": cacheConfig.expireAfter`);
  }
}

/** A function step's checked settings, ready for its containers. */
export interface PreparedStep {
  readonly resources: StepResources;
  readonly channels: readonly ChannelSource[];
}

/**
 * Checks every function step's instance type, local override and input channels (that their data
 * is there), so a bad one fails `start()` before anything is recorded or run.
 */
export async function prepareSteps(graph: PipelineGraph): Promise<Map<string, PreparedStep>> {
  const prepared = new Map<string, PreparedStep>();
  for (const s of graph.steps) {
    if (s instanceof FunctionStep) {
      checkRetryAndCache(s);
      prepared.set(s.name, { resources: stepResources(s), channels: await resolveInputChannels(s) });
    }
  }
  return prepared;
}
