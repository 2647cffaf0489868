import { type ExceptionType, RetryPolicy, type RetryPolicyOptions } from "../dsl/retry-policies.js";
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

/** A Training step's retry policies: those its definition lists, then the local ones beyond SageMaker's. */
export function retryPolicies(step: DefinedTrainingStep, local: StepRetryPolicies | undefined): StepRetryPolicies {
  return [...step.retryPolicies.map((p, i) => new ExceptionTypeRetryPolicy(`step "${step.name}": RetryPolicies[${i}]`, p)), ...(local ?? [])];
}
