/**
 * The errors serve answers with, as SageMaker's JSON 1.1 endpoint answers them: an HTTP status, the
 * `x-amzn-ErrorType` header and a body `{"__type": "...", "message": "..."}`. The SDKs turn the type
 * into the thrown error's `name`. A closed union: every error serve sends is one of these.
 */
import { StepboxError, UnknownExecutionError, ValidationError, NotFoundError } from "../errors.js";

export type ApiErrorType =
  /** A request member is missing, of the wrong type or out of its range, or the request cannot be done as asked. */
  | "ValidationException"
  /** The pipeline, execution or training job the request names does not exist. */
  | "ResourceNotFound"
  /** The resource is in use (SageMaker's ResourceInUse). */
  | "ResourceInUse"
  /** The request conflicts with the resource's state (a pipeline deleted while it runs). */
  | "ConflictException"
  /** `X-Amz-Target` names no operation that serve implements. */
  | "UnknownOperationException"
  /** The body is not a JSON object. */
  | "SerializationException"
  /** serve itself failed; logged with its cause. */
  | "InternalFailure"
  /** CloudWatch Logs: the log group or stream the request names does not exist. */
  | "ResourceNotFoundException"
  /** CloudWatch Logs: a parameter is missing or out of range. */
  | "InvalidParameterException"
  /** Answered only when a test asks for it (`--fault`): AWS throttling the caller. */
  | "ThrottlingException"
  /** Answered only when a test asks for it (`--fault`): the caller may not do this. */
  | "AccessDeniedException"
  /** Answered only when a test asks for it (`--fault`): a quota is reached. */
  | "ResourceLimitExceeded"
  /** Answered only when a test asks for it (`--fault`): the service cannot answer now. */
  | "ServiceUnavailable";

const STATUS: Readonly<Record<ApiErrorType, number>> = {
  ValidationException: 400,
  ResourceNotFound: 400,
  ResourceInUse: 400,
  ConflictException: 400,
  UnknownOperationException: 400,
  SerializationException: 400,
  InternalFailure: 500,
  ResourceNotFoundException: 400,
  InvalidParameterException: 400,
  ThrottlingException: 400,
  AccessDeniedException: 400,
  ResourceLimitExceeded: 400,
  ServiceUnavailable: 503,
};

/** An error answered to the client in SageMaker's shape. */
export class ApiError extends Error {
  readonly type: ApiErrorType;
  constructor(type: ApiErrorType, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "ApiError";
    this.type = type;
  }

  get status(): number {
    return STATUS[this.type];
  }

  /** The response body. */
  body(): { __type: ApiErrorType; message: string } {
    return { __type: this.type, message: this.message };
  }
}

export const validation = (message: string): ApiError => new ApiError("ValidationException", message);
export const notFound = (message: string): ApiError => new ApiError("ResourceNotFound", message);

/**
 * The answer to an error a handler let through. Bad input found below serve (a ValidationError from
 * the engine or the definition reader) is the client's: a ValidationException with its message and
 * hint. Anything else is serve's own failure: InternalFailure, with the error kept as the cause for the log,
 * and its message when it is a StepboxError (a damaged record, a store that cannot be read), which says what to do.
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ValidationError) return validation(oneLine(error));
  if (error instanceof UnknownExecutionError || error instanceof NotFoundError) return notFound(oneLine(error));
  // A stepbox error explains itself (a damaged record names its key and the fix): the local user sees it.
  const why = error instanceof StepboxError ? `: ${oneLine(error)}` : "; its log has the reason";
  return new ApiError("InternalFailure", `stepbox serve failed to handle the request${why}`, { cause: error });
}

/** A StepboxError's message and hint as one line, as SageMaker's messages are. */
function oneLine(error: StepboxError): string {
  return error.hint ? `${error.detail} (${error.hint})` : error.detail;
}
