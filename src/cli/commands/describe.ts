import type { Command } from "commander";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { elapsed, formatFields, formatTime, toJson, writeLines } from "../output.js";
import { resolveExecution } from "../resolve.js";
import { openSession, withJsonOption, type ReadOptions } from "../session.js";
import { parseExecutionArn } from "../../naming/sagemaker-arns.js";
import { executionEnded } from "../../store/records.js";

export function describeCommand(program: Command): void {
  withJsonOption(
    program
      .command("describe")
      .summary("show an execution")
      .description("Show an execution: status, failure reason, times, parameters, and what it retried. --json prints DescribePipelineExecution's answer.")
      .argument("<execution>", "the execution id, or a unique prefix of it"),
  )
    .addHelpText("after", examples("stepbox describe 4kq2", "stepbox describe 4kq2 --json"))
    .action(
      action(async (query: string, options: ReadOptions) => {
        const session = openSession(options);
        const { execution, record } = await resolveExecution(session, query);
        const d = await execution.describe();
        if (options.json) {
          process.stdout.write(`${toJson(d)}\n`);
          return EXIT.ok;
        }
        const retried = d.SelectiveExecutionConfig;
        const fields: Array<[string, string | undefined]> = [
          ["Execution", execution.id],
          ["Pipeline", execution.pipelineName],
          ["Status", d.PipelineExecutionStatus],
          ["Failure reason", d.FailureReason],
          ["Display name", d.PipelineExecutionDisplayName],
          ["Description", d.PipelineExecutionDescription],
          ["Started", formatTime(d.CreationTime)],
          ["Last modified", formatTime(d.LastModifiedTime)],
          ["Duration", elapsed(d.CreationTime, executionEnded(d.PipelineExecutionStatus) ? d.LastModifiedTime : undefined)],
          ["Parallelism", String(d.ParallelismConfiguration.MaxParallelExecutionSteps)],
          ["Parameters", record.PipelineParameters.map((p) => `${p.Name}=${p.Value}`).join(", ") || "(none)"],
          [
            "Source",
            retried
              ? `execution ${parseExecutionArn(retried.SourcePipelineExecutionArn).executionId}, running again: ${retried.SelectedSteps.map((s) => s.StepName).join(", ")}`
              : undefined,
          ],
          ["Steps", record.StepNames.join(", ")],
          ["ARN", d.PipelineExecutionArn],
        ];
        writeLines(process.stdout, formatFields(fields));
        return EXIT.ok;
      }),
    );
}
