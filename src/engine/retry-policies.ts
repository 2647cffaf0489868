import { type ExceptionType, RetryPolicy, type RetryPolicyOptions, StepErrorRetryPolicy } from "../dsl/retry-policies.js";
import type { LocalErrorRetryPolicy } from "../definition/local-step-settings.js";
import type { DefinedRetryPolicy, DefinedTrainingStep } from "../definition/model.js";

export type StepRetryPolicies = readonly RetryPolicy[];

/** A definition's retry policy: it covers a failure whose job exception type it lists (SageMaker's `ExceptionType`). */
class ExceptionTypeRetryPolicy extends RetryPolicy {
  readonly exceptionTypes: readonly string[];

  constructor(where: string, policy: DefinedRetryPolicy) {
    const options: RetryPolicyOptions = {
      ...(policy.IntervalSeconds !== undefined ? { intervalSeconds: policy.IntervalSeconds } : {}),
      ...(policy.BackoffRate !== undefined ? { backoffRate: policy.BackoffRate } : {}),
      ...(policy.MaxAttempts !== undefined ? { maxAttempts: policy.MaxAttempts } : {}),
      ...(policy.ExpireAfterMin !== undefined ? { expireAfterMins: policy.ExpireAfterMin } : {}),
    };
    super(where, options);
    this.exceptionTypes = policy.ExceptionType;
  }

  covers(failure: { exceptionType: ExceptionType | undefined }): boolean {
    return failure.exceptionType !== undefined && this.exceptionTypes.includes(failure.exceptionType);
  }
}

/**
 * A Training step's retry policies in the order the step listed them: its definition's RetryPolicies,
 * with the local ones beyond SageMaker's (error names) back in their places.
 */
export function retryPolicies(step: DefinedTrainingStep, local: readonly LocalErrorRetryPolicy[] | undefined): StepRetryPolicies {
  const policies: RetryPolicy[] = step.retryPolicies.map((p, i) => new ExceptionTypeRetryPolicy(`step "${step.name}": RetryPolicies[${i}]`, p));
  for (const p of [...(local ?? [])].sort((a, b) => a.position - b.position)) {
    const { position, ...options } = p;
    policies.splice(Math.min(position, policies.length), 0, new StepErrorRetryPolicy(options));
  }
  return policies;
}
