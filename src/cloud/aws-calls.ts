/**
 * One way to call AWS from a cloud session: the SDK's own retries (with backoff, throttling included)
 * happen inside the client; what still fails after them becomes a `CloudError` that names the
 * operation, the resource and the fix, instead of the SDK's bare exception.
 */
import { CloudError, StepboxError } from "../errors.js";

/** What the AWS SDK for JavaScript puts on the errors it throws. */
interface AwsSdkError {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly attempts?: number };
}

const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "SlowDown",
  "RequestLimitExceeded",
  "ProvisionedThroughputExceededException",
]);
const ACCESS_DENIED = new Set(["AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "AuthorizationError", "NotAuthorized"]);
const CREDENTIALS = new Set([
  "CredentialsProviderError",
  "UnrecognizedClientException",
  "InvalidClientTokenId",
  "ExpiredTokenException",
  "ExpiredToken",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
]);
const NETWORK = new Set(["ECONNREFUSED", "ENOTFOUND", "ECONNRESET", "ETIMEDOUT", "EAI_AGAIN", "TimeoutError"]);

/** Whether an error (a CloudError or the SDK's) is AWS throttling the caller. */
export function isThrottling(error: unknown): boolean {
  if (error instanceof CloudError) return THROTTLING.has(error.awsCode);
  return THROTTLING.has((error as AwsSdkError | null)?.name ?? "");
}

/**
 * Runs one AWS call; a failure becomes a `CloudError`. `operation` is the IAM action
 * (`sagemaker:CreatePipeline`, `s3:PutObject`), `resource` the name or ARN it acts on.
 */
export async function awsCall<T>(operation: string, resource: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw cloudError(operation, resource, error);
  }
}

/** The `CloudError` for an error an AWS call threw; a StepboxError passes through unchanged. */
export function cloudError(operation: string, resource: string, error: unknown): StepboxError {
  if (error instanceof StepboxError) return error;
  const e = (error ?? {}) as AwsSdkError;
  const code = e.name && e.name !== "Error" ? e.name : (e.code ?? "UnknownError");
  const status = e.$metadata?.httpStatusCode;
  const attempts = e.$metadata?.attempts;
  const reason = `${code}${status !== undefined ? ` (HTTP ${status})` : ""}: ${e.message ?? String(error)}`;
  return new CloudError({
    operation,
    resource,
    awsCode: code,
    reason,
    httpStatus: status,
    hint: hintFor(code, e.code, operation, resource, attempts),
    cause: error,
  });
}

function hintFor(name: string, errno: string | undefined, operation: string, resource: string, attempts: number | undefined): string {
  if (ACCESS_DENIED.has(name)) {
    return `allow ${operation} on ${resource} to the credentials in use (for SageMaker calls, the user; for what the jobs read and write, the pipeline's role): the README lists the permissions`;
  }
  if (THROTTLING.has(name)) {
    return `AWS throttled ${operation}${attempts ? ` on all ${attempts} attempts` : ""}: try again later, run fewer clients at once, or give the session a larger maxAttempts`;
  }
  if (CREDENTIALS.has(name)) {
    return "give AWS credentials: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, or the session's credentials option; check the region too";
  }
  if (name === "ResourceLimitExceeded" || name === "ServiceQuotaExceededException") {
    return "a SageMaker quota is reached: delete pipelines or executions you no longer need, or ask for a higher quota in Service Quotas";
  }
  if (name === "ResourceNotFound" || name === "ResourceNotFoundException") {
    return `check the name or ARN and the region; a pipeline must be created (pipeline.upsert(), stepbox deploy) before it is started`;
  }
  if (name === "NoSuchBucket") return `create the bucket of ${resource}, or give the session an s3Root in a bucket that exists`;
  if (name === "NoSuchKey" || name === "NotFound") return `${resource} is not in S3: the step may not have written it, or another process removed it`;
  if (name === "ValidationException") return `the request was refused as invalid: the message above is the service's; fix what it names`;
  if (name === "ConflictException" || name === "ResourceInUse") return `${resource} is being changed by another call: try again when it is done`;
  if (NETWORK.has(name) || (errno !== undefined && NETWORK.has(errno))) {
    return "the endpoint cannot be reached: check the network, the region, and AWS_ENDPOINT_URL_SAGEMAKER / AWS_ENDPOINT_URL_S3 or the session's endpoint";
  }
  return `see the AWS error above; ${operation} on ${resource} may be retried`;
}
