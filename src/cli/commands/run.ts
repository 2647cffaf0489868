import type { Command } from "commander";
import { action, examples } from "../action.js";
import { loadPipelineFile } from "../load-pipeline.js";
import { collect, parseParameters, parsePositiveInteger } from "../parameters.js";
import { withJsonOption, type ReadOptions } from "../session.js";
import { openRunSession, RUN_JSON_HELP, runToEnd, whileRuntimeStarts } from "../watch-run.js";

interface RunOptions extends ReadOptions {
  param: string[];
  parallelism?: string;
  export?: string;
}

export function runCommand(program: Command): void {
  withJsonOption(
    program
      .command("run")
      .summary("start a pipeline file's pipeline and show its progress")
      .description(
        "Start a pipeline and show its progress until it ends. Exits 0 when it succeeded, 1 when it failed or was stopped (printing each failed step's reason), 2 on a user error.\n" +
          "The file (TypeScript or JavaScript) must export a Pipeline: as its default export, as a named export, or as a default-exported function that returns one. " +
          "It must not start the pipeline itself.",
      )
      .argument("<pipeline-file>", "the .ts or .js file that exports the pipeline")
      .option("--param <name=value>", "a value for one of the pipeline's parameters (repeat for more)", collect, [])
      .option("--parallelism <n>", "run at most n steps at once (default: the pipeline's setting, else the number of CPUs)")
      .option("--export <name>", "the export to run, when the file exports several pipelines"),
    RUN_JSON_HELP,
  )
    .addHelpText(
      "after",
      examples(
        "stepbox run pipelines/churn.ts --param epochs=20 --param learning-rate=0.1 --parallelism 2",
        "stepbox run pipelines/churn.ts --json > run.json",
      ),
    )
    .action(
      action(async (file: string, options: RunOptions) => {
        const run = openRunSession(options);
        const { loaded, pipeline, parameters, parallelism } = await whileRuntimeStarts(run.session, async () => {
          const loaded = await loadPipelineFile(file, options.export);
          const pipeline = loaded.pipeline.withSession(run.session);
          const parameters = parseParameters(options.param, pipeline.parameters);
          const parallelism = options.parallelism !== undefined ? parsePositiveInteger(options.parallelism, "--parallelism") : undefined;
          return { loaded, pipeline, parameters, parallelism };
        });
        return runToEnd(run, loaded, pipeline, () => pipeline.start({ parameters, ...(parallelism !== undefined ? { parallelism } : {}) }));
      }),
    );
}
