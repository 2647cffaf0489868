import { stat, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { ValidationError } from "../../errors.js";
// Not the report's index: the HTML report's renderer is not this command's to load.
import { GRAPH_FORMATS, renderGraph, type GraphFormat } from "../../report/render-graph.js";
import { loadExecutionDefinition } from "../../report/run-report.js";
import type { LocalPipelineSession } from "../../session/local-pipeline-session.js";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { assertNoMissingFile, loadPipelineFile } from "../load-pipeline.js";
import { resolveExecution } from "../resolve.js";
import { openSession, withCommonOptions, type CommonOptions } from "../session.js";

interface GraphOptions extends CommonOptions {
  format: string;
  out?: string;
  export?: string;
}

/** A pipeline file's graph, plain; an execution's, from the definition it ran with, each step coloured by its status. */
async function definitionAndStatuses(
  session: LocalPipelineSession,
  target: string,
  exportName: string | undefined,
): Promise<{ definition: string; statuses?: Map<string, string> }> {
  if (
    await stat(target).then(
      (s) => s.isFile(),
      () => false,
    )
  ) {
    return { definition: (await loadPipelineFile(target, exportName)).pipeline.definition() };
  }
  await assertNoMissingFile(target);
  const { pipelineName, id, record } = await resolveExecution(session, target);
  const { definition, definitionChanged } = await loadExecutionDefinition(session, record);
  if (definitionChanged) {
    process.stderr.write(
      `warning: execution ${id} was recorded before stepbox kept each execution's definition, and pipeline ${pipelineName} was changed after it started; the graph is of its latest definition\n`,
    );
  }
  const statuses = new Map<string, string>();
  for (const name of record.StepNames) {
    const step = await session.records.readStep(pipelineName, id, name);
    if (step) statuses.set(name, step.StepStatus);
  }
  return { definition, statuses };
}

export function graphCommand(program: Command): void {
  withCommonOptions(
    program
      .command("graph")
      .summary("draw a pipeline's or an execution's DAG")
      .description(
        "Draw the DAG of a pipeline file's pipeline, or of a recorded execution (as it ran, whatever the pipeline became since) with each step coloured by its status, as Mermaid, Graphviz DOT or SVG. " +
          "An argument that is an existing file is read as a pipeline file; anything else names an execution.",
      )
      .argument("<pipeline-file|execution>", "a pipeline file, or an execution id (or a unique prefix of it)")
      .option("--format <format>", `one of: ${GRAPH_FORMATS.join(", ")}`, "mermaid")
      .option("--out <file>", "write the drawing to a file instead of printing it")
      .option("--export <name>", "the export to use, when the file exports several pipelines"),
  )
    .addHelpText("after", examples("stepbox graph pipelines/churn.ts --format svg --out churn.svg", "stepbox graph 4kq2 --format dot | dot -Tpng > run.png"))
    .action(
      action(async (target: string, options: GraphOptions) => {
        if (!(GRAPH_FORMATS as readonly string[]).includes(options.format)) {
          throw new ValidationError(`--format ${options.format} is not a graph format`, { hint: `use one of: ${GRAPH_FORMATS.join(", ")}` });
        }
        const session = openSession(options);
        const { definition, statuses } = await definitionAndStatuses(session, target, options.export);
        const drawing = renderGraph(definition, options.format as GraphFormat, statuses);
        const text = drawing.endsWith("\n") ? drawing : `${drawing}\n`;
        if (options.out !== undefined) {
          await writeFile(options.out, text);
          process.stderr.write(`wrote ${options.out}\n`);
        } else {
          process.stdout.write(text);
        }
        return EXIT.ok;
      }),
    );
}
