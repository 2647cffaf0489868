/**
 * A SageMaker pipeline definition (Version 2020-12-01) as the engine runs it: the JSON checked and
 * read into steps, edges and branches. `emit-definition.ts` writes definitions, `read-definition.ts`
 * reads them (a definition from any source: this library, the Python SDK, a CreatePipeline request),
 * and `expressions.ts` evaluates the expressions inside them (`Get`, `Std:Join`, `Std:JsonGet`,
 * conditions) while an execution runs.
 */

/** JSON as it appears in a definition. Expressions are JSON objects with one key (see `Expression`). */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };
export type JsonObject = { readonly [key: string]: Json };

/**
 * The expressions SageMaker evaluates inside a definition's step arguments, conditions and
 * messages. `Get` names a parameter (`Parameters.X`), an execution variable (`Execution.PipelineExecutionId`)
 * or a step property (`Steps.train.OutputDataConfig.S3OutputPath`, `Steps.train.TrainingJobName`).
 */
export type Expression =
  | { readonly Get: string }
  | { readonly "Std:Join": { readonly On: string; readonly Values: readonly Json[] } }
  | { readonly "Std:JsonGet": { readonly S3Uri: Json; readonly Path: string; readonly StepName?: string } };

export type ParameterType = "String" | "Integer" | "Float" | "Boolean";

export interface DefinedParameter {
  readonly Name: string;
  readonly Type: ParameterType;
  readonly DefaultValue?: string | number | boolean;
  readonly EnumValues?: readonly (string | number)[];
}

export type ComparisonType = "Equals" | "GreaterThan" | "GreaterThanOrEqualTo" | "LessThan" | "LessThanOrEqualTo";

/**
 * A condition of a Condition step, in the SDK's shapes. `Not` holds its operand in `Expression`, as
 * the SDK writes it (`ConditionNot.to_request`) and its local mode reads it; the reader also takes
 * `Condition` there and turns it into `Expression`.
 */
export type DefinedCondition =
  | { readonly Type: ComparisonType; readonly LeftValue: Json; readonly RightValue: Json }
  | { readonly Type: "In"; readonly QueryValue: Json; readonly Values: readonly Json[] }
  | { readonly Type: "Not"; readonly Expression: DefinedCondition }
  | { readonly Type: "Or"; readonly Conditions: readonly DefinedCondition[] };

/** A step-level retry policy as the definition writes it. */
export interface DefinedRetryPolicy {
  readonly ExceptionType: readonly string[];
  readonly IntervalSeconds?: number;
  readonly BackoffRate?: number;
  readonly MaxAttempts?: number;
  readonly ExpireAfterMin?: number;
}

interface DefinedStepBase {
  readonly name: string;
  readonly displayName?: string;
  readonly description?: string;
  /** Steps named in DependsOn (explicit order without data). */
  readonly dependsOn: readonly string[];
}

/**
 * A Training step: its arguments are a CreateTrainingJob request whose values may hold expressions.
 * Function steps are Training steps whose entry point is stepbox's runner (see `function-job.ts`).
 */
export interface DefinedTrainingStep extends DefinedStepBase {
  readonly type: "Training";
  readonly arguments: JsonObject;
  readonly retryPolicies: readonly DefinedRetryPolicy[];
  readonly cacheConfig?: { readonly Enabled: boolean; readonly ExpireAfter?: string };
}

export interface DefinedConditionStep extends DefinedStepBase {
  readonly type: "Condition";
  readonly conditions: readonly DefinedCondition[];
  /** The names of the steps of each branch (the steps themselves are in `DefinitionGraph.steps`). */
  readonly ifSteps: readonly string[];
  readonly elseSteps: readonly string[];
}

export interface DefinedFailStep extends DefinedStepBase {
  readonly type: "Fail";
  readonly errorMessage: Json;
}

export type DefinedStep = DefinedTrainingStep | DefinedConditionStep | DefinedFailStep;

/** A definition read and checked: what the engine runs. */
export interface DefinitionGraph {
  readonly parameters: readonly DefinedParameter[];
  /** Every step (branch steps included, flattened), in a stable topological order. */
  readonly steps: readonly DefinedStep[];
  /** The names each step must wait for: DependsOn, every `Steps.<name>.` it reads, and the condition that gates it. */
  readonly upstream: ReadonlyMap<string, readonly string[]>;
  readonly downstream: ReadonlyMap<string, readonly string[]>;
  /** For each Condition step, the steps of each branch. */
  readonly branches: ReadonlyMap<string, { readonly ifSteps: readonly string[]; readonly elseSteps: readonly string[] }>;
  step(name: string): DefinedStep | undefined;
}
