import { interruptedExecution, interruptedStep, markInterrupted } from "../engine/interrupted.js";
import { isTerminal } from "../store/step-state.js";
import { ownerIsGone } from "../runtime/owner-process.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { LocalFileStore } from "../store/local-store.js";
import { executionEnded, RecordStore, type DamagedRecordError, type ExecutionRecord, type StepRecord } from "../store/records.js";

/**
 * Below this much free space on the store's disk, a dead owner's silence may be the disk's doing: an
 * engine that could not write its records cannot have written why it failed either.
 */
const LOW_SPACE_BYTES = 1024 * 1024;

/**
 * Why an execution whose engine process is gone, and left no other word, ended; with the state of a
 * local store's disk when it is (nearly) full now, so that the likely cause is not hidden behind
 * "the process ended".
 */
async function deadOwnerReason(store: ArtifactStore, owner: string): Promise<string> {
  const ended = `the stepbox process that ran this execution (${owner}) ended before it finished`;
  if (!(store instanceof LocalFileStore)) return ended;
  const free = await store.freeBytes();
  if (free === undefined || free >= LOW_SPACE_BYTES) return ended;
  return (
    `${ended}; the disk holding ${store.root} is full (${free} bytes free), which may be why its last records were never written: ` +
    "free space on that disk, or set STEPBOX_HOME (or the session's artifactRoot) to a folder on another disk"
  );
}

/** Whether the record still claims to run although its engine process (of this host) no longer does. */
function ownerDied(record: ExecutionRecord): boolean {
  return !executionEnded(record.PipelineExecutionStatus) && ownerIsGone(record.Owner);
}

/**
 * The records as every reader of a session sees them: an execution still marked Executing or
 * Stopping whose engine process (of this host) no longer runs reads as Failed, and so do its steps
 * that had not ended. The session's sweep at runtime start finds orphans through their containers; an
 * engine killed between steps leaves none, and a reader (`describe()`, `wait()`, `stepbox executions`,
 * a report) needs no Docker engine. Without this, such a record would claim to run forever, and
 * `wait()` would never return. An owner on another host cannot be checked from here and is left as it is.
 *
 * Reading never writes: the answer is derived in memory, so a read-only or full store is still read,
 * and a reader never races a writer. The store itself is corrected by {@link reconcileDeadOwners}.
 * The derived times are the record's last change, the last moment its owner was heard from, so
 * every read gives the same times, and so does the record reconcileDeadOwners writes.
 */
export class ReconcilingRecordStore extends RecordStore {
  override async readExecution(pipeline: string, execution: string): Promise<ExecutionRecord> {
    const record = await super.readExecution(pipeline, execution);
    if (!ownerDied(record)) return record;
    return interruptedExecution(record, await deadOwnerReason(this.store, record.Owner), new Date(record.LastModifiedTime));
  }

  override async readStep(pipeline: string, execution: string, step: string): Promise<StepRecord | undefined> {
    const record = await super.readStep(pipeline, execution, step);
    // Only a step that has not ended can be changed by its owner's death: the others cost no second read.
    if (record === undefined || isTerminal(record.StepStatus)) return record;
    const owner = await super.readExecution(pipeline, execution);
    if (!ownerDied(owner)) return record;
    return interruptedStep(record, await deadOwnerReason(this.store, owner.Owner), new Date(owner.LastModifiedTime));
  }
}

/** An execution that {@link reconcileDeadOwners} ended in the store. */
export interface ReconciledExecution {
  readonly pipeline: string;
  readonly execution: string;
  readonly owner: string;
}

/**
 * Writes what readers only derive: every execution of the store (or of one pipeline) still marked
 * Executing or Stopping whose engine process of this host is gone becomes Failed, with its unfinished
 * steps, stamped with the record's last change as readers derive it, so a reader's answer is the
 * same before and after. For a process that holds the store: the session's start-up sweep and
 * `stepbox gc`. A damaged execution record is passed to `onDamaged` and left as it is.
 */
export async function reconcileDeadOwners(
  store: ArtifactStore,
  options: { pipeline?: string; onDamaged?: (error: DamagedRecordError) => void } = {},
): Promise<ReconciledExecution[]> {
  // A plain record store: through a reconciling one, every dead owner's execution would already read as ended.
  const records = new RecordStore(store);
  const pipelines = options.pipeline !== undefined ? [options.pipeline] : await records.listPipelines();
  const ended: ReconciledExecution[] = [];
  for (const pipeline of pipelines) {
    for (const record of await records.readExecutions(pipeline, options.onDamaged ?? (() => undefined))) {
      if (!ownerDied(record)) continue;
      await markInterrupted(records, record, await deadOwnerReason(store, record.Owner), new Date(record.LastModifiedTime));
      ended.push({ pipeline, execution: record.PipelineExecutionId, owner: record.Owner });
    }
  }
  return ended;
}
