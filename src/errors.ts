/**
 * The typed error hierarchy of stepbox.
 *
 * Every error stepbox throws is a `StepboxError` with a stable `code`, a message that names the thing
 * that is wrong and how to fix it, and the underlying `cause` when there is one. Callers branch on
 * `instanceof` or on `code`, never on message text.
 */

export type StepboxErrorCode =
  | "INVALID_ARGUMENT"
  | "INVALID_STEP_OPTION"
  | "INVALID_PIPELINE"
  | "DUPLICATE_STEP_NAME"
  | "CYCLE"
  | "UNKNOWN_STEP"
  | "UNKNOWN_EXECUTION"
  | "STEP_FAILED"
  | "SERIALIZATION"
  | "INTEGRITY"
  | "BUNDLE"
  | "IMAGE_BUILD"
  | "CONTAINER_ENGINE"
  | "STORE"
  | "NOT_FOUND"
  | "STEP_OUTPUT"
  | "INVALID_DEFINITION"
  | "EXPRESSION"
  | "CLOUD"
  | "REGISTRY"
  | "OUTPUT_FILESYSTEM";

export interface StepboxErrorOptions {
  cause?: unknown;
  /** One line that tells the user what to do about it. Appended to the message. */
  hint?: string;
}

export class StepboxError extends Error {
  readonly code: StepboxErrorCode;
  readonly hint: string | undefined;
  /** The message without the hint appended to it. */
  readonly detail: string;

  constructor(code: StepboxErrorCode, message: string, options: StepboxErrorOptions = {}) {
    super(options.hint ? `${message}\n  hint: ${options.hint}` : message, { cause: options.cause });
    // "ValidationError: ...", not "Error: ...", in stacks, logs and what crosses the container boundary.
    this.name = new.target.name;
    this.detail = message;
    this.code = code;
    this.hint = options.hint;
  }
}

/** Bad input from the user: a wrong option, argument or value. Raised before any work starts. */
export class ValidationError extends StepboxError {
  constructor(message: string, options: StepboxErrorOptions & { code?: StepboxErrorCode } = {}) {
    super(options.code ?? "INVALID_ARGUMENT", message, options);
  }
}

/**
 * A SageMaker pipeline definition that stepbox will not run: not JSON, not the shape SageMaker
 * accepts, a name that is not declared, a cycle, or a step type stepbox cannot run. The message
 * names the place in the definition as a JSON path (`Steps[2].Arguments.IfSteps[0]`).
 */
export class DefinitionError extends ValidationError {
  /** Where in the definition, as a JSON path (`Steps[0].DependsOn[1]`); empty for the whole text. */
  readonly path: string;
  /** The step the problem is in, when it is in one. */
  readonly step: string | undefined;
  constructor(path: string, problem: string, options: { step?: string | undefined; hint: string; cause?: unknown }) {
    const where = path === "" ? "the definition" : options.step ? `${path} (step "${options.step}")` : path;
    super(`${where}: ${problem}`, { code: "INVALID_DEFINITION", hint: options.hint, cause: options.cause });
    this.path = path;
    this.step = options.step;
  }
}

/**
 * An expression of a definition (`Get`, `Std:Join`, `Std:JsonGet`, a condition) that cannot be
 * evaluated with the values an execution has: a JSON path that is not in the file, values a
 * condition cannot compare. The step that evaluates it fails with this reason.
 */
export class ExpressionError extends StepboxError {
  constructor(message: string, options: StepboxErrorOptions = {}) {
    super("EXPRESSION", message, options);
  }
}

/** Two steps of one pipeline share a name. */
export class DuplicateStepNameError extends ValidationError {
  readonly stepName: string;
  constructor(stepName: string, options: StepboxErrorOptions = {}) {
    super(`two different steps are both named "${stepName}"`, {
      code: "DUPLICATE_STEP_NAME",
      hint: `give one of them its own name with step(fn, { name: "..." })`,
      ...options,
    });
    this.stepName = stepName;
  }
}

/** The steps' dependencies form a cycle. */
export class CycleError extends ValidationError {
  readonly cycle: readonly string[];
  constructor(cycle: readonly string[]) {
    super(`the pipeline's steps form a cycle: ${cycle.join(" -> ")}`, {
      code: "CYCLE",
      hint: "remove one of the dependencies (addDependsOn or a passed DelayedReturn) in that loop",
    });
    this.cycle = cycle;
  }
}

/** A step name that the pipeline or execution does not have. */
export class UnknownStepError extends StepboxError {
  readonly stepName: string;
  constructor(stepName: string, known: readonly string[]) {
    super("UNKNOWN_STEP", `there is no step named "${stepName}" in this execution`, {
      hint: known.length > 0 ? `its steps are: ${known.join(", ")}` : "this execution has no steps",
    });
    this.stepName = stepName;
  }
}

/** An execution id that the store does not hold. */
export class UnknownExecutionError extends StepboxError {
  readonly executionId: string;
  constructor(executionId: string, where: string) {
    super("UNKNOWN_EXECUTION", `no execution "${executionId}" is recorded in ${where}`, {
      hint: "list the recorded executions with pipeline.listExecutions()",
    });
    this.executionId = executionId;
  }
}

