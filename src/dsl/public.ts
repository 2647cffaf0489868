/**
 * The pipeline-building API: what both builds of stepbox export, the package (src/index.ts) and
 * the one a step's bundle gets inside its container (src/container/stepbox.ts).
 */
export { step, getStep, type StepFunction, type Deferred } from "./step.js";
export { DelayedReturn, type PathKey } from "./delayed-return.js";
export { FunctionStep, type StepDefinition, type PipelineStep, type StepReference } from "./function-step.js";
export type { StepOptions } from "./step-options.js";
export { ParameterString, ParameterInteger, ParameterFloat, ParameterBoolean, Parameter, type ParameterType } from "./parameters.js";
export { ExecutionVariables, ExecutionVariable, type ExecutionVariableName } from "./execution-variables.js";
export { Join } from "./join.js";
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
} from "./conditions.js";
export { ConditionStep, FailStep } from "./control-steps.js";
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
} from "./retry-policies.js";
