import type { Command } from "commander";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { loadPipelineFile } from "../load-pipeline.js";
import { withCommonOptions, type CommonOptions } from "../session.js";

interface DefinitionOptions extends CommonOptions {
  export?: string;
}

export function definitionCommand(program: Command): void {
  withCommonOptions(
    program
      .command("definition")
      .summary("print a pipeline file's definition JSON")
      .description("Print a pipeline file's pipeline definition JSON (the same bytes every time for the same pipeline), without running anything.")
      .argument("<pipeline-file>", "the .ts or .js file that exports the pipeline")
      .option("--export <name>", "the export to use, when the file exports several pipelines"),
  )
    .addHelpText("after", examples("stepbox definition pipelines/churn.ts > churn.json"))
    .action(
      action(async (file: string, options: DefinitionOptions) => {
        const { pipeline } = await loadPipelineFile(file, options.export);
        process.stdout.write(`${pipeline.definition()}\n`);
        return EXIT.ok;
      }),
    );
}
