import { ValidationError } from "../errors.js";
import { type FunctionJobArguments, functionJobArguments, isStepboxEntrypoint } from "../definition/function-job.js";

/**
 * A Training step's CreateTrainingJob request, its expressions evaluated, read into what the local
 * engine runs: image, entry point, environment, resources, limits, channels and where its output goes.
 * Every field is checked here, before the job starts, and a wrong one names the step and the field.
 */
export interface TrainingJob {
  readonly stepName: string;
  /** AlgorithmSpecification.TrainingImage, as the definition names it. */
  readonly image: string;
  readonly entrypoint: readonly string[] | undefined;
  readonly containerArguments: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  readonly hyperparameters: Readonly<Record<string, string>>;
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly volumeSizeInGB: number;
  readonly maxRuntimeSeconds: number;
  /** Whether the containers get a network: SageMaker's EnableNetworkIsolation turned around. */
  readonly network: boolean;
  /** InputDataConfig: channel name → S3Uri (or a local file:// folder). */
  readonly inputs: Readonly<Record<string, string>>;
  /** OutputDataConfig.S3OutputPath. */
  readonly outputPath: string;
  readonly maxRetryAttempts: number;
  /** Set when the entry point is stepbox's runner: the job runs a step function from the store. */
  readonly function: FunctionJobArguments | undefined;
}

type Request = Record<string, unknown>;

class RequestReader {
  readonly #step: string;

  constructor(step: string) {
    this.#step = step;
  }

  fail(path: string, problem: string, hint: string): never {
    throw new ValidationError(`step "${this.#step}": Arguments.${path} ${problem}`, { code: "INVALID_DEFINITION", hint });
  }

  object(value: unknown, path: string, required: boolean): Request | undefined {
    if (value === undefined && !required) return undefined;
    if (typeof value !== "object" || value === null || Array.isArray(value))
      this.fail(path, "must be an object", "see CreateTrainingJob in the SageMaker API reference");
    return value as Request;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== "string" || value === "")
      this.fail(path, `must be a non-empty string, got ${JSON.stringify(value)}`, "set it in the step's Arguments");
    return value;
  }

  integer(value: unknown, path: string, fallback: number, min: number): number {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || (value as number) < min) this.fail(path, `must be an integer >= ${min}, got ${JSON.stringify(value)}`, "fix the number");
    return value as number;
  }

  /** A list of strings; numbers and booleans an expression gave (a parameter's value) are passed as their text, as SageMaker passes them. */
  strings(value: unknown, path: string): string[] | undefined {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(path, "must be a list of strings", "give every element as a string or an expression of one");
    return value.map((v, i) => this.text(v, `${path}[${i}]`));
  }

  stringMap(value: unknown, path: string): Record<string, string> {
    const map = this.object(value, path, false) ?? {};
    return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, this.text(v, `${path}.${k}`)]));
  }

  text(value: unknown, path: string): string {
    if (typeof value === "string") return value;
    if (typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) return String(value);
    return this.fail(
      path,
      `must be a string, got ${JSON.stringify(value)}`,
      "SageMaker passes arguments, environment variables and hyperparameters as strings",
    );
  }
}

/** Reads a Training step's evaluated request; throws a ValidationError naming the field that is wrong. */
export function trainingJob(stepName: string, request: unknown): TrainingJob {
  const r = new RequestReader(stepName);
  const args = r.object(request, "(the request)", true)!;
  const algorithm = r.object(args.AlgorithmSpecification, "AlgorithmSpecification", true)!;
  const image = r.string(algorithm.TrainingImage, "AlgorithmSpecification.TrainingImage");
  if (algorithm.TrainingInputMode !== undefined && algorithm.TrainingInputMode !== "File") {
    r.fail(
      "AlgorithmSpecification.TrainingInputMode",
      `is ${JSON.stringify(algorithm.TrainingInputMode)}; the local engine supports File mode only`,
      'use "File"',
    );
  }
  const entrypoint = r.strings(algorithm.ContainerEntrypoint, "AlgorithmSpecification.ContainerEntrypoint");
  const containerArguments = r.strings(algorithm.ContainerArguments, "AlgorithmSpecification.ContainerArguments") ?? [];
  const resources = r.object(args.ResourceConfig, "ResourceConfig", true)!;
  const stopping = r.object(args.StoppingCondition, "StoppingCondition", false) ?? {};
  const retry = r.object(args.RetryStrategy, "RetryStrategy", false) ?? {};
  const output = r.object(args.OutputDataConfig, "OutputDataConfig", true)!;
  const isolation = args.EnableNetworkIsolation;
  if (isolation !== undefined && typeof isolation !== "boolean") r.fail("EnableNetworkIsolation", "must be true or false", "give a boolean");
  const isFunction = isStepboxEntrypoint(entrypoint);
  return {
    stepName,
    image,
    entrypoint,
    containerArguments,
    environment: r.stringMap(args.Environment, "Environment"),
    hyperparameters: r.stringMap(args.HyperParameters, "HyperParameters"),
    instanceType: r.string(resources.InstanceType, "ResourceConfig.InstanceType"),
    instanceCount: r.integer(resources.InstanceCount, "ResourceConfig.InstanceCount", 1, 1),
    volumeSizeInGB: r.integer(resources.VolumeSizeInGB, "ResourceConfig.VolumeSizeInGB", 30, 1),
    maxRuntimeSeconds: r.integer(stopping.MaxRuntimeInSeconds, "StoppingCondition.MaxRuntimeInSeconds", 86400, 1),
    network: isolation === false,
    inputs: readInputs(r, args.InputDataConfig),
    outputPath: r.string(output.S3OutputPath, "OutputDataConfig.S3OutputPath"),
    maxRetryAttempts: r.integer(retry.MaximumRetryAttempts, "RetryStrategy.MaximumRetryAttempts", 1, 0),
    function: isFunction ? functionJobArguments(containerArguments) : undefined,
  };
}

/** InputDataConfig as channel name → S3Uri, each channel checked, a repeated name refused. */
function readInputs(r: RequestReader, value: unknown): Record<string, string> {
  const inputs: Record<string, string> = {};
  const channels: unknown = value ?? [];
  if (!Array.isArray(channels)) r.fail("InputDataConfig", "must be a list of channels", "give [{ ChannelName, DataSource: { S3DataSource: { S3Uri } } }]");
  (channels as unknown[]).forEach((c, i) => {
    const channel = r.object(c, `InputDataConfig[${i}]`, true)!;
    const name = r.string(channel.ChannelName, `InputDataConfig[${i}].ChannelName`);
    const source = r.object(
      r.object(channel.DataSource, `InputDataConfig[${i}].DataSource`, true)!.S3DataSource,
      `InputDataConfig[${i}].DataSource.S3DataSource`,
      true,
    )!;
    if (Object.hasOwn(inputs, name)) r.fail(`InputDataConfig[${i}].ChannelName`, `repeats channel "${name}"`, "give each channel its own name");
    inputs[name] = r.string(source.S3Uri, `InputDataConfig[${i}].DataSource.S3DataSource.S3Uri`);
  });
  return inputs;
}

/** A Training step's InputDataConfig, evaluated, as channel name → S3Uri: what `trainingJob` reads, for a check before the run. */
export function inputChannelUris(stepName: string, value: unknown): Record<string, string> {
  return readInputs(new RequestReader(stepName), value);
}
