import { randomBytes } from "node:crypto";
import type { StepGraph } from "./schedule.js";
import { deriveBuildKey, deriveExecutionKey } from "../serialization/signing.js";
import type { ExecutionRecord } from "../store/records.js";

/** A new execution id, as SageMaker's: 12 lowercase letters and digits. */
export function newExecutionId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(12)].map((b) => alphabet[b % alphabet.length]).join("");
}

/** What an execution's first record is made of: the pipeline, its checked inputs, and who runs it. */
export interface ExecutionStart {
  readonly graph: StepGraph;
  readonly pipelineName: string;
  readonly pipelineArn: string;
  readonly executionId: string;
  readonly executionArn: string;
  /** The parameter values, checked and with defaults applied. */
  readonly parameters: ReadonlyMap<string, unknown>;
  readonly parallelism: number;
  readonly displayName: string | undefined;
  readonly description: string | undefined;
  /** Set for a retry or a selective execution. */
  readonly selective: ExecutionRecord["SelectiveExecutionConfig"] | undefined;
  /** The process that runs it (`<hostname>:<pid>`). */
  readonly owner: string;
  /** When it starts: StartDateTime in its definition's expressions is this time. */
  readonly creationTime: Date;
}

/** The execution's record as it starts: Executing, with every step it may run. */
export function firstExecutionRecord(start: ExecutionStart): ExecutionRecord {
  const now = start.creationTime.toISOString();
  return {
    PipelineName: start.pipelineName,
    PipelineArn: start.pipelineArn,
    PipelineExecutionId: start.executionId,
    PipelineExecutionArn: start.executionArn,
    PipelineExecutionDisplayName: start.displayName ?? `execution-${start.creationTime.getTime()}`,
    ...(start.description !== undefined ? { PipelineExecutionDescription: start.description } : {}),
    PipelineExecutionStatus: "Executing",
    CreationTime: now,
    LastModifiedTime: now,
    ParallelismConfiguration: { MaxParallelExecutionSteps: start.parallelism },
    PipelineParameters: [...start.parameters].map(([Name, value]) => ({ Name, Value: String(value) })),
    ParameterValues: Object.fromEntries(start.parameters) as ExecutionRecord["ParameterValues"],
    ...(start.selective ? { SelectiveExecutionConfig: start.selective } : {}),
    StepNames: start.graph.steps.map((s) => s.name),
    Owner: start.owner,
  };
}

/**
 * The execution's HMAC key, how to find an earlier execution's (to verify what it left), and the key of
 * the functions and arguments its pipeline's definition references.
 */
export function executionKeys(
  masterKey: Buffer,
  pipelineName: string,
  executionId: string,
): { readonly key: Buffer; readonly keyFor: (executionId: string) => Buffer; readonly buildKey: Buffer } {
  return {
    key: deriveExecutionKey(masterKey, executionId),
    keyFor: (id) => deriveExecutionKey(masterKey, id),
    buildKey: deriveBuildKey(masterKey, pipelineName),
  };
}
