/**
 * How the command line ends on an error. A user error (a wrong argument, an unknown execution, a
 * pipeline file that does not load) is one line and a hint, exit code 2; anything else is a fault of
 * the machine or of stepbox, exit code 1. The stack trace is shown only with --verbose.
 */
import { StepboxError, type StepboxErrorCode } from "../errors.js";

export const EXIT = {
  ok: 0,
  /** The execution failed or was stopped, or something broke that is not the user's input. */
  failed: 1,
  usage: 2,
} as const;

/**
 * Which codes are about what the user typed or pointed at (an argument, a pipeline file, an execution,
 * a step, something the store does not hold) rather than a fault. Decided by code, not by class, so a
 * plain StepboxError("NOT_FOUND") exits as a NotFoundError does; a new code cannot compile until it
 * is placed here.
 */
const USER_ERROR_CODES: Record<StepboxErrorCode, boolean> = {
  INVALID_ARGUMENT: true,
  INVALID_STEP_OPTION: true,
  INVALID_PIPELINE: true,
  DUPLICATE_STEP_NAME: true,
  CYCLE: true,
  UNKNOWN_STEP: true,
  UNKNOWN_EXECUTION: true,
  NOT_FOUND: true,
  INVALID_DEFINITION: true,
  CLOUD: false,
  REGISTRY: false,
  EXPRESSION: true,
  STEP_FAILED: false,
  SERIALIZATION: false,
  INTEGRITY: false,
  BUNDLE: false,
  IMAGE_BUILD: false,
  CONTAINER_ENGINE: false,
  STORE: false,
  STEP_OUTPUT: false,
  OUTPUT_FILESYSTEM: false,
};

/** Whether the error is about what the user typed or pointed at, rather than a fault. */
function isUserError(error: unknown): boolean {
  return error instanceof StepboxError && USER_ERROR_CODES[error.code];
}

/** The message without the hint StepboxError appends to it, and the hint on its own. */
function messageAndHint(error: unknown): { message: string; hint: string | undefined } {
  if (error instanceof StepboxError) return { message: error.detail, hint: error.hint };
  if (error instanceof Error) return { message: error.message, hint: undefined };
  return { message: String(error), hint: undefined };
}

/** Prints the error for a person and returns the exit code. */
export function reportError(error: unknown, stderr: NodeJS.WritableStream, verbose: boolean): number {
  const { message, hint } = messageAndHint(error);
  const user = isUserError(error);
  stderr.write(`error: ${user ? message.split("\n", 1)[0] : message}\n`);
  if (hint) stderr.write(`hint: ${hint}\n`);
  else if (!user && !verbose) stderr.write("hint: run it again with --verbose to see where it happened\n");
  if (verbose && error instanceof Error) stderr.write(`${fullStack(error)}\n`);
  return user ? EXIT.usage : EXIT.failed;
}

/** The stack with every cause under it, as Node prints an uncaught error. */
function fullStack(error: Error): string {
  const parts = [error.stack ?? `${error.name}: ${error.message}`];
  for (let cause = error.cause, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    parts.push(`caused by: ${cause.stack ?? cause.message}`);
  }
  return parts.join("\n");
}
