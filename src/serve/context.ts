/**
 * What every operation of serve works with: the session (its store and records), the seams to the
 * engine, the executions serve started, and the lookups of the resources a request names, each
 * answering SageMaker's error when the resource is not there.
 */
import { UnknownExecutionError } from "../errors.js";
import type { Logger } from "../logging/logger.js";
import { parseExecutionArn, parsePipelineArn, pipelineArn } from "../naming/sagemaker-arns.js";
import type { LocalPipelineSession } from "../session/local-pipeline-session.js";
import type { PipelineExecution } from "../session/pipeline-execution.js";
import type { ExecutionRecord, PipelineRecord, RecordStore } from "../store/records.js";
import { notFound, validation } from "./api-error.js";

/** The executions this serve started, by ARN, until each has ended. */
export class LiveExecutions {
  readonly #running = new Map<string, PipelineExecution>();

  add(execution: PipelineExecution): void {
    this.#running.set(execution.arn, execution);
    // A run that fails reaches its record; this bookkeeping only forgets it.
    execution
      .wait()
      .catch(() => undefined)
      .finally(() => this.#running.delete(execution.arn));
  }

  get(arn: string): PipelineExecution | undefined {
    return this.#running.get(arn);
  }

  ofPipeline(pipelineName: string): PipelineExecution[] {
    return [...this.#running.values()].filter((e) => e.pipelineName === pipelineName);
  }

  /** Stops every execution serve started and resolves once each has ended and is recorded. */
  async stopAll(): Promise<void> {
    const running = [...this.#running.values()];
    await Promise.allSettled(running.map((e) => e.stop()));
    await Promise.allSettled(running.map((e) => e.wait()));
  }
}

export interface ServeContext {
  readonly session: LocalPipelineSession;
  readonly records: RecordStore;
  readonly logger: Logger;
  readonly live: LiveExecutions;
  /** ARNs answered to StartPipelineExecution and RetryPipelineExecution, by ClientRequestToken. */
  readonly answeredTokens: Map<string, string>;
}

/** A pipeline's name from a member that holds its name or its ARN. */
export function pipelineNameOf(nameOrArn: string): string {
  return nameOrArn.startsWith("arn:") ? parsePipelineArn(nameOrArn).pipelineName : nameOrArn;
}

export async function requirePipeline(ctx: ServeContext, name: string): Promise<PipelineRecord> {
  const record = await ctx.records.readPipeline(name);
  if (!record) throw notFound(`Pipeline '${pipelineArn(name)}' does not exist.`);
  return record;
}

/** The execution an ARN names, read from the store (a dead engine's execution reads as Failed). */
export async function requireExecution(ctx: ServeContext, arn: string): Promise<ExecutionRecord> {
  let parsed: ReturnType<typeof parseExecutionArn>;
  try {
    parsed = parseExecutionArn(arn);
  } catch {
    throw validation(`'${arn}' is not a pipeline execution ARN: one looks like arn:aws:sagemaker:local:000000000000:pipeline/churn/execution/4kq2x8m1c9ab`);
  }
  try {
    return await ctx.records.readExecution(parsed.pipelineName, parsed.executionId);
  } catch (error) {
    if (error instanceof UnknownExecutionError) throw notFound(`Pipeline execution '${arn}' does not exist.`);
    throw error;
  }
}

/** An ISO-8601 time of a record as JSON 1.1 sends timestamps: epoch seconds. */
export function epochSeconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/** `{ [key]: value }` when value is defined, else nothing: SageMaker omits members it has no value for. */
export function present<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
