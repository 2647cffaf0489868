/**
 * A step's state, in one place: the statuses a step record moves through and the one function that
 * moves it, and the state a reader sees for a step of an execution, whether or not it has a record.
 * The engine writes steps through here; the command line, the report and the testing helpers read them so.
 */
import { failureReason, type StepFailure, type StepRecord, type StepStatus } from "./records.js";

/** The statuses a step can move to from each status; a step never leaves a terminal status. */
const TRANSITIONS: Readonly<Record<StepStatus, readonly StepStatus[]>> = {
  Starting: ["Executing", "Failed", "Stopping", "Stopped"],
  Executing: ["Succeeded", "Failed", "Stopping", "Stopped"],
  Stopping: ["Stopped", "Failed", "Succeeded"],
  Stopped: [],
  Failed: [],
  Succeeded: [],
};

const TERMINAL_STEP_STATUSES: ReadonlySet<StepStatus> = new Set(["Stopped", "Failed", "Succeeded"]);

export function isTerminal(status: StepStatus): boolean {
  return TERMINAL_STEP_STATUSES.has(status);
}

/** The one place a step's status changes: checks the move and stamps the times. */
export function transition(record: StepRecord, to: StepStatus, changes: Partial<StepRecord> = {}, now = new Date()): StepRecord {
  if (record.StepStatus !== to && !TRANSITIONS[record.StepStatus].includes(to)) {
    throw new Error(`internal: step "${record.StepName}" cannot move from ${record.StepStatus} to ${to}`);
  }
  return {
    ...record,
    ...changes,
    StepStatus: to,
    ...(isTerminal(to) ? { EndTime: now.toISOString() } : {}),
  };
}

/** A failure as a record keeps it: the data, and SageMaker's FailureReason made from it, once, here. */
export function failedWith(failure: StepFailure): Pick<StepRecord, "Failure" | "FailureReason"> {
  return { Failure: failure, FailureReason: failureReason(failure) };
}

/**
 * A step of an execution as a reader sees it. `Pending` has not started in an execution that still
 * runs; `NotRun` never will (its execution ended first: a branch not taken, a failure or a stop
 * upstream). A step that took its result from elsewhere is `CacheHit` (an earlier run's cached
 * result) or `Reused` (the source of a retry or selective execution), not plain `Succeeded`.
 */
export type StepState =
  | { readonly kind: "Pending" }
  | { readonly kind: "NotRun" }
  | { readonly kind: "Starting" | "Executing" | "Stopping" }
  | { readonly kind: "Succeeded" }
  | { readonly kind: "CacheHit" | "Reused"; readonly sourceExecutionArn: string }
  | { readonly kind: "Failed" | "Stopped"; readonly failure: StepFailure };

export type StepStateKind = StepState["kind"];

/** What a table or a picture shows for a step: its record's status, or Pending or NotRun for a step without one. */
export type DisplayStatus = StepStatus | "Pending" | "NotRun";

export function displayStatus(record: Pick<StepRecord, "StepStatus"> | undefined, executionEnded: boolean): DisplayStatus {
  return record?.StepStatus ?? (executionEnded ? "NotRun" : "Pending");
}

/** The state of a step from its record (undefined when it has none) and whether its execution has ended. */
export function stepState(record: StepRecord | undefined, executionEnded: boolean): StepState {
  if (!record) return { kind: executionEnded ? "NotRun" : "Pending" };
  switch (record.StepStatus) {
    case "Succeeded":
      if (record.CacheHitResult) return { kind: "CacheHit", sourceExecutionArn: record.CacheHitResult.SourcePipelineExecutionArn };
      if (record.SelectiveExecutionResult) return { kind: "Reused", sourceExecutionArn: record.SelectiveExecutionResult.SourcePipelineExecutionArn };
      return { kind: "Succeeded" };
    case "Failed":
    case "Stopped":
      return { kind: record.StepStatus, failure: recordedFailure(record) };
    default:
      return { kind: record.StepStatus };
  }
}

/**
 * The failure a record keeps; a record written before stepbox kept failures as data has only the text,
 * which is then the message of a failure of the kind its prefix names (or the step's own words).
 */
export function recordedFailure(record: Pick<StepRecord, "Failure" | "FailureReason" | "StepStatus">): StepFailure {
  if (record.Failure) return record.Failure;
  const text = record.FailureReason ?? (record.StepStatus === "Stopped" ? "Stopped: the step was stopped" : "the step failed; no reason was recorded");
  const prefix = /^(ClientError|AlgorithmError|OutOfMemory|OutputLimitExceeded|MaxRuntimeExceeded|Stopped|InternalServerError): /.exec(text);
  return prefix ? { kind: prefix[1] as StepFailure["kind"], message: text.slice(prefix[0].length) } : { kind: "StepReported", message: text };
}
