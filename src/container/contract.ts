/**
 * The contract between the engine and the runner inside a step's container: where each file is and
 * which environment variables carry what. Both sides import it, so they cannot drift apart.
 */
export const CONTAINER_PATHS = {
  root: "/opt/ml",
  input: "/opt/ml/input",
  inputConfig: "/opt/ml/input/config",
  inputData: "/opt/ml/input/data",
  code: "/opt/ml/code",
  model: "/opt/ml/model",
  output: "/opt/ml/output",
  outputData: "/opt/ml/output/data",
  checkpoints: "/opt/ml/checkpoints",
  failure: "/opt/ml/output/failure",
  /** The step's bundled module and its digest. */
  codeBundle: "/opt/ml/code/code.mjs",
  codeMetadata: "/opt/ml/code/metadata.json",
  /** The serialized arguments and their digest, under the read-only input tree. */
  arguments: "/opt/ml/input/stepbox/arguments",
  argumentsPayload: "/opt/ml/input/stepbox/arguments/payload.bin",
  argumentsMetadata: "/opt/ml/input/stepbox/arguments/metadata.json",
  /** Where the runner leaves the serialized result, or the serialized error, each with its digest. */
  results: "/opt/ml/output/stepbox/results",
  resultsPayload: "/opt/ml/output/stepbox/results/payload.bin",
  resultsMetadata: "/opt/ml/output/stepbox/results/metadata.json",
  exception: "/opt/ml/output/stepbox/exception",
  exceptionPayload: "/opt/ml/output/stepbox/exception/payload.bin",
  exceptionMetadata: "/opt/ml/output/stepbox/exception/metadata.json",
  /**
   * Written by the engine, last, once everything above is in place: a runner started ahead of its step
   * (see CONTAINER_ENV.waitForStart) waits for it before it reads anything.
   */
  startMarker: "/opt/ml/input/stepbox/start",
  /** The S3 client, bundled apart from the runner: only a cloud job (nothing staged in /opt/ml/code) loads it. */
  jobS3Module: "/opt/stepbox/job-s3.mjs",
} as const;

/**
 * A job started as SageMaker starts it (see container/cloud-job.ts) finds its payloads in S3, under the
 * SDK's layout: `<s3_base_uri>/<step>/<func_step_s3_dir>/{function,arguments}/` and
 * `<s3_base_uri>/<execution>/<step>/{results,exception}/`. These are the file names in those folders.
 */
export const JOB_PAYLOAD_FILES = {
  code: "code.mjs",
  payload: "payload.bin",
  metadata: "metadata.json",
  resultsJson: "results.json",
} as const;

/** `path` relative to `folder` (both container paths, `path` inside `folder`): where it is in a host folder mounted there. */
export function pathUnder(folder: string, path: string): string {
  if (!path.startsWith(`${folder}/`)) throw new Error(`${path} is not under ${folder}`);
  return path.slice(folder.length + 1);
}

/** Relative to the host folder mounted at /opt/ml/output: the files the engine reads back. */
export const OUTPUT_FILES = {
  resultsPayload: pathUnder(CONTAINER_PATHS.output, CONTAINER_PATHS.resultsPayload),
  resultsMetadata: pathUnder(CONTAINER_PATHS.output, CONTAINER_PATHS.resultsMetadata),
  exceptionPayload: pathUnder(CONTAINER_PATHS.output, CONTAINER_PATHS.exceptionPayload),
  exceptionMetadata: pathUnder(CONTAINER_PATHS.output, CONTAINER_PATHS.exceptionMetadata),
  failure: pathUnder(CONTAINER_PATHS.output, CONTAINER_PATHS.failure),
} as const;

/**
 * The environment a step's container gets from stepbox, besides SageMaker's own. Nothing secret: a
 * step can read its whole environment (/proc/1/environ), so payloads carry digests, not signatures.
 */
export const CONTAINER_ENV = {
  /** Which `step()` definition in the bundle to call. */
  definitionKey: "STEPBOX_DEFINITION_KEY",
  stepName: "STEPBOX_STEP_NAME",
  /**
   * "1" when the engine may start the container before the step's code and arguments are in /opt/ml:
   * the runner then waits for CONTAINER_PATHS.startMarker. So the container's start (the engine's
   * slowest call) is paid while earlier steps run, and the step's code still runs only once it is there.
   */
  waitForStart: "STEPBOX_WAIT_FOR_START",
} as const;

/** globalThis hooks the bundle and the runner share (see dsl/step.ts). */
export const CONTAINER_GLOBALS = {
  module: Symbol.for("stepbox.container.module"),
  registry: Symbol.for("stepbox.container.registry"),
} as const;

/** Exit codes of the runner, beyond the step's own. */
export const RUNNER_EXIT = {
  success: 0,
  stepError: 1,
  /** The runner itself could not set the step up: a torn or missing payload, the definition not found. */
  setupError: 2,
} as const;
