import { NotFoundError, StoreError } from "../errors.js";
import type { JobRecord } from "../runtime/step-runtime.js";
import type { ArtifactStore } from "./artifact-store.js";
import { layout } from "./layout.js";

/** Keeps what a step's containers were made of, so that a shell into the step can make the same one. */
export function writeJobRecord(store: ArtifactStore, record: JobRecord): Promise<void> {
  return store.put(layout.job(record.pipelineName, record.executionId, record.stepName), JSON.stringify(record, null, 2));
}

/** The step's job record, or undefined when its containers never started in that execution. */
export async function readJobRecord(store: ArtifactStore, pipeline: string, execution: string, step: string): Promise<JobRecord | undefined> {
  const key = layout.job(pipeline, execution, step);
  let bytes: Buffer;
  try {
    bytes = await store.get(key);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
  try {
    return JSON.parse(bytes.toString("utf8")) as JobRecord;
  } catch (cause) {
    throw new StoreError(`the job record at ${store.uri}/${key} is not valid JSON`, { cause, hint: "it was damaged outside stepbox; run the pipeline again" });
  }
}
