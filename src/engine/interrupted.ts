import { isTerminal, transition } from "./step-state.js";
import type { ExecutionRecord, RecordStore } from "../store/records.js";

/**
 * Ends an execution whose engine process is gone: its unfinished steps and the execution itself
 * become Failed with the reason, so no record keeps claiming to run.
 */
export async function markInterrupted(records: RecordStore, execution: ExecutionRecord, reason: string): Promise<void> {
  const now = new Date();
  for (const name of execution.StepNames) {
    const step = await records.readStep(execution.PipelineName, execution.PipelineExecutionId, name);
    if (step && !isTerminal(step.StepStatus)) {
      await records.writeStep(execution.PipelineName, execution.PipelineExecutionId, transition(step, "Failed", { FailureReason: reason }, now));
    }
  }
  await records.writeExecution({
    ...execution,
    PipelineExecutionStatus: "Failed",
    FailureReason: reason,
    LastModifiedTime: now.toISOString(),
  });
}