/** The shape of an error after it crossed the container boundary. */
export interface RemoteErrorInfo {
  name: string;
  message: string;
  stack?: string | undefined;
  code?: string | number | undefined;
}

/**
 * What kind of failure ended a step. Each but the last three is the prefix of SageMaker's
 * FailureReason for it; `StepReported` is the step's own words (what it left in /opt/ml/output/failure),
 * `Fail` a FailStep's message, and `Interrupted` an engine process that ended before the step did.
 */
export type FailureKind =
  | "ClientError"
  | "AlgorithmError"
  | "OutOfMemory"
  | "OutputLimitExceeded"
  | "MaxRuntimeExceeded"
  | "Stopped"
  | "InternalServerError"
  | "StepReported"
  | "Fail"
  | "Interrupted";

/**
 * Why a step failed or was stopped, as data: what callers branch on (retry policies, the CLI, the
 * report, StepFailedError), where FailureReason is the one text SageMaker shows, made from it once.
 * Not in SageMaker's API.
 */
export interface StepFailure {
  readonly kind: FailureKind;
  /** What happened, in words, without the kind's prefix. */
  readonly message: string;
  /** The exit code of the container that failed, when one did. */
  readonly exitCode?: number;
  /** Whether the kernel killed it for using more than its memory. */
  readonly oomKilled?: boolean;
  /** The host that failed, on a step of several hosts. */
  readonly host?: string;
  /** SageMaker's job exception type (SageMaker.JOB_INTERNAL_ERROR...), which retry policies match. */
  readonly exceptionType?: string;
}

/**
 * A step did not succeed. Carries the step's FailureReason, the failure as data (its kind, exit
 * code, whether it ran out of memory), how long it ran, and, when the step's own code threw, the
 * original error's name, message and stack. Branch on `failure.kind`, never on the reason's text.
 */
export class StepFailedError extends StepboxError {
  readonly stepName: string;
  readonly failureReason: string;
  readonly status: "Failed" | "Stopped" | "NotRun";
  readonly failure: StepFailure | undefined;
  readonly originalError: RemoteErrorInfo | undefined;
  /** From the step's start to its end, when it ran. */
  readonly durationMs: number | undefined;

  constructor(args: {
    stepName: string;
    failureReason: string;
    status?: "Failed" | "Stopped" | "NotRun";
    failure?: StepFailure | undefined;
    originalError?: RemoteErrorInfo | undefined;
    durationMs?: number | undefined;
    cause?: unknown;
  }) {
    const status = args.status ?? "Failed";
    const verb = status === "Stopped" ? "was stopped" : status === "NotRun" ? "never ran" : "failed";
    super("STEP_FAILED", `step "${args.stepName}" ${verb}: ${args.failureReason}`, {
      cause: args.cause,
    });
    this.stepName = args.stepName;
    this.failureReason = args.failureReason;
    this.status = status;
    this.failure = args.failure;
    this.originalError = args.originalError;
    this.durationMs = args.durationMs;
  }

  /** The exit code of the step's container, when it exited with one. */
  get exitCode(): number | undefined {
    return this.failure?.exitCode;
  }

  /** Whether the step was killed for using more than its memory. */
  get oomKilled(): boolean {
    return this.failure?.oomKilled === true;
  }
}

/** A value cannot cross the container boundary (a function, a symbol...). */
export class SerializationError extends StepboxError {
  /** Where inside the value the problem is, as a JS path like `args[0].model.fit`. */
  readonly path: string;
  /** What cannot be serialized, in words ("a function"). */
  readonly what: string;
  constructor(path: string, what: string, options: StepboxErrorOptions = {}) {
    super("SERIALIZATION", `cannot serialize ${what} at ${path}`, {
      hint: "pass plain data (objects, arrays, Map, Set, Date, Buffer, typed arrays, bigint, errors) between steps",
      ...options,
    });
    this.path = path;
    this.what = what;
  }
}

/** A payload's HMAC does not match: it was altered, truncated or signed with another key. */
export class IntegrityError extends StepboxError {
  constructor(what: string, options: StepboxErrorOptions = {}) {
    super("INTEGRITY", `integrity check failed for ${what}: it was altered, truncated or written with another key`, {
      hint: "restrict write access to the artifact store; rerun the step to produce it again",
      ...options,
    });
  }
}

/** The SageMaker SDK's words for a payload that fails its integrity check, which tests and users search for. */
export const SDK_INTEGRITY_MESSAGE = "Integrity check for the serialized function or data failed. Please restrict access to your S3 bucket";

/**
 * A payload sent to a job (its function or arguments) whose ECDSA signature does not verify under the
 * job's public key, or whose digest does not match. The message starts as the SageMaker SDK's does, so
 * a step's FailureReason reads the same in the cloud and here; `what` and `reason` say which payload and why.
 */
