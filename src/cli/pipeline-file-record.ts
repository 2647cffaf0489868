/**
 * Which file an execution's pipeline was loaded from. `stepbox run` records it beside the execution,
 * so `stepbox retry` can load the same file (as it is now: retry is how a fixed step runs again)
 * without being told; `--file` overrides it, and is needed for executions started from code.
 */
import { NotFoundError, ValidationError } from "../errors.js";
import type { LocalPipelineSession } from "../session/local-pipeline-session.js";
import { layout } from "../store/layout.js";
import { recordShapes } from "../store/record-shapes.js";
import { readRecord } from "../store/records.js";

export interface PipelineFileRecord {
  /** Absolute path of the pipeline file on the machine that ran it. */
  File: string;
  /** The export the pipeline came from ("default" or a name). */
  Export: string;
}

export async function recordPipelineFile(session: LocalPipelineSession, pipelineName: string, executionId: string, record: PipelineFileRecord): Promise<void> {
  await session.store.put(layout.pipelineFile(pipelineName, executionId), JSON.stringify(record, null, 2));
}

export async function readPipelineFile(session: LocalPipelineSession, pipelineName: string, executionId: string): Promise<PipelineFileRecord> {
  try {
    return await readRecord<PipelineFileRecord>(
      session.store,
      layout.pipelineFile(pipelineName, executionId),
      "pipeline file record",
      recordShapes.pipelineFile,
    );
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new ValidationError(`execution ${executionId} was not started by \`stepbox run\`, so stepbox does not know which file defines its pipeline`, {
      hint: `give it: stepbox retry ${executionId} --file path/to/pipeline.ts`,
    });
  }
}
