/**
 * A function step as a SageMaker training job: the runner's entry point and the arguments that tell
 * it where its function and arguments lie, as `emit-definition.ts` writes them into a Training step
 * and as the side that runs the job reads them back (SageMaker's `--s3_base_uri ... --property_references`
 * flags of `invoke_function`, in stepbox's subset).
 */
import { ValidationError } from "../errors.js";

/**
 * The root of every stored payload when the store is a local folder: the local engine maps
 * `<LOCAL_ROOT>/<key>` to the store's key `<key>`. With an s3:// store the root is the store's URI.
 */
export const LOCAL_ROOT = "s3://stepbox-local";

/** The runtime image's ENTRYPOINT (runtime-image/Dockerfile): a Training step with it is a stepbox function job. */
export const STEPBOX_ENTRYPOINT: readonly string[] = Object.freeze(["/usr/local/bin/node", "/opt/stepbox/runner.mjs"]);

/** Whether a ContainerEntrypoint is stepbox's runner. */
export function isStepboxEntrypoint(entrypoint: unknown): boolean {
  return Array.isArray(entrypoint) && entrypoint.length === STEPBOX_ENTRYPOINT.length && entrypoint.every((part, i) => part === STEPBOX_ENTRYPOINT[i]);
}

/** The flags of a function job's ContainerArguments, in the order they are written. */
export const FUNCTION_JOB_FLAGS = {
  s3BaseUri: "--s3_base_uri",
  region: "--region",
  stepName: "--pipeline_step_name",
  executionId: "--pipeline_execution_id",
  buildDir: "--func_step_s3_dir",
  propertyReferences: "--property_references",
  serializeOutputToJson: "--serialize_output_to_json",
} as const;

/** What a function job's ContainerArguments say, once the definition's expressions in them are evaluated. */
export interface FunctionJobArguments {
  /** `<root>/<pipeline>`: where the step's payloads and results are stored. */
  readonly s3BaseUri: string;
  readonly stepName: string;
  /** The build folder (`--func_step_s3_dir`) under `<s3BaseUri>/<step>/` that holds `function/` and `arguments/`. */
  readonly buildDir: string;
  /** Each `--property_references` name with its value, in order. */
  readonly propertyReferences: ReadonlyArray<readonly [string, unknown]>;
  /** Whether the job also writes `results.json` (`{"Result": value, "Exception": null}`). */
  readonly serializeOutputToJson: boolean;
}

const isFlag = (value: unknown): value is string => typeof value === "string" && value.startsWith("--");

/**
 * Reads a function job's ContainerArguments, as SageMaker's `invoke_function` does: flags it does not
 * know are skipped with their value (the SDK adds `--client_python_version` and others), and
 * `--property_references` takes name/value pairs until the next flag. A missing required flag is an
 * error naming it.
 */
export function functionJobArguments(containerArguments: readonly unknown[]): FunctionJobArguments {
  if (!Array.isArray(containerArguments)) {
    throw new ValidationError("a function job's ContainerArguments must be a list", { hint: "pass AlgorithmSpecification.ContainerArguments as it is" });
  }
  const single = new Map<string, unknown>();
  const propertyReferences: Array<readonly [string, unknown]> = [];
  for (let i = 0; i < containerArguments.length; ) {
    const flag = containerArguments[i];
    if (!isFlag(flag)) {
      throw new ValidationError(`ContainerArguments[${i}] is ${JSON.stringify(flag)} where a flag (--name) was expected`, {
        hint: "each flag takes one value, except --property_references, which takes name/value pairs",
      });
    }
    i++;
    if (flag === FUNCTION_JOB_FLAGS.propertyReferences) {
      // A name is a string that is not a flag; its value is whatever follows, even a string that starts with "--".
      while (i < containerArguments.length && typeof containerArguments[i] === "string" && !isFlag(containerArguments[i])) {
        if (i + 1 >= containerArguments.length) {
          throw new ValidationError(`--property_references ends with the name ${JSON.stringify(containerArguments[i])} and no value`);
        }
        propertyReferences.push([containerArguments[i] as string, containerArguments[i + 1]]);
        i += 2;
      }
      continue;
    }
    // A flag of no value (another client's switch) is followed directly by the next flag.
    if (i < containerArguments.length && !isFlag(containerArguments[i])) {
      single.set(flag, containerArguments[i]);
      i++;
    }
  }
  const required = (flag: string): string => {
    const value = single.get(flag);
    if (typeof value !== "string" || value === "") {
      throw new ValidationError(`a function job's ContainerArguments have no ${flag}${single.has(flag) ? ` string (got ${JSON.stringify(value)})` : ""}`, {
        hint: `stepbox's runner needs ${FUNCTION_JOB_FLAGS.s3BaseUri}, ${FUNCTION_JOB_FLAGS.stepName} and ${FUNCTION_JOB_FLAGS.buildDir}`,
      });
    }
    return value;
  };
  const json = single.get(FUNCTION_JOB_FLAGS.serializeOutputToJson);
  return {
    s3BaseUri: required(FUNCTION_JOB_FLAGS.s3BaseUri),
    stepName: required(FUNCTION_JOB_FLAGS.stepName),
    buildDir: required(FUNCTION_JOB_FLAGS.buildDir),
    propertyReferences,
    serializeOutputToJson: typeof json === "string" && json.toLowerCase() === "true",
  };
}

/** The store keys of a function step's build: what `upsert()`/`start()` write and the job reads. */
export interface FunctionPayloadKeys {
  readonly function: { readonly code: string; readonly metadata: string; readonly manifest: string };
  readonly arguments: { readonly payload: string; readonly metadata: string };
}

/** `<pipeline>/<step>/<build>/function/{code.mjs,metadata.json,manifest.json}` and `.../arguments/{payload.bin,metadata.json}`. */
export function functionPayloadKeys(pipeline: string, step: string, build: string): FunctionPayloadKeys {
  for (const [what, part] of [
    ["pipeline", pipeline],
    ["step", step],
    ["build", build],
  ] as const) {
    if (typeof part !== "string" || part === "" || part.includes("/") || part === "." || part === "..") {
      throw new ValidationError(`functionPayloadKeys: the ${what} ${JSON.stringify(part)} cannot be one part of a store key`, {
        hint: "pass the pipeline's name, the step's name and the build from --func_step_s3_dir",
      });
    }
  }
  const at = `${pipeline}/${step}/${build}`;
  return {
    function: { code: `${at}/function/code.mjs`, metadata: `${at}/function/metadata.json`, manifest: `${at}/function/manifest.json` },
    arguments: { payload: `${at}/arguments/payload.bin`, metadata: `${at}/arguments/metadata.json` },
  };
}