export class PayloadSignatureError extends StepboxError {
  readonly what: string;
  readonly reason: string;
  constructor(what: string, reason: string, options: StepboxErrorOptions = {}) {
    // Not `PayloadSignatureError.X`: a class that names itself inside its body is renamed by esbuild
    // (`_PayloadSignatureError`), and the name is what crosses the container boundary.
    super("INTEGRITY", `${SDK_INTEGRITY_MESSAGE} (${what}: ${reason})`, {
      hint: "sign payloads with the key of the definition build whose public key the job gets, and restrict write access to the bucket",
      ...options,
    });
    this.what = what;
    this.reason = reason;
  }
}

/** esbuild could not bundle the module that defines a step. */
export class BundleError extends StepboxError {
  constructor(message: string, options: StepboxErrorOptions = {}) {
    super("BUNDLE", message, options);
  }
}

/** The runtime image could not be built. */
export class ImageBuildError extends StepboxError {
  constructor(message: string, options: StepboxErrorOptions = {}) {
    super("IMAGE_BUILD", message, options);
  }
}

/**
 * How a container engine failed: it never answered (`unreachable`), answered a request with an error
 * (`refused`: a bad request, or one it has no capacity for now), or went away while stepbox used it (`lost`).
 */
export type ContainerEngineFailure = "unreachable" | "refused" | "lost";

/** The Docker engine is missing, refused a request or went away. */
export class ContainerEngineError extends StepboxError {
  readonly reason: ContainerEngineFailure;
  constructor(message: string, options: StepboxErrorOptions & { reason: ContainerEngineFailure }) {
    super("CONTAINER_ENGINE", message, options);
    this.reason = options.reason;
  }
}

/** The artifact store could not read or write. */
export class StoreError extends StepboxError {
  /**
   * The file system's error code when that is why (`ENOSPC`, `EDQUOT`, `EROFS`, `EACCES`...), for
   * callers to branch on instead of the message.
   */
  readonly errno: string | undefined;
  constructor(message: string, options: StepboxErrorOptions & { errno?: string | undefined } = {}) {
    super("STORE", message, options);
    this.errno = options.errno;
  }
}

/** A key that the artifact store does not hold. */
export class NotFoundError extends StepboxError {
  readonly key: string;
  constructor(key: string, where: string) {
    super("NOT_FOUND", `${key} is not in ${where}`);
    this.key = key;
  }
}

/**
 * A file a step left where the engine reads its outcome is not one it can read as data: a link, a
 * named pipe or another non-regular file, or larger than its limit. The step fails with this reason.
 */
export class StepOutputError extends StepboxError {
  /** The file, as the step's container saw it (`/opt/ml/output/...`). */
  readonly path: string;
  constructor(path: string, problem: string) {
    super("STEP_OUTPUT", `${path} ${problem}; the engine reads only regular files there`, {
      hint: "write plain files under /opt/ml/output: no links, pipes or devices",
    });
    this.path = path;
  }
}

/**
 * A command that makes, mounts or unmounts the filesystem that holds a step's writable /opt/ml folders
 * (mkfs.ext4, mount, umount) failed or ran past its time. `command` is the program, `path` what it worked on.
 */
export class OutputFilesystemError extends StepboxError {
  readonly command: string;
  readonly path: string;
  constructor(message: string, options: StepboxErrorOptions & { command: string; path: string }) {
    super("OUTPUT_FILESYSTEM", message, options);
    this.command = options.command;
    this.path = options.path;
  }
}

/**
 * AWS refused or could not answer a call a cloud session made (SageMaker, S3, CloudWatch Logs, ECR),
 * after the SDK's own retries. It names the operation, the resource and what to do; `awsCode` is the
 * service's error code (AccessDeniedException, ValidationException, ThrottlingException, NoSuchBucket...).
 */
export class CloudError extends StepboxError {
  readonly operation: string;
  readonly resource: string;
  readonly awsCode: string;
  /** The HTTP status of the last answer, when there was one. */
  readonly httpStatus: number | undefined;

  constructor(args: { operation: string; resource: string; awsCode: string; reason: string; httpStatus?: number | undefined; hint: string; cause?: unknown }) {
    super("CLOUD", `${args.operation} on ${args.resource} failed: ${args.reason}`, { hint: args.hint, cause: args.cause });
    this.operation = args.operation;
    this.resource = args.resource;
    this.awsCode = args.awsCode;
    this.httpStatus = args.httpStatus;
  }
}

/**
 * How a container registry failed a push: it could not be reached (`unreachable`: nothing listens, a
 * name that does not resolve, TLS asked of a plain-HTTP registry), it refused the push (`refused`: no or
 * wrong credentials, a repository that does not exist), or it took the image without telling its digest
 * (`no-digest`).
 */
export type RegistryFailure = "unreachable" | "refused" | "no-digest";

/** A container registry could not take the runtime image (`stepbox image push`). */
export class RegistryError extends StepboxError {
  /** The repository pushed to, `host[:port]/path`. */
  readonly repository: string;
  readonly reason: RegistryFailure;
  constructor(message: string, options: StepboxErrorOptions & { repository: string; reason: RegistryFailure }) {
    super("REGISTRY", message, options);
    this.repository = options.repository;
    this.reason = options.reason;
  }
}
