import { ValidationError } from "../errors.js";
import { closestNames } from "./closest-names.js";
import { isInstanceType, knownInstanceTypes } from "./instance-types.js";

/** An environment variable's name, as SageMaker's CreateTrainingJob accepts it. */
const ENVIRONMENT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,511}$/;

/**
 * The options of `step(fn, options)`. Every SageMaker `@step` keyword is accepted under its camelCase
 * name so that code ported from SageMaker reads the same; the ones stepbox does not act on yet are
 * recorded in the step's definition.
 */
export interface StepOptions {
  /**
   * The step's name. @default the function's name. Within one pipeline, the calls of a step function
   * are named in the order they were made: `<name>`, `<name>-2`, `<name>-3`...
   */
  name?: string;
  /** @default `<module file>.<function name>`, as SageMaker's `module.function`. */
  displayName?: string;
  /** @default the path of the module that defines the step, from its project's root (the nearest folder with a package.json). */
  description?: string;
  /** Retry policies for the step (recorded; applied by the retry layer). */
  retryPolicies?: readonly unknown[];
  /** Path to a requirements file (recorded). */
  dependencies?: string;
  /** Shell lines run before the function (recorded). */
  preExecutionCommands?: readonly string[];
  /** A script run before the function (recorded). */
  preExecutionScript?: string;
  /** Environment variables of the step's container. */
  environmentVariables?: Readonly<Record<string, string>>;
  /** The container image (recorded; the runtime image is used). */
  imageUri?: string;
  /** Number of hosts. @default 1 */
  instanceCount?: number;
  /** The ml.* instance type whose resources the container gets. @default "ml.m5.large" */
  instanceType?: string;
  jobCondaEnv?: string;
  jobNamePrefix?: string;
  /** @default 0 */
  keepAlivePeriodInSeconds?: number;
  /** @default 1 */
  maxRetryAttempts?: number;
  /** @default 86400 */
  maxRuntimeInSeconds?: number;
  role?: string;
  securityGroupIds?: readonly string[];
  subnets?: readonly string[];
  tags?: ReadonlyArray<{ Key: string; Value: string }> | Readonly<Record<string, string>>;
  volumeKmsKey?: string;
  /** @default 30 */
  volumeSize?: number;
  encryptInterContainerTraffic?: boolean;
  sparkConfig?: unknown;
  useSpotInstances?: boolean;
  maxWaitTimeInSeconds?: number;
  /** Step caching (recorded). */
  cacheConfig?: { enableCaching: boolean; expireAfter?: string };
  /** Input channels, `{ channel: "file:///path" }` (recorded). */
  inputs?: Readonly<Record<string, string>>;
  /** Hyperparameters written to hyperparameters.json as strings (recorded). */
  hyperparameters?: Readonly<Record<string, unknown>>;
  /** Local resource override for small machines (recorded). */
  local?: { cpus?: number; memoryGiB?: number };
  /** Give the step's container a network. @default false */
  network?: boolean;
}

const OPTION_NAMES: readonly (keyof StepOptions)[] = [
  "name",
  "displayName",
  "description",
  "retryPolicies",
  "dependencies",
  "preExecutionCommands",
  "preExecutionScript",
  "environmentVariables",
  "imageUri",
  "instanceCount",
  "instanceType",
  "jobCondaEnv",
  "jobNamePrefix",
  "keepAlivePeriodInSeconds",
  "maxRetryAttempts",
  "maxRuntimeInSeconds",
  "role",
  "securityGroupIds",
  "subnets",
  "tags",
  "volumeKmsKey",
  "volumeSize",
  "encryptInterContainerTraffic",
  "sparkConfig",
  "useSpotInstances",
  "maxWaitTimeInSeconds",
  "cacheConfig",
  "inputs",
  "hyperparameters",
  "local",
  "network",
];

