/**
 * The shapes of the JSON records in the store, checked when they are read: a record that is valid
 * JSON but not a record (null, an array, a number where a status belongs) is named as damaged
 * instead of giving raw TypeErrors or wrong answers further on. Each check returns what is wrong, or
 * undefined when the record has the shape its readers rely on.
 */

const EXECUTION_STATUSES = new Set(["Executing", "Stopping", "Stopped", "Failed", "Succeeded"]);
const STEP_STATUSES = new Set(["Starting", "Executing", "Stopping", "Stopped", "Failed", "Succeeded"]);

type Check = (value: Record<string, unknown>) => string | undefined;

function isStrings(value: unknown): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const string =
  (field: string, optional = false): Check =>
  (r) =>
    (optional && r[field] === undefined) || typeof r[field] === "string" ? undefined : `${field} is not a string`;

const oneOf =
  (field: string, allowed: ReadonlySet<string>): Check =>
  (r) =>
    typeof r[field] === "string" && allowed.has(r[field]) ? undefined : `${field} is ${JSON.stringify(r[field])}, not one of ${[...allowed].join(", ")}`;

const array =
  (field: string, item: (value: unknown) => boolean, what: string): Check =>
  (r) =>
    Array.isArray(r[field]) && r[field].every(item) ? undefined : `${field} is not a list of ${what}`;

const object =
  (field: string, optional = false): Check =>
  (r) =>
    (optional && r[field] === undefined) || isObject(r[field]) ? undefined : `${field} is not an object`;

const integer =
  (field: string, optional = false): Check =>
  (r) =>
    (optional && r[field] === undefined) || Number.isInteger(r[field]) ? undefined : `${field} is not an integer`;

const finiteNumber =
  (field: string, optional = false): Check =>
  (r) =>
    (optional && r[field] === undefined) || (typeof r[field] === "number" && Number.isFinite(r[field])) ? undefined : `${field} is not a number`;

const boolean =
  (field: string, optional = false): Check =>
  (r) =>
    (optional && r[field] === undefined) || typeof r[field] === "boolean" ? undefined : `${field} is not true or false`;

const stringMap =
  (field: string): Check =>
  (r) => {
    const value = r[field];
    return isObject(value) && Object.values(value).every((v) => typeof v === "string") ? undefined : `${field} is not an object of strings`;
  };

function checkAll(value: unknown, checks: readonly Check[]): string | undefined {
  if (!isObject(value)) return `it is ${value === null ? "null" : Array.isArray(value) ? "a list" : `a ${typeof value}`}, not an object`;
  for (const check of checks) {
    const problem = check(value);
    if (problem) return problem;
  }
  return undefined;
}

const EXECUTION_CHECKS: readonly Check[] = [
  string("PipelineName"),
  string("PipelineArn"),
  string("PipelineExecutionId"),
  string("PipelineExecutionArn"),
  string("PipelineExecutionDisplayName"),
  oneOf("PipelineExecutionStatus", EXECUTION_STATUSES),
  string("FailureReason", true),
  string("CreationTime"),
  string("LastModifiedTime"),
  (r) =>
    isObject(r.ParallelismConfiguration) && Number.isInteger(r.ParallelismConfiguration.MaxParallelExecutionSteps)
      ? undefined
      : "ParallelismConfiguration.MaxParallelExecutionSteps is not an integer",
  array("PipelineParameters", (p) => isObject(p) && typeof p.Name === "string" && typeof p.Value === "string", "{ Name, Value } strings"),
  object("ParameterValues"),
  array("StepNames", (n) => typeof n === "string", "strings"),
  string("Owner"),
];

const STEP_CHECKS: readonly Check[] = [
  string("StepName"),
  string("StepDisplayName"),
  string("StepDescription"),
  oneOf("StepStatus", STEP_STATUSES),
  string("StartTime", true),
  string("EndTime", true),
  integer("AttemptCount"),
  string("FailureReason", true),
  (r) =>
    r.Failure === undefined || (isObject(r.Failure) && typeof r.Failure.kind === "string" && typeof r.Failure.message === "string")
      ? undefined
      : "Failure is not an object with a kind and a message",
  object("Metadata"),
  (r) => (r.Attempts === undefined || Array.isArray(r.Attempts) ? undefined : "Attempts is not a list"),
];

const PIPELINE_CHECKS: readonly Check[] = [
  string("PipelineName"),
  string("PipelineArn"),
  string("PipelineDisplayName"),
  string("PipelineDefinition"),
  string("CreationTime"),
  string("LastModifiedTime"),
  string("PipelineDescription", true),
  string("RoleArn", true),
  (r) =>
    r.ParallelismConfiguration === undefined || (isObject(r.ParallelismConfiguration) && Number.isInteger(r.ParallelismConfiguration.MaxParallelExecutionSteps))
      ? undefined
      : "ParallelismConfiguration.MaxParallelExecutionSteps is not an integer",
  string("ClientRequestToken", true),
];

/**
 * A step's job record (`job.json`). Fields that job records written by older versions lack are
 * checked only when present; what `stepbox shell` rebuilds the container from is required.
 */
const JOB_CHECKS: readonly Check[] = [
  string("pipelineName"),
  string("executionId"),
  string("stepName"),
  string("jobName"),
  string("jobArn", true),
  string("image"),
  string("definitionKey", true),
  (r) => (r.entrypoint === undefined || isStrings(r.entrypoint) ? undefined : "entrypoint is not a list of strings"),
  (r) => (r.containerArguments === undefined || isStrings(r.containerArguments) ? undefined : "containerArguments is not a list of strings"),
  stringMap("environment"),
  string("instanceType"),
  (r) => (Number.isInteger(r.instanceCount) && (r.instanceCount as number) >= 1 ? undefined : "instanceCount is not a whole number >= 1"),
  finiteNumber("cpus", true),
  finiteNumber("memoryBytes", true),
  object("hyperparameters"),
  array(
    "channels",
    (c) => isObject(c) && typeof c.name === "string" && typeof c.hostPath === "string" && (c.uri === undefined || typeof c.uri === "string"),
    "{ name, hostPath } strings",
  ),
  boolean("network", true),
  finiteNumber("maxRuntimeSeconds", true),
  finiteNumber("outputLimitBytes", true),
  string("outputPath", true),
];

/** Which file `stepbox run` loaded an execution's pipeline from (`pipeline-file.json`). */
const PIPELINE_FILE_CHECKS: readonly Check[] = [string("File"), string("Export")];

/** A step-cache entry (`<pipeline>/.cache/<step>/<key>.json`). */
const CACHE_ENTRY_CHECKS: readonly Check[] = [
  string("Key"),
  object("Parts"),
  string("SourcePipelineExecutionId"),
  string("SourcePipelineExecutionArn"),
  string("CreationTime"),
];

export const recordShapes = {
  execution: (value: unknown) => checkAll(value, EXECUTION_CHECKS),
  step: (value: unknown) => checkAll(value, STEP_CHECKS),
  pipeline: (value: unknown) => checkAll(value, PIPELINE_CHECKS),
  job: (value: unknown) => checkAll(value, JOB_CHECKS),
  pipelineFile: (value: unknown) => checkAll(value, PIPELINE_FILE_CHECKS),
  cacheEntry: (value: unknown) => checkAll(value, CACHE_ENTRY_CHECKS),
} as const;

/** What a shape check says about a value: what is wrong with it, or undefined when it has the shape. */
export type ShapeCheck = (value: unknown) => string | undefined;
