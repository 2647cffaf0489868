/**
 * Faults serve answers on purpose, for testing clients against the errors AWS gives (`stepbox serve
 * --fault StartPipelineExecution=ThrottlingException:3`): the next N calls of an operation (or every
 * call, without a count) get the error instead of an answer. Nothing else in serve makes these errors.
 */
import { ValidationError } from "../errors.js";
import { ApiError, type ApiErrorType } from "./api-error.js";

/** The errors a fault can answer, with the message AWS gives. */
const FAULT_MESSAGES: Partial<Record<ApiErrorType, (operation: string) => string>> = {
  ThrottlingException: () => "Rate exceeded",
  AccessDeniedException: (operation) =>
    `User: arn:aws:sts::000000000000:assumed-role/stepbox-test/session is not authorized to perform: sagemaker:${operation} because no identity-based policy allows the sagemaker:${operation} action`,
  ResourceLimitExceeded: () => "The account-level service limit 'Maximum number of pipelines' is 0 Pipelines (stepbox serve --fault)",
  ServiceUnavailable: () => "Service Unavailable",
  InternalFailure: () => "We encountered an internal error. Please try again.",
};

export interface ServeFault {
  readonly operation: string;
  readonly error: ApiErrorType;
  /** How many calls get the error; undefined: every call. */
  readonly times: number | undefined;
}

/** `<Operation>=<ErrorCode>[:<times>]`, checked against the operations serve answers. */
export function parseFault(text: string, operations: readonly string[]): ServeFault {
  const match = /^([A-Za-z]+)=([A-Za-z]+)(?::(\d+))?$/.exec(text);
  const errors = Object.keys(FAULT_MESSAGES);
  if (!match) {
    throw new ValidationError(`--fault ${JSON.stringify(text)} is not <Operation>=<ErrorCode>[:<times>]`, {
      hint: "e.g. --fault StartPipelineExecution=ThrottlingException:3",
    });
  }
  const [, operation = "", error = "", times] = match;
  if (!operations.includes(operation)) {
    throw new ValidationError(`--fault ${text}: serve has no operation ${operation}`, { hint: `its operations are: ${operations.join(", ")}` });
  }
  if (!errors.includes(error))
    throw new ValidationError(`--fault ${text}: ${error} is not an error serve can answer with`, { hint: `use one of ${errors.join(", ")}` });
  if (times !== undefined && Number(times) < 1)
    throw new ValidationError(`--fault ${text}: the count must be 1 or more`, { hint: "leave it out to fail every call" });
  return { operation, error: error as ApiErrorType, times: times === undefined ? undefined : Number(times) };
}

/** The faults still to answer, by operation, in the order given. */
export class FaultPlan {
  readonly #left: Array<{ operation: string; error: ApiErrorType; times: number | undefined }>;

  constructor(faults: readonly ServeFault[]) {
    this.#left = faults.map((f) => ({ ...f }));
  }

  /** The error the next call of `operation` gets, if a fault says so; counts it. */
  take(operation: string): ApiError | undefined {
    const fault = this.#left.find((f) => f.operation === operation && (f.times === undefined || f.times > 0));
    if (!fault) return undefined;
    if (fault.times !== undefined) fault.times--;
    return new ApiError(fault.error, FAULT_MESSAGES[fault.error]!(operation));
  }
}
