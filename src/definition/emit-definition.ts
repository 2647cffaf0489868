/**
 * Writes a compiled pipeline as the definition SageMaker Pipelines accepts (Version 2020-12-01),
 * shaped as the SageMaker Python SDK writes `@step` pipelines: each function step a Training step
 * whose Arguments are a CreateTrainingJob request and nothing else, its function and arguments
 * payloads referenced from ContainerArguments, upstream results read through
 * `Steps.<up>.OutputDataConfig.S3OutputPath`, and step outputs read by conditions and Fail steps as
 * `Std:JsonGet` over the producer's results.json. Pure: no I/O, the same bytes from any checkout.
 */
import { createHash } from "node:crypto";
import { inspect } from "node:util";
import { SerializationError, ValidationError } from "../errors.js";
import { type Condition, ConditionComparison, ConditionIn, ConditionNot, ConditionOr } from "../dsl/conditions.js";
import { ConditionStep, FailStep } from "../dsl/control-steps.js";
import { type DelayedReturn, isDelayedReturn } from "../dsl/delayed-return.js";
import { isExecutionVariable } from "../dsl/execution-variables.js";
import { FunctionStep } from "../dsl/function-step.js";
import { resolveInstanceType } from "../dsl/instance-types.js";
import { isJoin } from "../dsl/join.js";
import { projectRelativePaths } from "../dsl/module-path.js";
import { isParameter, type Parameter } from "../dsl/parameters.js";
import { isPipelineValue } from "../dsl/pipeline-value.js";
import { SageMakerJobStepRetryPolicy, StepErrorRetryPolicy, StepRetryPolicy } from "../dsl/retry-policies.js";
import type { StepOptions } from "../dsl/step-options.js";
import type { PipelineGraph } from "../graph/compile.js";
import { JOB_PUBLIC_KEY_ENV } from "../serialization/asymmetric-signing.js";
import { serialize } from "../serialization/codec.js";
import { type PipelineReference, referenceName } from "../serialization/pipeline-references.js";
import { FUNCTION_JOB_FLAGS, STEPBOX_ENTRYPOINT } from "./function-job.js";
import type { Json, JsonObject } from "./model.js";

export { LOCAL_ROOT, STEPBOX_ENTRYPOINT, functionJobArguments, functionPayloadKeys, isStepboxEntrypoint } from "./function-job.js";
export { localStepSettings, type LocalStepSettings } from "./local-step-settings.js";

const DEFINITION_VERSION = "2020-12-01";
/** CreatePipeline's limit on PipelineDefinition: a longer definition runs locally but SageMaker refuses it. */
export const MAX_DEFINITION_LENGTH = 1_048_576;
/** The step-name pattern of the published definition schema, which the names stepbox chooses keep to. */
const DEFINITION_NAME = /^[A-Za-z0-9\-_]{1,64}$/;
/** SageMaker's InputDataConfig channel names. */
const CHANNEL_NAME = /^[A-Za-z0-9.\-_]{1,64}$/;
/** An S3 bucket and an optional prefix, without a trailing slash. */
const S3_ROOT = /^s3:\/\/[^\s/]+(?:\/[^\s]*[^\s/])?$/;
/** The environment variable the runner reads to find the step's function in its bundle (CONTAINER_ENV.definitionKey). */
const DEFINITION_KEY_ENV = "STEPBOX_DEFINITION_KEY";
const EXECUTION_ID: JsonObject = { Get: "Execution.PipelineExecutionId" };

/** Where and as whom the pipeline's jobs run. */
export interface DefinitionContext {
  /** `s3://bucket[/prefix]`: payloads and results are stored under `<root>/<pipeline>`. */
  readonly root: string;
  /** The pipeline's name, the last part of `<root>/<pipeline>` (the graph does not carry it). */
  readonly pipelineName: string;
  /** The stepbox runtime image every function step runs in. */
  readonly imageUri: string;
  readonly region: string;
  /** The role of each training job, unless the step's `role` option names one. */
  readonly roleArn: string;
  /**
   * The PEM of the public key that the client signs function steps' payloads with (a cloud session):
   * each function job gets it as `REMOTE_FUNCTION_SECRET_KEY`, and its job checks the payloads with it.
   * @default none: the engine vouches for the payloads itself (a local session)
   */
  readonly jobPublicKey?: string;
  /**
   * Whether a step's own `imageUri` option is the image of its job (a cloud session), or only
   * recorded while every job runs `imageUri` (the local engine's runtime image). @default false
   */
  readonly stepImageUris?: boolean;
  /**
   * Where the job reads a step's input channel from, given the URI its `inputs` option names: a cloud
   * session maps a `file://` folder to the S3 prefix it uploads the folder to.
   * @default the URI as given (the local engine mounts `file://` folders itself)
   */
  readonly channelUri?: (step: string, channel: string, uri: string) => string;
}

