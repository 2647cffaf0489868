import { NotFoundError } from "../errors.js";
import type { JobRecord } from "../runtime/step-runtime.js";
import type { ArtifactStore } from "./artifact-store.js";
import { layout } from "./layout.js";
import { recordShapes } from "./record-shapes.js";
import { readRecord } from "./records.js";

/** Keeps what a step's containers were made of, so that a shell into the step can make the same one. */
export function writeJobRecord(store: ArtifactStore, record: JobRecord): Promise<void> {
  return store.put(layout.job(record.pipelineName, record.executionId, record.stepName), JSON.stringify(record, null, 2));
}

/**
 * The step's job record, or undefined when its containers never started in that execution.
 * @throws DamagedRecordError naming its key when it is not a job record.
 */
export async function readJobRecord(store: ArtifactStore, pipeline: string, execution: string, step: string): Promise<JobRecord | undefined> {
  try {
    return await readRecord<JobRecord>(store, layout.job(pipeline, execution, step), "job record", recordShapes.job);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
