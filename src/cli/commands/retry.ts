import { resolve } from "node:path";
import type { Command } from "commander";
import { ValidationError } from "../../errors.js";
import { action, examples } from "../action.js";
import { loadPipelineFile } from "../load-pipeline.js";
import { readPipelineFile } from "../pipeline-file-record.js";
import { resolveExecution } from "../resolve.js";
import { withJsonOption } from "../session.js";
import { followCloudExecution, openCloudSession, resolveCloudExecution, wantsCloud, withCloudOptions, type CloudOptions } from "../cloud.js";
import { openRunSession, RUN_JSON_HELP, runToEnd, whileRuntimeStarts } from "../watch-run.js";

interface RetryOptions extends CloudOptions {
  json?: boolean;
  file?: string;
  export?: string;
}

export function retryCommand(program: Command): void {
  withCloudOptions(
    withJsonOption(
      program
        .command("retry")
        .summary("run the failed steps of an execution again")
        .description(
          "Start a new execution that reuses the results of the steps that succeeded in a failed or stopped execution and runs the others again, then show its progress as `run` does.\n" +
            "A retry needs the pipeline's code: by default the file that `stepbox run` loaded it from (recorded with the execution), as that file is now, so a fixed step runs with the fix. " +
            "Give --file for an execution started from code, or to load another file.\n" +
            "With --cloud (or an ARN), asks SageMaker to retry the execution (RetryPipelineExecution: its failed and stopped steps run again, with the definition it ran) and follows it to its end.",
        )
        .argument("<execution>", "the execution id, or a unique prefix of it; with --cloud also <pipeline>/<id>, or its ARN")
        .option("--file <pipeline-file>", "load the pipeline from this file instead of the one recorded with the execution")
        .option("--export <name>", "the export to use, when the file exports several pipelines"),
      RUN_JSON_HELP,
    ),
  )
    .addHelpText("after", examples("stepbox retry 4kq2", "stepbox retry 4kq2 --file pipelines/churn.ts"))
    .action(
      action(async (query: string, options: RetryOptions) => {
        if (wantsCloud(options, query)) return retryInCloud(query, options);
        const run = openRunSession(options);
        const source = await resolveExecution(run.session, query);
        const { loaded, pipeline } = await whileRuntimeStarts(run.session, async () => {
          const recorded =
            options.file !== undefined
              ? { File: resolve(options.file), Export: options.export }
              : await readPipelineFile(run.session, source.pipelineName, source.id);
          const loaded = await loadPipelineFile(recorded.File, options.export ?? recorded.Export);
          if (loaded.pipeline.name !== source.pipelineName) {
            throw new ValidationError(
              `${loaded.file} defines pipeline "${loaded.pipeline.name}", but execution ${source.id} is of pipeline "${source.pipelineName}"`,
              {
                hint: `give the file that defines "${source.pipelineName}" with --file`,
              },
            );
          }
          return { loaded, pipeline: loaded.pipeline.withSession(run.session) };
        });
        return runToEnd(run, loaded, pipeline, () => pipeline.retryExecution(source.id));
      }),
    );
}

async function retryInCloud(query: string, options: RetryOptions): Promise<number> {
  if (options.file !== undefined || options.export !== undefined) {
    throw new ValidationError("--file and --export are for local executions: SageMaker retries an execution with the definition it ran", {
      hint: "deploy the fixed pipeline with stepbox deploy <file> --start instead",
    });
  }
  // Ctrl-C ends the command only: the execution goes on in SageMaker (stepbox stop stops it).
  const cloud = openCloudSession(options, query);
  try {
    const source = await resolveCloudExecution(cloud, options, query);
    const execution = await source.retry();
    const text = options.json ? process.stderr : process.stdout;
    text.write(`retrying execution ${source.id} of pipeline ${source.pipelineName} in SageMaker: ${execution.arn}\n`);
    return await followCloudExecution(execution, text, options.json === true);
  } finally {
    cloud.close();
  }
}