/** One function step's build: what `upsert()`/`start()` store under `<pipeline>/<step>/<build>/`. */
export interface EmittedFunctionStep {
  readonly step: FunctionStep;
  /** `--func_step_s3_dir`: first 16 hex of sha256(definition key, NUL, arguments payload). */
  readonly build: string;
  /** The step's arguments, serialized, with each pipeline value as a reference record. */
  readonly argumentsPayload: Buffer;
}

export interface EmittedDefinition {
  /** The PipelineDefinition JSON. */
  readonly json: string;
  readonly functionSteps: readonly EmittedFunctionStep[];
}

type MutableJson = { [key: string]: unknown };

/** The definition of a compiled pipeline, and the argument payloads its function steps reference. */
export function emitDefinition(graph: PipelineGraph, parameters: readonly Parameter[], ctx: DefinitionContext): EmittedDefinition {
  checkContext(ctx);
  const writer = new DefinitionWriter(graph, ctx);
  const stepObjects = new Map<string, MutableJson>();
  const functionSteps: EmittedFunctionStep[] = [];
  const containerArguments = new Map<string, Json[]>();
  for (const s of graph.steps) {
    checkName(s.name, "step");
    if (s instanceof FunctionStep) {
      const { json, emitted, args } = writer.functionStep(s);
      stepObjects.set(s.name, json);
      containerArguments.set(s.name, args);
      functionSteps.push(emitted);
    } else if (s instanceof ConditionStep) {
      stepObjects.set(s.name, writer.conditionStep(s));
    } else if (s instanceof FailStep) {
      stepObjects.set(s.name, writer.failStep(s));
    } else {
      throw new ValidationError(`step "${s.name}" is of a kind a SageMaker definition cannot hold (${inspect(s)})`, {
        code: "INVALID_PIPELINE",
        hint: "build pipelines from step() calls, ConditionStep and FailStep",
      });
    }
  }
  // Producers whose output a condition, a Fail step or a Join reads write results.json too.
  for (const producer of writer.jsonConsumed) {
    containerArguments.get(producer)!.push(FUNCTION_JOB_FLAGS.serializeOutputToJson, "true");
  }
  // A branch's steps sit inside their condition, as the SDK writes them; the others at the top.
  const branchOf = branchMembership(graph);
  for (const [condition, branches] of graph.branches) {
    const args = stepObjects.get(condition)!.Arguments as MutableJson;
    args.IfSteps = branches.ifSteps.map((name) => stepObjects.get(name)!);
    args.ElseSteps = branches.elseSteps.map((name) => stepObjects.get(name)!);
  }
  const doc = {
    Version: DEFINITION_VERSION,
    Metadata: {},
    Parameters: parameters.map((p) => p.toDefinition()),
    PipelineExperimentConfig: {
      ExperimentName: { Get: "Execution.PipelineName" },
      TrialName: { Get: "Execution.PipelineExecutionId" },
    },
    Steps: graph.steps.filter((s) => !branchOf.has(s.name)).map((s) => stepObjects.get(s.name)!),
  };
  // Not refused here when over MAX_DEFINITION_LENGTH: the local engine runs pipelines of any size; CreatePipeline refuses it.
  const json = JSON.stringify(doc);
  return { json, functionSteps };
}

