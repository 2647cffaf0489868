import { FunctionStep } from "../dsl/function-step.js";
import { StepErrorRetryPolicy } from "../dsl/retry-policies.js";
import type { PipelineGraph } from "../graph/compile.js";

/** A StepErrorRetryPolicy as data: retries on the step function's own error names, which SageMaker has no field for. */
export interface LocalErrorRetryPolicy {
  readonly errorNames: readonly string[];
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  readonly maxAttempts?: number;
  readonly expireAfterMins?: number;
  /** Its place among the step's retryPolicies, so the engine can keep their order with the definition's RetryPolicies. */
  readonly position: number;
}

/** What a step asks of the local engine that a SageMaker definition has no field for. */
export interface LocalStepSettings {
  /** The `local` resource override for small machines. */
  readonly local?: { readonly cpus?: number; readonly memoryGiB?: number };
  readonly errorRetryPolicies?: readonly LocalErrorRetryPolicy[];
}

/**
 * The settings of each function step (by name) that travel beside the definition, never inside it;
 * steps that have none are left out.
 */
export function localStepSettings(graph: PipelineGraph): ReadonlyMap<string, LocalStepSettings> {
  const settings = new Map<string, LocalStepSettings>();
  for (const s of graph.steps) {
    if (!(s instanceof FunctionStep)) continue;
    const { local, retryPolicies } = s.options;
    const errorRetryPolicies: LocalErrorRetryPolicy[] = [];
    for (const [position, policy] of (retryPolicies ?? []).entries()) {
      if (!(policy instanceof StepErrorRetryPolicy)) continue;
      errorRetryPolicies.push({
        errorNames: [...policy.errorNames],
        intervalSeconds: policy.intervalSeconds,
        backoffRate: policy.backoffRate,
        ...(policy.maxAttempts !== undefined ? { maxAttempts: policy.maxAttempts } : {}),
        ...(policy.expireAfterMins !== undefined ? { expireAfterMins: policy.expireAfterMins } : {}),
        position,
      });
    }
    if (local === undefined && errorRetryPolicies.length === 0) continue;
    settings.set(s.name, {
      ...(local !== undefined ? { local: { ...local } } : {}),
      ...(errorRetryPolicies.length > 0 ? { errorRetryPolicies } : {}),
    });
  }
  return settings;
}
