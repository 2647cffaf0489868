import { StepboxError } from "../errors.js";
import type { LocalPipelineSession } from "../session/local-pipeline-session.js";
import { readExecutionDefinition } from "../session/pipeline-execution.js";
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
  /** The definition JSON to draw the execution with: see {@link ExecutionDefinition}. */
  readonly definition: string;
  /** Whether `definition` may differ from what ran: see {@link ExecutionDefinition}. */
  readonly definitionChanged: boolean;
  /** Every step of the execution, in its topological order. */
  readonly steps: readonly StepReport[];
  /** When the report was read (ISO-8601); the end of the timeline for steps still running. */
  readonly generatedAt: string;
}

/** The definition a picture of an execution draws. */
export interface ExecutionDefinition {
  /**
   * The definition JSON the execution ran with (`<execution>/definition.json`). An execution recorded
   * before stepbox kept that has only the pipeline's latest (`<pipeline>/pipeline.json`).
   */
  readonly definition: string;
  /**
   * True only for such an older execution whose pipeline changed after it started: the graph is then
   * of the latest definition and may differ from what ran.
   */
  readonly definitionChanged: boolean;
}

/** The execution's own definition, else (for an execution recorded before stepbox kept it) the pipeline's latest. */
export async function loadExecutionDefinition(session: LocalPipelineSession, execution: ExecutionRecord): Promise<ExecutionDefinition> {
  const { PipelineName: pipelineName, PipelineExecutionId: executionId } = execution;
  const own = await readExecutionDefinition(session.store, pipelineName, executionId);
  if (own !== undefined) return { definition: own, definitionChanged: false };
  const pipeline = await session.records.readPipeline(pipelineName);
  if (!pipeline) {
    throw new StepboxError(
      "NOT_FOUND",
      `execution ${executionId} has no definition of its own, and pipeline "${pipelineName}" no pipeline.json, in ${session.store.uri}`,
      {
        hint: "draw it from its pipeline file instead: stepbox graph <pipeline-file>",
      },
    );
  }
  // pipeline.json's LastModifiedTime moves only when the definition changes, so an older one is what ran.
  return { definition: pipeline.PipelineDefinition, definitionChanged: Date.parse(pipeline.LastModifiedTime) > Date.parse(execution.CreationTime) };
}

/** Reads an execution, its steps, the definition it ran with and the end of each step's logs. */
export async function loadRunReport(session: LocalPipelineSession, pipelineName: string, executionId: string): Promise<RunReport> {
  const execution = await session.records.readExecution(pipelineName, executionId);
  const { definition, definitionChanged } = await loadExecutionDefinition(session, execution);
  const steps = await Promise.all(
    execution.StepNames.map(async (name): Promise<StepReport> => {
      const record = await session.records.readStep(pipelineName, executionId, name);
      return { name, ...(record ? { record } : {}), logs: await readStepLogs(session, pipelineName, executionId, name) };
    }),
  );
  return {
    execution,
    definition,
    definitionChanged,
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
