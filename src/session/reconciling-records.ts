import { markInterrupted } from "../engine/interrupted.js";
import { ownerIsGone } from "../runtime/owner-process.js";
import { executionEnded, RecordStore, type ExecutionRecord } from "../store/records.js";

/**
 * The records as every reader of a session sees them: an execution still marked Executing or
 * Stopping whose engine process (of this host) no longer runs is ended as Failed when it is read.
 * The session's sweep at runtime start finds orphans through their containers; an engine killed
 * between steps leaves none, and a reader (`describe()`, `wait()`, `stepbox executions`, a report)
 * needs no Docker engine. Without this, such a record would claim to run forever, and `wait()`
 * would never return. An owner on another host cannot be checked from here and is left as it is.
 */
export class ReconcilingRecordStore extends RecordStore {
  override async readExecution(pipeline: string, execution: string): Promise<ExecutionRecord> {
    const record = await super.readExecution(pipeline, execution);
    if (executionEnded(record.PipelineExecutionStatus) || !ownerIsGone(record.Owner)) return record;
    await markInterrupted(this, record, `the stepbox process that ran this execution (${record.Owner}) ended before it finished`);
    return super.readExecution(pipeline, execution);
  }
}
