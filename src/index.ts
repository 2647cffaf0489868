/**
 * stepbox: run SageMaker-style `step()` pipelines on this machine, each step in a sandboxed Docker
 * container shaped like a training job, every result in an artifact store.
 *
 * The container build of this module is src/container/stepbox.ts: it must export the same names.
 */
export * from "./dsl/public.js";
export {
  Pipeline,
  type AnySession,
  type ExecutionOf,
  type PipelineOptions,
  type StartOptions,
  type PipelineSummary,
  type PipelineExecutionSummary,
} from "./session/pipeline.js";
export { PipelineSession, type PipelineSessionOptions } from "./cloud/pipeline-session.js";
export { CloudPipelineExecution, type CloudExecutionDescription } from "./cloud/cloud-execution.js";
export { LocalPipelineSession, type LocalPipelineSessionOptions, type StepLogLine } from "./session/local-pipeline-session.js";
export { stopRunningExecutions } from "./session/interrupts.js";
export {
  PipelineExecution,
  type PipelineExecutionDefinition,
  type PipelineExecutionDescription,
  type PipelineExecutionStep,
} from "./session/pipeline-execution.js";
export type {
  ExecutionEvent,
  ExecutionStateEvent,
  StepStateEvent,
  RetryEvent,
  TransferExecutionEvent,
  LogLineEvent,
} from "./engine/execution-events.js";
export type { TransferEvent } from "./engine/transfer-progress.js";
export type { ArtifactStore } from "./store/artifact-store.js";
export type {
  StepRuntime,
  JobPlan,
  JobSpec,
  JobOutcome,
  PreparedJob,
  HostExit,
  InputChannel,
  ChannelListing,
  StopReason,
  LogStreamName,
} from "./runtime/step-runtime.js";
export * from "./errors.js";
