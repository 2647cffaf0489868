/**
 * The events of an execution this process does not run (another process runs it, or it ended), made
 * by watching its records in the store: the same state events a live run emits, as often as the
 * records are read. Log lines, transfers and retries' waits live only in the process that runs it,
 * and are not in this stream; the steps' logs are in the store once each step ends.
 */
import { type ExecutionEvent, StateChanges } from "../engine/execution-events.js";
import { isTerminal } from "../store/step-state.js";
import { executionEnded, type RecordStore, type StepRecord } from "../store/records.js";

/** How often the records are read: a display redraws about this often, and a store is not flooded. */
const POLL_MS = 250;

/** When the record says the step reached its state, where it says; otherwise when it was seen. */
function stepTime(record: StepRecord, seen: Date): Date {
  if (isTerminal(record.StepStatus) && record.EndTime) return new Date(record.EndTime);
  if (record.StepStatus === "Starting" && record.StartTime) return new Date(record.StartTime);
  return seen;
}

/**
 * Each change of the execution's and its steps' records from now on (the first read tells the states
 * they are in), ending after the execution's end. Steps changed between two reads are told in the
 * order they started; a state held for less than a read apart may not be told at all.
 */
export async function* watchRecordedExecution(records: RecordStore, pipelineName: string, id: string): AsyncGenerator<ExecutionEvent, void, undefined> {
  const changes = new StateChanges();
  for (;;) {
    const seen = new Date();
    // The execution first: its records are written in order, so steps read after an ended execution are final.
    const execution = await records.readExecution(pipelineName, id);
    const ended = executionEnded(execution.PipelineExecutionStatus);
    const executionChange = changes.execution(execution, new Date(execution.LastModifiedTime));
    if (executionChange && !ended) yield executionChange;
    const steps = (await Promise.all(execution.StepNames.map((name) => records.readStep(pipelineName, id, name))))
      .filter((s): s is StepRecord => s !== undefined)
      .sort((a, b) => (a.StartTime ?? "").localeCompare(b.StartTime ?? ""));
    for (const step of steps) {
      const change = changes.step(step, stepTime(step, seen));
      if (change) yield change;
    }
    if (ended) {
      if (executionChange) yield executionChange;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
