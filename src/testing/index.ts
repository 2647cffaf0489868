/**
 * stepbox/testing: helpers for the tests of a pipeline, with vitest, node:test or any runner.
 *
 * - `runPipeline(pipeline, options?)` runs a pipeline in a fresh temporary store with a fixed
 *   secret and returns the execution, its description, steps and results; disposing of the run
 *   (`await using`, or `cleanup()`) removes the store and any container it left.
 * - `callStep(step, ...args)` calls one step's function in this process, its arguments and result
 *   crossing the codec as they cross a step's container: unit tests of step code without Docker.
 */
export { runPipeline, TEST_SECRET, type PipelineRun, type RunPipelineOptions } from "./run-pipeline.js";
export { callStep } from "./call-step.js";