/** SageMaker step names: letters, digits, `-` and `_`, at most 64 characters. */
const STEP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function assertValidStepName(name: string, where: string): void {
  if (!STEP_NAME.test(name)) {
    throw new ValidationError(`${where}: "${name}" is not a valid step name`, {
      code: "INVALID_STEP_OPTION",
      hint: "use letters, digits, '-' and '_' (at most 64, starting with a letter or digit), e.g. step(fn, { name: \"train\" })",
    });
  }
}

function fail(fnName: string, message: string, hint: string): never {
  throw new ValidationError(`step(${fnName}): ${message}`, { code: "INVALID_STEP_OPTION", hint });
}

function positiveInteger(fnName: string, key: string, value: unknown, min: number): void {
  if (value !== undefined && (typeof value !== "number" || !Number.isInteger(value) || value < min)) {
    fail(fnName, `option ${key} must be an integer >= ${min}, got ${JSON.stringify(value)}`, `for example { ${key}: ${Math.max(min, 1)} }`);
  }
}

/** Checks option names and the shape of the options stepbox acts on. Throws before anything runs. */
export function validateStepOptions(fnName: string, options: unknown): StepOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    fail(fnName, "options must be an object", 'for example step(fn, { name: "train" })');
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      const near = closestNames(key, OPTION_NAMES);
      fail(
        fnName,
        `unknown option "${key}"`,
        near.length > 0 ? `did you mean ${near.map((n) => `"${n}"`).join(" or ")}?` : `the options are: ${OPTION_NAMES.join(", ")}`,
      );
    }
  }
  const o = options as StepOptions;
  if (o.name !== undefined) {
    if (typeof o.name !== "string") fail(fnName, "option name must be a string", 'for example { name: "train" }');
    assertValidStepName(o.name, `step(${fnName})`);
  }
  positiveInteger(fnName, "instanceCount", o.instanceCount, 1);
  positiveInteger(fnName, "maxRuntimeInSeconds", o.maxRuntimeInSeconds, 1);
  positiveInteger(fnName, "volumeSize", o.volumeSize, 1);
  positiveInteger(fnName, "keepAlivePeriodInSeconds", o.keepAlivePeriodInSeconds, 0);
  if (o.environmentVariables !== undefined) {
    for (const [k, v] of Object.entries(o.environmentVariables)) {
      // SageMaker's Environment keys: a name a shell can export. "A=B" would set another variable than it names.
      if (!ENVIRONMENT_NAME.test(k)) {
        fail(
          fnName,
          `environmentVariables has the name ${JSON.stringify(k)}, which is not a variable name`,
          'use letters, digits and _ (not starting with a digit), at most 512 characters: { MY_SETTING: "1" }',
        );
      }
      if (typeof v !== "string") {
        fail(fnName, `environmentVariables.${k} must be a string, got ${typeof v}`, `write it as a string: { ${k}: "${String(v)}" }`);
      }
    }
  }
  if (o.instanceType !== undefined) {
    if (typeof o.instanceType !== "string") fail(fnName, "option instanceType must be a string", 'for example { instanceType: "ml.m5.large" }');
    const near = closestNames(o.instanceType, knownInstanceTypes());
    if (!isInstanceType(o.instanceType)) {
      fail(
        fnName,
        `unknown instance type "${o.instanceType}"`,
        near.length > 0 ? `did you mean ${near.join(", ")}?` : "known types include ml.m5.large, ml.m5.xlarge, ml.c5.xlarge",
      );
    }
  }
  if (o.local !== undefined) {
    if (typeof o.local !== "object" || o.local === null) fail(fnName, "option local must be an object", "for example local: { cpus: 1, memoryGiB: 2 }");
    for (const key of ["cpus", "memoryGiB"] as const) {
      const value = o.local[key];
      if (value !== undefined && (typeof value !== "number" || !(value > 0) || !Number.isFinite(value))) {
        fail(fnName, `local.${key} must be a number > 0, got ${JSON.stringify(value)}`, "for example local: { cpus: 1, memoryGiB: 2 }");
      }
    }
  }
  return o;
}
