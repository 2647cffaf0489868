/**
 * The contract between the engine and the runner inside a step's container: where each file is and
 * which environment variables carry what. Both sides import it, so they cannot drift apart.
 */
export const CONTAINER_PATHS = {
  root: "/opt/ml",
  inputConfig: "/opt/ml/input/config",
  inputData: "/opt/ml/input/data",
  code: "/opt/ml/code",
  model: "/opt/ml/model",
  output: "/opt/ml/output",
  outputData: "/opt/ml/output/data",
  checkpoints: "/opt/ml/checkpoints",
  failure: "/opt/ml/output/failure",
  /** The step's bundled module and the HMAC of it. */
  codeBundle: "/opt/ml/code/code.mjs",
  codeMetadata: "/opt/ml/code/metadata.json",
  /** The serialized arguments, under the read-only input tree. */
  argumentsPayload: "/opt/ml/input/stepbox/arguments/payload.bin",
  argumentsMetadata: "/opt/ml/input/stepbox/arguments/metadata.json",
  /** Where the runner leaves the serialized result, or the serialized error. */
  results: "/opt/ml/output/stepbox/results",
  exception: "/opt/ml/output/stepbox/exception",
} as const;

/** Relative to the host folder mounted at /opt/ml/output. */
export const OUTPUT_FILES = {
  resultsPayload: "stepbox/results/payload.bin",
  resultsMetadata: "stepbox/results/metadata.json",
  exceptionPayload: "stepbox/exception/payload.bin",
  exceptionMetadata: "stepbox/exception/metadata.json",
  failure: "failure",
} as const;

export const CONTAINER_ENV = {
  /** Hex of the per-execution HMAC key. The runner removes it from process.env before user code runs. */
  secretKey: "STEPBOX_SECRET_KEY",
  /** Which `step()` definition in the bundle to call. */
  definitionKey: "STEPBOX_DEFINITION_KEY",
  stepName: "STEPBOX_STEP_NAME",
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
  /** The runner itself could not set the step up: missing key, bad payload, definition not found. */
  setupError: 2,
} as const;
