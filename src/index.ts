/**
 * stepbox: run SageMaker-style `step()` pipelines on this machine, each step in a sandboxed Docker
 * container shaped like a training job, every result in an artifact store.
 *
 * The container build of this module is src/container/stepbox.ts: it must export the same names.
 */
export { step, getStep, type StepFunction, type Deferred } from "./dsl/step.js";
export { DelayedReturn, type PathKey } from "./dsl/delayed-return.js";
export { FunctionStep, type StepDefinition, type PipelineStep, type StepReference } from "./dsl/function-step.js";
export type { StepOptions } from "./dsl/step-options.js";
export { ParameterString, ParameterInteger, ParameterFloat, ParameterBoolean, Parameter, type ParameterType } from "./dsl/parameters.js";
export { ExecutionVariables, ExecutionVariable, type ExecutionVariableName } from "./dsl/execution-variables.js";
export { Join } from "./dsl/join.js";
export {
  Condition,
  ConditionComparison,
  ConditionEquals,
  ConditionGreaterThan,
  ConditionGreaterThanOrEqualTo,
  ConditionLessThan,
  ConditionLessThanOrEqualTo,
  ConditionIn,
  ConditionNot,
  ConditionOr,
} from "./dsl/conditions.js";
export { ConditionStep, FailStep } from "./dsl/control-steps.js";
export {
  RetryPolicy,
  StepRetryPolicy,
  SageMakerJobStepRetryPolicy,
  StepErrorRetryPolicy,
  StepExceptionType,
  SageMakerJobExceptionType,
  ParallelismConfiguration,
  type RetryPolicyOptions,
  type ExceptionType,
} from "./dsl/retry-policies.js";
export { Pipeline, type PipelineOptions, type StartOptions, type PipelineSummary, type PipelineExecutionSummary } from "./session/pipeline.js";
export { LocalPipelineSession, type LocalPipelineSessionOptions, type StepLogLine } from "./session/local-pipeline-session.js";
export { PipelineExecution, type PipelineExecutionDescription, type PipelineExecutionStep } from "./session/pipeline-execution.js";
export type { ArtifactStore } from "./store/artifact-store.js";
export * from "./errors.js";
