import { failedWith, isTerminal, transition } from "../store/step-state.js";
import type { ExecutionRecord, RecordStore, StepRecord } from "../store/records.js";

/** An unfinished execution as it reads once its engine process is gone: Failed, with the reason. */
export function interruptedExecution(execution: ExecutionRecord, reason: string, at: Date): ExecutionRecord {
  return { ...execution, PipelineExecutionStatus: "Failed", FailureReason: reason, LastModifiedTime: at.toISOString() };
}

/**
 * A step of such an execution: one that had not ended is Failed with the same reason, ending no
 * earlier than it started (the execution's record may be older than its steps'); an ended one stays as it is.
 */
export function interruptedStep(step: StepRecord, reason: string, at: Date): StepRecord {
  if (isTerminal(step.StepStatus)) return step;
  const started = step.StartTime === undefined ? Number.NaN : Date.parse(step.StartTime);
  return transition(step, "Failed", failedWith({ kind: "Interrupted", message: reason }), started > at.getTime() ? new Date(started) : at);
}

/**
 * Ends an execution whose engine process is gone, in the store: its unfinished steps and the execution
 * itself become Failed with the reason, so no record keeps claiming to run. Only a process that may
 * write the store calls this (the session's start-up sweep, `stepbox gc`); readers derive the same
 * answer in memory (session/reconciling-records.ts). `now` stamps the end: a sweeper that knows when
 * the owner was last heard from gives that, so the written record says what readers derived.
 */
export async function markInterrupted(records: RecordStore, execution: ExecutionRecord, reason: string, now = new Date()): Promise<void> {
  for (const name of execution.StepNames) {
    const step = await records.readStep(execution.PipelineName, execution.PipelineExecutionId, name);
    if (step && !isTerminal(step.StepStatus)) {
      await records.writeStep(execution.PipelineName, execution.PipelineExecutionId, interruptedStep(step, reason, now));
    }
  }
  await records.writeExecution(interruptedExecution(execution, reason, now));
}
