import { ValidationError } from "../errors.js";

/** Failures of the engine itself, as SageMaker's StepExceptionTypeEnum. */
export const StepExceptionType = {
  /** The Docker engine failed or went away. */
  SERVICE_FAULT: "Step.SERVICE_FAULT",
  THROTTLING: "Step.THROTTLING",
} as const;

/** Failures of the step's training job, as SageMaker's SageMakerJobExceptionTypeEnum. */
export const SageMakerJobExceptionType = {
  /** The container engine failed while running the job. */
  INTERNAL_ERROR: "SageMaker.JOB_INTERNAL_ERROR",
  /** The engine could not create or start the job's containers. */
  CAPACITY_ERROR: "SageMaker.CAPACITY_ERROR",
  /** The job ran out of memory or past its output limit. */
  RESOURCE_LIMIT: "SageMaker.RESOURCE_LIMIT",
} as const;

export type ExceptionType =
  | (typeof StepExceptionType)[keyof typeof StepExceptionType]
  | (typeof SageMakerJobExceptionType)[keyof typeof SageMakerJobExceptionType];

export interface RetryPolicyOptions {
  /** Seconds before the first retry. @default 1 */
  intervalSeconds?: number;
  /** Each retry waits this many times longer than the one before. @default 2 */
  backoffRate?: number;
  /** Retries after the first attempt, 1 to 20. */
  maxAttempts?: number;
  /** No retry starts this many minutes after the first attempt started, 0 to 14400. */
  expireAfterMins?: number;
}

/** When and how often a failed step is tried again. Give `maxAttempts`, `expireAfterMins` or both. */
export abstract class RetryPolicy {
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  readonly maxAttempts: number | undefined;
  readonly expireAfterMins: number | undefined;

  constructor(kind: string, options: RetryPolicyOptions) {
    const o = options ?? {};
    const check = (ok: boolean, message: string): void => {
      if (!ok)
        throw new ValidationError(`${kind}: ${message}`, {
          code: "INVALID_STEP_OPTION",
          hint: `for example new ${kind}({ ..., maxAttempts: 3, intervalSeconds: 1 })`,
        });
    };
    this.intervalSeconds = o.intervalSeconds ?? 1;
    this.backoffRate = o.backoffRate ?? 2;
    this.maxAttempts = o.maxAttempts;
    this.expireAfterMins = o.expireAfterMins;
    check(
      Number.isFinite(this.intervalSeconds) && this.intervalSeconds >= 0 && this.intervalSeconds <= 43200,
      `intervalSeconds must be between 0 and 43200, got ${String(o.intervalSeconds)}`,
    );
    check(Number.isFinite(this.backoffRate) && this.backoffRate >= 0, `backoffRate must be >= 0, got ${String(o.backoffRate)}`);
    check(
      this.maxAttempts === undefined || (Number.isInteger(this.maxAttempts) && this.maxAttempts >= 1 && this.maxAttempts <= 20),
      `maxAttempts must be an integer from 1 to 20, got ${String(o.maxAttempts)}`,
    );
    check(
      this.expireAfterMins === undefined || (Number.isFinite(this.expireAfterMins) && this.expireAfterMins >= 0 && this.expireAfterMins <= 14400),
      `expireAfterMins must be between 0 and 14400, got ${String(o.expireAfterMins)}`,
    );
    check(this.maxAttempts !== undefined || this.expireAfterMins !== undefined, "give maxAttempts, expireAfterMins or both");
  }

  /** Whether this policy covers a failure. */
  abstract covers(failure: { exceptionType: ExceptionType | undefined; errorName: string | undefined }): boolean;

  /** The seconds to wait before retry number `retry` (1 for the first retry). */
  delaySeconds(retry: number): number {
    return this.intervalSeconds * this.backoffRate ** (retry - 1);
  }
}

function checkTypes(kind: string, types: unknown, allowed: readonly string[]): readonly string[] {
  if (!Array.isArray(types) || types.length === 0 || !types.every((t) => allowed.includes(t as string))) {
    throw new ValidationError(`${kind}: exceptionTypes must list at least one of ${allowed.join(", ")}`, { code: "INVALID_STEP_OPTION" });
  }
  return [...types] as string[];
}

/** Retries when the engine itself failed (SageMaker's StepRetryPolicy). */
export class StepRetryPolicy extends RetryPolicy {
  readonly exceptionTypes: readonly string[];
  constructor(options: RetryPolicyOptions & { exceptionTypes: readonly string[] }) {
    super("StepRetryPolicy", options);
    this.exceptionTypes = checkTypes("StepRetryPolicy", options.exceptionTypes, Object.values(StepExceptionType));
  }
  covers(failure: { exceptionType: ExceptionType | undefined }): boolean {
    return failure.exceptionType !== undefined && this.exceptionTypes.includes(failure.exceptionType);
  }
}

/** Retries when the step's job failed for a reason of the platform (SageMaker's SageMakerJobStepRetryPolicy). */
export class SageMakerJobStepRetryPolicy extends RetryPolicy {
  readonly exceptionTypes: readonly string[];
  constructor(options: RetryPolicyOptions & { exceptionTypes: readonly string[] }) {
    super("SageMakerJobStepRetryPolicy", options);
    this.exceptionTypes = checkTypes("SageMakerJobStepRetryPolicy", options.exceptionTypes, Object.values(SageMakerJobExceptionType));
  }
  covers(failure: { exceptionType: ExceptionType | undefined }): boolean {
    return failure.exceptionType !== undefined && this.exceptionTypes.includes(failure.exceptionType);
  }
}

/** Beyond SageMaker: retries when the step function threw an error with one of these names. */
export class StepErrorRetryPolicy extends RetryPolicy {
  readonly errorNames: readonly string[];
  constructor(options: RetryPolicyOptions & { errorNames: readonly string[] }) {
    super("StepErrorRetryPolicy", options);
    if (!Array.isArray(options.errorNames) || options.errorNames.length === 0 || !options.errorNames.every((n) => typeof n === "string")) {
      throw new ValidationError('StepErrorRetryPolicy: errorNames must list at least one error name, e.g. ["ConnectionResetError"]', {
        code: "INVALID_STEP_OPTION",
      });
    }
    this.errorNames = [...options.errorNames];
  }
  covers(failure: { errorName: string | undefined }): boolean {
    return failure.errorName !== undefined && this.errorNames.includes(failure.errorName);
  }
}

/** SageMaker's ParallelismConfiguration: at most this many steps run at once. */
export class ParallelismConfiguration {
  readonly maxParallelExecutionSteps: number;
  constructor(maxParallelExecutionSteps: number) {
    if (!Number.isInteger(maxParallelExecutionSteps) || maxParallelExecutionSteps < 1) {
      throw new ValidationError(`ParallelismConfiguration: maxParallelExecutionSteps must be an integer >= 1, got ${String(maxParallelExecutionSteps)}`);
    }
    this.maxParallelExecutionSteps = maxParallelExecutionSteps;
  }
}
