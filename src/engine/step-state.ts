import type { StepRecord, StepStatus } from "../store/records.js";

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
