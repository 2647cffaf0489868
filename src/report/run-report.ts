import { StepboxError } from "../errors.js";
import type { LocalPipelineSession } from "../session/local-pipeline-session.js";
import { layout } from "../store/layout.js";
import type { ExecutionRecord, StepRecord } from "../store/records.js";
import { readLogTail, type LogTail } from "./log-tail.js";

/** The most of each log stream a report holds: the end, where a failure shows. */
export const LOG_TAIL_BYTES = 64 * 1024;

export interface StepLog extends LogTail {
  /** The CloudWatch-like stream name, `<job-name>/algo-<i>-<epoch>`: one per host and attempt. */
  readonly stream: string;
}

export interface StepReport {
  readonly name: string;
  /** Absent when the execution ended (or has not yet come to it) before the step started. */
  readonly record?: StepRecord;
  readonly logs: readonly StepLog[];
}

/** Everything a picture of one execution needs, read from the artifact store. */
export interface RunReport {
  readonly execution: ExecutionRecord;
  /** The pipeline's definition JSON, from `<pipeline>/pipeline.json`. */
  readonly definition: string;
  /**
   * Whether the pipeline was changed after this execution started: the store keeps only the latest
   * definition, so the graph may then differ from what ran.
   */
  readonly definitionChanged: boolean;
  /** Every step of the execution, in its topological order. */
  readonly steps: readonly StepReport[];
  /** When the report was read (ISO-8601); the end of the timeline for steps still running. */
  readonly generatedAt: string;
}

/** Reads an execution, its steps, the pipeline's definition and the end of each step's logs. */
export async function loadRunReport(session: LocalPipelineSession, pipelineName: string, executionId: string): Promise<RunReport> {
  const execution = await session.records.readExecution(pipelineName, executionId);
  const pipeline = await session.records.readPipeline(pipelineName);
  if (!pipeline) {
    throw new StepboxError("NOT_FOUND", `pipeline "${pipelineName}" has execution ${executionId} but no pipeline.json in ${session.store.uri}`, {
      hint: "the pipeline record was removed; run pipeline.upsert() from the pipeline's file to record its definition again",
    });
  }
  const steps = await Promise.all(
    execution.StepNames.map(async (name): Promise<StepReport> => {
      const record = await session.records.readStep(pipelineName, executionId, name);
      return { name, ...(record ? { record } : {}), logs: await readStepLogs(session, pipelineName, executionId, name) };
    }),
  );
  return {
    execution,
    definition: pipeline.PipelineDefinition,
    definitionChanged: Date.parse(pipeline.LastModifiedTime) > Date.parse(execution.CreationTime),
    steps,
    generatedAt: new Date().toISOString(),
  };
}

async function readStepLogs(session: LocalPipelineSession, pipeline: string, execution: string, step: string): Promise<StepLog[]> {
  const prefix = `${layout.logs(pipeline, execution, step)}/`;
  const keys = (await session.store.list(layout.logs(pipeline, execution, step))).filter((k) => k.startsWith(prefix) && k.endsWith(".log"));
  const logs: StepLog[] = [];
  for (const key of keys) {
    logs.push({ stream: key.slice(prefix.length, -".log".length), ...(await readLogTail(session.store, key, LOG_TAIL_BYTES)) });
  }
  return logs;
}