function checkContext(ctx: DefinitionContext): void {
  const bad = (what: string, hint: string): never => {
    throw new ValidationError(`emitDefinition: ${what}`, { hint });
  };
  if (typeof ctx?.root !== "string" || !S3_ROOT.test(ctx.root)) {
    bad(`root ${inspect(ctx?.root)} is not an s3://bucket[/prefix] URI without a trailing slash`, `for a local store use LOCAL_ROOT ("s3://stepbox-local")`);
  }
  if (typeof ctx.pipelineName !== "string" || ctx.pipelineName === "" || ctx.pipelineName.includes("/"))
    bad("pipelineName must be the pipeline's name", "pass pipeline.name");
  for (const key of ["imageUri", "region", "roleArn"] as const) {
    if (typeof ctx[key] !== "string" || ctx[key] === "") bad(`${key} must be a non-empty string`, "pass the runtime image tag, the region and a role ARN");
  }
  if (ctx.jobPublicKey !== undefined && !ctx.jobPublicKey.includes("-----BEGIN PUBLIC KEY-----")) {
    bad("jobPublicKey must be a PEM public key", "pass JobSigningKey.publicKeyPem (serialization/asymmetric-signing.ts)");
  }
}

function checkName(name: string, what: string): void {
  if (!DEFINITION_NAME.test(name)) {
    throw new ValidationError(`the ${what} name "${name}" does not fit a SageMaker definition (letters, digits, "-" and "_", at most 64)`, {
      code: "INVALID_PIPELINE",
      hint: 'give it a shorter name with step(fn, { name: "..." }): repeated calls add "-2", "-3"...',
    });
  }
}

/** Each step that sits in a condition's branch, with that condition; a step in two branches cannot be written. */
function branchMembership(graph: PipelineGraph): Map<string, string> {
  const branchOf = new Map<string, string>();
  for (const [condition, { ifSteps, elseSteps }] of graph.branches) {
    for (const name of [...ifSteps, ...elseSteps]) {
      const other = branchOf.get(name);
      if (other !== undefined) {
        throw new ValidationError(`step "${name}" is listed twice in the branches of conditions ("${other}" and "${condition}")`, {
          code: "INVALID_PIPELINE",
          hint: "a SageMaker definition nests each branch step inside one branch: make a second call of the step for the other branch",
        });
      }
      branchOf.set(name, condition);
    }
  }
  return branchOf;
}

/** A `Std:Join` of the given parts. */
const join = (on: string, values: readonly Json[]): JsonObject => ({ "Std:Join": { On: on, Values: values } });

/** The JSONPath of a selection inside results.json: `Result`, then `[n]` per index and `['key']` per key. */
export function resultJsonPath(path: readonly (string | number)[]): string {
  return `Result${path.map((key) => (typeof key === "number" ? `[${key}]` : `['${key.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}']`)).join("")}`;
}

/** What the definition writes for a step's output read by a condition, a Fail step or a Join. */
export function stepResultJsonGet(step: string, path: readonly (string | number)[]): JsonObject {
  return {
    "Std:JsonGet": {
      S3Uri: join("/", [{ Get: `Steps.${step}.OutputDataConfig.S3OutputPath` }, "results.json"]),
      Path: resultJsonPath(path),
    },
  };
}

class DefinitionWriter {
  /** The producers whose results a condition, a Fail step or a Join reads through results.json. */
  readonly jsonConsumed = new Set<string>();
  readonly #graph: PipelineGraph;
  readonly #ctx: DefinitionContext;
  readonly #base: string;
  readonly #modulePath = projectRelativePaths();
  readonly #gates = new Map<string, Set<string>>();

  constructor(graph: PipelineGraph, ctx: DefinitionContext) {
    this.#graph = graph;
    this.#ctx = ctx;
    this.#base = `${ctx.root}/${ctx.pipelineName}`;
    for (const [condition, { ifSteps, elseSteps }] of graph.branches) {
      for (const name of [...ifSteps, ...elseSteps]) {
        const gates = this.#gates.get(name) ?? new Set<string>();
        gates.add(condition);
        this.#gates.set(name, gates);
      }
    }
  }

  /** The steps a step waits for, as DependsOn lists them: not the condition whose branch holds it, which its nesting says. */
  #dependsOn(name: string): { DependsOn?: string[] } {
    const gates = this.#gates.get(name);
    const names = (this.#graph.upstream.get(name) ?? []).filter((up) => !gates?.has(up));
    return names.length > 0 ? { DependsOn: names } : {};
  }

