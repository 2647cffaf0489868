/**
 * What serve asks of the engine to run executions, as an interface. The session's
 * `startDefinition(pipelineName, options)` and `retryExecution(executionArn, options)` implement it;
 * until the command line passes them (cli/commands/serve.ts), serve refuses StartPipelineExecution and
 * RetryPipelineExecution with a ValidationException that says it has no engine to run them.
 */
import type { PipelineExecution } from "../session/pipeline-execution.js";

export interface StartExecutionOptions {
  /** The values StartPipelineExecution gave, typed by the definition's parameter types. */
  readonly parameters: Record<string, string | number | boolean>;
  readonly executionDisplayName?: string;
  readonly executionDescription?: string;
  readonly parallelismConfiguration?: { readonly MaxParallelExecutionSteps: number };
}

/** Starts executions of recorded pipelines: the session's `startDefinition` and `retryExecution`. */
export interface ExecutionStarter {
  /** Starts the pipeline's recorded definition; resolves once the execution has begun. */
  start(pipelineName: string, options: StartExecutionOptions): Promise<PipelineExecution>;
  /** A new execution that reuses the steps that succeeded in the given one and runs the others again. */
  retry(executionArn: string, options: { parallelismConfiguration?: { readonly MaxParallelExecutionSteps: number } }): Promise<PipelineExecution>;
}
