import { stat } from "node:fs/promises";
import type { Command } from "commander";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { assertNoMissingFile, loadPipelineFile } from "../load-pipeline.js";
import { resolveExecution } from "../resolve.js";
import { openSession, withJsonOption, type CommonOptions } from "../session.js";

interface DefinitionOptions extends CommonOptions {
  export?: string;
}

/** A pipeline file's definition as it is now; an execution's as it ran (DescribePipelineDefinitionForExecution). */
async function definitionOf(target: string, options: DefinitionOptions): Promise<string> {
  if (
    await stat(target).then(
      (s) => s.isFile(),
      () => false,
    )
  ) {
    return (await loadPipelineFile(target, options.export)).pipeline.definition();
  }
  await assertNoMissingFile(target);
  const { execution } = await resolveExecution(openSession(options), target);
  return (await execution.describeDefinition()).PipelineDefinition;
}

export function definitionCommand(program: Command): void {
  // --json is accepted as on every command that reads records; the definition is JSON either way.
  withJsonOption(
    program
      .command("definition")
      .summary("print a pipeline file's or an execution's definition JSON")
      .description(
        "Print a pipeline file's pipeline definition JSON (the same bytes every time for the same pipeline), without running anything; " +
          "or the definition a recorded execution ran with, whatever the pipeline became since. " +
          "An argument that is an existing file is read as a pipeline file; anything else names an execution.",
      )
      .argument("<pipeline-file|execution>", "the .ts or .js file that exports the pipeline, or an execution id (or a unique prefix of it)")
      .option("--export <name>", "the export to use, when the file exports several pipelines"),
  )
    .addHelpText("after", examples("stepbox definition pipelines/churn.ts > churn.json", "stepbox definition 4kq2 > what-4kq2-ran.json"))
    .action(
      action(async (target: string, options: DefinitionOptions) => {
        process.stdout.write(`${await definitionOf(target, options)}\n`);
        return EXIT.ok;
      }),
    );
}
