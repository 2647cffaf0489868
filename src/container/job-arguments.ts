/**
 * The command line a function step's Training job starts the runner with: the definition's
 * ContainerArguments, as SageMaker passes them (every value a string), read as the SDK's
 * invoke_function reads them. Flags it does not know are ignored, as the SDK's argparse does.
 *
 * ```
 * --s3_base_uri s3://bucket/prefix/<pipeline> --region us-east-1 --pipeline_step_name train
 * --pipeline_execution_id <id> --func_step_s3_dir <build>
 * --property_references Execution.PipelineExecutionId <id> Parameters.lr 0.1 ... [--serialize_output_to_json true]
 * ```
 */
import { SetupError } from "./load-step.js";

export interface JobArguments {
  /** `s3://bucket/prefix/<pipeline>`, without a trailing slash. */
  readonly s3BaseUri: string;
  readonly region: string | undefined;
  readonly stepName: string;
  readonly executionId: string;
  /** The definition build's folder under `<s3_base_uri>/<step>/`. */
  readonly funcStepS3Dir: string;
  /** `Parameters.X`, `Execution.X`, `Steps.<up>.OutputDataConfig.S3OutputPath` and the like, each to its value as given. */
  readonly propertyReferences: ReadonlyMap<string, string>;
  /** Whether to write `results.json` beside the result, for conditions and Fail steps that read it. */
  readonly serializeOutputToJson: boolean;
}

/** Where the job finds what it was sent and leaves what it returns. */
export interface JobLocations {
  /** `<s3_base_uri>/<step>/<build>/function/` */
  readonly function: string;
  /** `<s3_base_uri>/<step>/<build>/arguments/` */
  readonly arguments: string;
  /** `<s3_base_uri>/<execution>/<step>/results/`: the step's OutputDataConfig.S3OutputPath. */
  readonly results: string;
  /** `<s3_base_uri>/<execution>/<step>/exception/` */
  readonly exception: string;
}

/** The flag that says a command line is a cloud job's. */
export const CLOUD_JOB_FLAG = "--s3_base_uri";

const REQUIRED = ["--s3_base_uri", "--pipeline_step_name", "--pipeline_execution_id", "--func_step_s3_dir"] as const;

/** Whether the runner was started with a function step's ContainerArguments. */
export function isCloudJobCommandLine(argv: readonly string[]): boolean {
  return argv.includes(CLOUD_JOB_FLAG);
}

/**
 * Reads the command line; throws `SetupError` naming the flag when one the job needs is missing or
 * empty, or when `--property_references` is not a list of pairs.
 */
export function parseJobArguments(argv: readonly string[]): JobArguments {
  const single = new Map<string, string>();
  const propertyReferences = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (!flag.startsWith("--")) continue;
    if (flag === "--property_references") {
      const values: string[] = [];
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith("--")) values.push(argv[++i]!);
      if (values.length % 2 !== 0) {
        throw new SetupError(`--property_references takes pairs of name and value; ${JSON.stringify(values.at(-1))} has no value`);
      }
      for (let j = 0; j < values.length; j += 2) propertyReferences.set(values[j]!, values[j + 1]!);
      continue;
    }
    const value = argv[i + 1];
    if (value !== undefined && !value.startsWith("--")) {
      single.set(flag, value);
      i++;
    }
  }
  for (const flag of REQUIRED) {
    if (!single.get(flag)) throw new SetupError(`the job's command line has no ${flag} (its ContainerArguments must come from the step's definition)`);
  }
  const s3BaseUri = single.get("--s3_base_uri")!.replace(/\/+$/, "");
  if (!/^s3:\/\/[^/]+/.test(s3BaseUri)) throw new SetupError(`--s3_base_uri must be an s3:// URI, got ${JSON.stringify(s3BaseUri)}`);
  return {
    s3BaseUri,
    region: single.get("--region") || undefined,
    stepName: single.get("--pipeline_step_name")!,
    executionId: single.get("--pipeline_execution_id")!,
    funcStepS3Dir: single.get("--func_step_s3_dir")!,
    propertyReferences,
    serializeOutputToJson: single.get("--serialize_output_to_json")?.toLowerCase() === "true",
  };
}

/** The SDK's layout (pipeline mode, v2): payloads sent per build, results and exception per execution. */
export function jobLocations(job: JobArguments): JobLocations {
  const sent = `${job.s3BaseUri}/${job.stepName}/${job.funcStepS3Dir}`;
  const returned = `${job.s3BaseUri}/${job.executionId}/${job.stepName}`;
  return { function: `${sent}/function/`, arguments: `${sent}/arguments/`, results: `${returned}/results/`, exception: `${returned}/exception/` };
}
