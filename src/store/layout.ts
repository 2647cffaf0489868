import { joinKey } from "./keys.js";

/**
 * Where each thing lives in an artifact store. It mirrors the layout SageMaker's `@step` uses under
 * its S3 root (`<pipeline>/<execution>/<step>/results/...`), so runs can be compared side by side:
 *
 * ```
 * <pipeline>/pipeline.json                         the pipeline: definition, creation and update times
 * <pipeline>/<execution>/execution.json            the execution's record (DescribePipelineExecution)
 * <pipeline>/<execution>/definition.json           the definition JSON it ran with (DescribePipelineDefinitionForExecution)
 * <pipeline>/<execution>/stop-request.json         another process asks the running engine to stop it
 * <pipeline>/<execution>/pipeline-file.json        the file `stepbox run` loaded the pipeline from, for `stepbox retry`
 * <pipeline>/<execution>/<step>/step.json          the step's record (ListPipelineExecutionSteps item)
 * <pipeline>/<execution>/<step>/job.json           what its containers were made of (image, config, channels), for `stepbox shell`
 * <pipeline>/<execution>/<step>/function/          code.mjs (the bundle), manifest.json, metadata.json
 * <pipeline>/<execution>/<step>/arguments/         payload.bin, metadata.json
 * <pipeline>/<execution>/<step>/results/           payload.bin, metadata.json, results.json (for Std:JsonGet)
 * <pipeline>/<step>/<build>/function/              code.mjs, metadata.json: a step's function as the definition references it
 * <pipeline>/<step>/<build>/arguments/             payload.bin, metadata.json: its arguments, pipeline values as references
 * <pipeline>/<execution>/<step>/exception/         payload.bin, metadata.json
 * <pipeline>/<execution>/<step>/output/            model.tar.gz, output.tar.gz
 * <pipeline>/<execution>/<step>/logs/              <job-name>/algo-<i>-<epoch>.log
 * ```
 *
 * Every `metadata.json` holds the HMAC-SHA256 of the payload beside it.
 */
export const layout = {
  pipeline: (pipeline: string) => joinKey(pipeline, "pipeline.json"),
  pipelineRoot: (pipeline: string) => pipeline,
  execution: (pipeline: string, execution: string) => joinKey(pipeline, execution, "execution.json"),
  executionRoot: (pipeline: string, execution: string) => joinKey(pipeline, execution),
  /**
   * The definition JSON the execution ran with, byte for byte: `pipeline.json` keeps only the latest,
   * and a pipeline may change between its executions.
   */
  executionDefinition: (pipeline: string, execution: string) => joinKey(pipeline, execution, "definition.json"),
  /** Written by another process to ask the engine that runs the execution to stop it. */
  stopRequest: (pipeline: string, execution: string) => joinKey(pipeline, execution, "stop-request.json"),
  /** Written by the command line: which file and export the execution's pipeline came from. */
  pipelineFile: (pipeline: string, execution: string) => joinKey(pipeline, execution, "pipeline-file.json"),
  step: (pipeline: string, execution: string, step: string) => joinKey(pipeline, execution, step, "step.json"),
  stepRoot: (pipeline: string, execution: string, step: string) => joinKey(pipeline, execution, step),
  /** What the step's last attempt ran in, less code, payloads and key: a shell into the step rebuilds it from this. */
  job: (pipeline: string, execution: string, step: string) => joinKey(pipeline, execution, step, "job.json"),
  payload: (pipeline: string, execution: string, step: string, kind: PayloadKind) => ({
    payload: joinKey(pipeline, execution, step, kind, "payload.bin"),
    metadata: joinKey(pipeline, execution, step, kind, "metadata.json"),
  }),
  function: (pipeline: string, execution: string, step: string) => ({
    code: joinKey(pipeline, execution, step, "function", "code.mjs"),
    manifest: joinKey(pipeline, execution, step, "function", "manifest.json"),
    metadata: joinKey(pipeline, execution, step, "function", "metadata.json"),
  }),
  /** A function step's code and arguments as a definition build references them (`--func_step_s3_dir`). */
  build: (pipeline: string, step: string, build: string) => ({
    code: joinKey(pipeline, step, build, "function", "code.mjs"),
    codeMetadata: joinKey(pipeline, step, build, "function", "metadata.json"),
    arguments: joinKey(pipeline, step, build, "arguments", "payload.bin"),
    argumentsMetadata: joinKey(pipeline, step, build, "arguments", "metadata.json"),
  }),
  /** `{"Result": ..., "Exception": ...}` beside a step's result, which definitions read with `Std:JsonGet`. */
  resultsJson: (pipeline: string, execution: string, step: string) => joinKey(pipeline, execution, step, "results", "results.json"),
  output: (pipeline: string, execution: string, step: string, file: "model.tar.gz" | "output.tar.gz") => joinKey(pipeline, execution, step, "output", file),
  logs: (pipeline: string, execution: string, step: string) => joinKey(pipeline, execution, step, "logs"),
  logStream: (pipeline: string, execution: string, step: string, stream: string) => joinKey(pipeline, execution, step, "logs", `${stream}.log`),
} as const;

export type PayloadKind = "arguments" | "results" | "exception";