  #producer(output: DelayedReturn, where: string): string {
    const name = this.#graph.nameOf(output);
    if (name === undefined) {
      throw new ValidationError(`${where}: ${output.describe()} is the output of a step this pipeline does not hold`, {
        code: "INVALID_PIPELINE",
        hint: "pass step outputs in arrays and plain objects, where the pipeline finds the steps that produce them",
      });
    }
    return name;
  }

  /** A value where the definition evaluates it (a condition's operand, a Fail message, a Join's part). */
  expression(value: unknown, where: string): Json {
    if (isDelayedReturn(value)) {
      const producer = this.#producer(value, where);
      this.jsonConsumed.add(producer);
      return stepResultJsonGet(producer, value.path);
    }
    if (isParameter(value) || isExecutionVariable(value)) return value.expr;
    if (isJoin(value))
      return join(
        value.on,
        value.values.map((part, i) => this.expression(part, `${where}.values[${i}]`)),
      );
    if (isPipelineValue(value)) throw new ValidationError(`${where}: ${inspect(value)} is a pipeline value of a kind stepbox cannot write`);
    if (value === null || typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) return value;
    throw new ValidationError(`${where}: ${inspect(value, { depth: 1 })} cannot be written in a SageMaker definition`, {
      code: "INVALID_PIPELINE",
      hint: "use strings, finite numbers, booleans, null, parameters, execution variables, Joins and step outputs here",
    });
  }

  condition(condition: Condition, where: string): JsonObject {
    if (condition instanceof ConditionComparison) {
      return {
        Type: condition.type,
        LeftValue: this.expression(condition.left, `${where}.left`),
        RightValue: this.expression(condition.right, `${where}.right`),
      };
    }
    if (condition instanceof ConditionIn) {
      return {
        Type: "In",
        QueryValue: this.expression(condition.value, `${where}.value`),
        Values: condition.inValues.map((v, i) => this.expression(v, `${where}.inValues[${i}]`)),
      };
    }
    if (condition instanceof ConditionNot) return { Type: "Not", Condition: this.condition(condition.expression, `${where}.expression`) };
    if (condition instanceof ConditionOr) return { Type: "Or", Conditions: condition.conditions.map((c, i) => this.condition(c, `${where}.conditions[${i}]`)) };
    throw new ValidationError(`${where}: ${inspect(condition)} is a condition of a kind SageMaker does not have`, { code: "INVALID_PIPELINE" });
  }

  /** Name, then the user's display name and description where they are not the defaults. */
  #controlHeader(s: ConditionStep | FailStep, type: "Condition" | "Fail", defaultDescription: string): MutableJson {
    return {
      Name: s.name,
      Type: type,
      ...(s.displayName !== s.name ? { DisplayName: s.displayName } : {}),
      ...(s.description !== defaultDescription ? { Description: s.description } : {}),
    };
  }

  conditionStep(s: ConditionStep): MutableJson {
    return {
      ...this.#controlHeader(s, "Condition", "ConditionStep"),
      Arguments: {
        Conditions: s.conditions.map((c, i) => this.condition(c, `condition step "${s.name}": conditions[${i}]`)),
        IfSteps: [],
        ElseSteps: [],
      },
      ...this.#dependsOn(s.name),
    };
  }

  failStep(s: FailStep): MutableJson {
    return {
      ...this.#controlHeader(s, "Fail", "FailStep"),
      Arguments: { ErrorMessage: this.expression(s.errorMessage, `fail step "${s.name}": errorMessage`) },
      ...this.#dependsOn(s.name),
    };
  }

  /** The step's arguments serialized, each pipeline value a reference record. */
  #argumentsPayload(s: FunctionStep): { payload: Buffer; references: PipelineReference[] } {
    // A set only when asked: a sink after a million steps reads a million outputs.
    let upstream: Set<string> | undefined;
    const references: PipelineReference[] = [];
    const reference = (value: object): PipelineReference => {
      let found: PipelineReference;
      if (isDelayedReturn(value)) {
        const producer = this.#producer(value, `step "${s.name}"`);
        upstream ??= new Set(this.#graph.upstream.get(s.name) ?? []);
        if (!upstream.has(producer)) {
          throw new SerializationError("", `the output of step "${producer}" inside a Map, Set or class instance, where the pipeline does not see it`, {
            hint: "put it in an array or a plain object",
          });
        }
        found = { kind: "StepResult", step: producer, path: value.path };
      } else if (isParameter(value)) {
        found = { kind: "Value", expression: value.expr, parameterType: value.type };
      } else if (isExecutionVariable(value)) {
        found = { kind: "Value", expression: value.expr };
      } else if (isJoin(value)) {
        found = { kind: "Value", expression: this.expression(value, `step "${s.name}": a Join in its arguments`) };
      } else {
        throw new SerializationError("", `${inspect(value)}, a pipeline value of a kind stepbox cannot write`);
      }
      references.push(found);
      return found;
    };
    try {
      return { payload: serialize(s.args, "arguments", { reference }), references };
    } catch (error) {
      if (!(error instanceof SerializationError)) throw error;
      throw new ValidationError(`step "${s.name}" cannot send its arguments to its container: ${error.detail}`, {
        code: "SERIALIZATION",
        cause: error,
        ...(error.hint ? { hint: error.hint } : {}),
      });
    }
  }

  /** `--property_references`: each name once, in the order the arguments use them, after the execution id. */
  #propertyReferences(references: readonly PipelineReference[]): Json[] {
    const entries: Json[] = ["Execution.PipelineExecutionId", EXECUTION_ID];
    const seen = new Set<string>(["Execution.PipelineExecutionId"]);
    for (const ref of references) {
      const name = referenceName(ref);
      if (seen.has(name)) continue;
      seen.add(name);
      // An upstream result is read under its producer's S3OutputPath, joined to a string as the SDK writes it.
      entries.push(name, ref.kind === "StepResult" ? join("", [{ Get: name }]) : ref.expression);
    }
    return entries;
  }

  #displayName(s: FunctionStep): string {
    if (s.options.displayName !== undefined) return s.options.displayName;
    const fn = s.definition.fn.name || s.definition.baseName;
    const file = s.definition.sourceFile;
    if (!file) return fn;
    return `${this.#modulePath(file)
      .replace(/\.[cm]?[jt]sx?$/, "")
      .split("/")
      .join(".")}.${fn}`;
  }

  /** The step's JSON, its build, and its ContainerArguments (to which `--serialize_output_to_json` may be added). */
  functionStep(s: FunctionStep): { json: MutableJson; emitted: EmittedFunctionStep; args: Json[] } {
    const o = s.options;
    const { payload, references } = this.#argumentsPayload(s);
    const key = s.definition.key;
    const build = createHash("sha256").update(key).update("\0").update(payload).digest("hex").slice(0, 16);
    const channels = Object.entries(o.inputs ?? {});
    for (const [name] of channels) checkChannel(s.name, name);
    const tags = tagList(o.tags);
    const retryPolicies = definitionRetryPolicies(s);
    const args: Json[] = [
      FUNCTION_JOB_FLAGS.s3BaseUri,
      this.#base,
      FUNCTION_JOB_FLAGS.region,
      this.#ctx.region,
      FUNCTION_JOB_FLAGS.stepName,
      s.name,
      FUNCTION_JOB_FLAGS.executionId,
      EXECUTION_ID,
      FUNCTION_JOB_FLAGS.buildDir,
      build,
      FUNCTION_JOB_FLAGS.propertyReferences,
      ...this.#propertyReferences(references),
    ];
    const json: MutableJson = {
      Name: s.name,
      Type: "Training",
      Arguments: {
        RoleArn: o.role ?? this.#ctx.roleArn,
        StoppingCondition: {
          MaxRuntimeInSeconds: o.maxRuntimeInSeconds ?? 86400,
          ...(o.maxWaitTimeInSeconds !== undefined ? { MaxWaitTimeInSeconds: o.maxWaitTimeInSeconds } : {}),
        },
        RetryStrategy: { MaximumRetryAttempts: o.maxRetryAttempts ?? 1 },
        ...(channels.length > 0
          ? {
              InputDataConfig: channels.map(([name, uri]) => ({
                ChannelName: name,
                DataSource: {
                  S3DataSource: {
                    S3Uri: this.#ctx.channelUri ? this.#ctx.channelUri(s.name, name, uri) : uri,
                    S3DataType: "S3Prefix",
                    S3DataDistributionType: "FullyReplicated",
                  },
                },
              })),
            }
          : {}),
        OutputDataConfig: { S3OutputPath: join("/", [this.#base, EXECUTION_ID, s.name, "results"]) },
        AlgorithmSpecification: {
          TrainingImage: (this.#ctx.stepImageUris ? o.imageUri : undefined) ?? this.#ctx.imageUri,
          TrainingInputMode: "File",
          ContainerEntrypoint: [...STEPBOX_ENTRYPOINT],
          ContainerArguments: args,
        },
        ResourceConfig: {
          VolumeSizeInGB: o.volumeSize ?? 30,
          InstanceCount: o.instanceCount ?? 1,
          InstanceType: resolveInstanceType(o.instanceType).name,
          KeepAlivePeriodInSeconds: o.keepAlivePeriodInSeconds ?? 0,
          ...(o.volumeKmsKey !== undefined ? { VolumeKmsKeyId: o.volumeKmsKey } : {}),
        },
        ...(o.securityGroupIds?.length && o.subnets?.length ? { VpcConfig: { SecurityGroupIds: [...o.securityGroupIds], Subnets: [...o.subnets] } } : {}),
        EnableNetworkIsolation: o.network !== true,
        EnableInterContainerTrafficEncryption: o.encryptInterContainerTraffic === true,
        EnableManagedSpotTraining: o.useSpotInstances === true,
        Environment: {
          ...o.environmentVariables,
          [DEFINITION_KEY_ENV]: key,
          ...(this.#ctx.jobPublicKey !== undefined ? { [JOB_PUBLIC_KEY_ENV]: this.#ctx.jobPublicKey } : {}),
        },
        ...(o.hyperparameters !== undefined ? { HyperParameters: Object.fromEntries(Object.entries(o.hyperparameters).map(([k, v]) => [k, String(v)])) } : {}),
        ...(tags.length > 0 ? { Tags: tags } : {}),
      },
      ...this.#dependsOn(s.name),
      DisplayName: this.#displayName(s),
      Description: s.description,
      ...(retryPolicies.length > 0 ? { RetryPolicies: retryPolicies } : {}),
      ...(o.cacheConfig !== undefined
        ? {
            CacheConfig: {
              Enabled: o.cacheConfig.enableCaching,
              ...(o.cacheConfig.expireAfter !== undefined ? { ExpireAfter: o.cacheConfig.expireAfter } : {}),
            },
          }
        : {}),
    };
    return { json, emitted: { step: s, build, argumentsPayload: payload }, args };
  }
}

function checkChannel(step: string, name: string): void {
  if (!CHANNEL_NAME.test(name)) {
    throw new ValidationError(`step "${step}": input channel "${name}" is not a SageMaker channel name`, {
      code: "INVALID_STEP_OPTION",
      hint: "use letters, digits, '.', '-' and '_' (at most 64), e.g. inputs: { train: \"file:///data/train\" }",
    });
  }
}

function tagList(tags: StepOptions["tags"]): Array<{ Key: string; Value: string }> {
  if (tags === undefined) return [];
  if (Array.isArray(tags)) return tags.map((t) => ({ Key: String(t.Key), Value: String(t.Value) }));
  return Object.entries(tags as Record<string, string>).map(([Key, Value]) => ({ Key, Value: String(Value) }));
}

/** The step's SageMaker retry policies in the SDK's shape; StepErrorRetryPolicy travels beside the definition (localStepSettings). */
function definitionRetryPolicies(s: FunctionStep): JsonObject[] {
  const policies = s.options.retryPolicies;
  if (policies === undefined) return [];
  if (!Array.isArray(policies)) {
    throw new ValidationError(`step "${s.name}": retryPolicies must be a list of retry policies`, {
      code: "INVALID_STEP_OPTION",
      hint: "retryPolicies: [new StepRetryPolicy({ exceptionTypes: [StepExceptionType.SERVICE_FAULT], maxAttempts: 3 })]",
    });
  }
  const written: JsonObject[] = [];
  for (const policy of policies) {
    if (policy instanceof StepErrorRetryPolicy) continue;
    if (!(policy instanceof StepRetryPolicy || policy instanceof SageMakerJobStepRetryPolicy)) {
      throw new ValidationError(`step "${s.name}": retryPolicies holds ${inspect(policy, { depth: 1 })}, which is not a retry policy`, {
        code: "INVALID_STEP_OPTION",
        hint: "use StepRetryPolicy, SageMakerJobStepRetryPolicy or StepErrorRetryPolicy",
      });
    }
    written.push({
      BackoffRate: policy.backoffRate,
      IntervalSeconds: policy.intervalSeconds,
      ...(policy.maxAttempts !== undefined ? { MaxAttempts: policy.maxAttempts } : {}),
      ...(policy.expireAfterMins !== undefined ? { ExpireAfterMin: policy.expireAfterMins } : {}),
      ExceptionType: [...policy.exceptionTypes],
    });
  }
  return written;
}
