import type { Command } from "commander";
import { action, examples } from "../action.js";
import { openCloudSession, readCloudView, resolveCloudExecution, wantsCloud, withCloudOptions, type CloudOptions } from "../cloud.js";
import { EXIT } from "../errors.js";
import { elapsed, formatFields, formatTime, toJson, writeLines } from "../output.js";
import { resolveExecution } from "../resolve.js";
import { openSession, withJsonOption } from "../session.js";
import { parseExecutionArn } from "../../naming/sagemaker-arns.js";
import { type ExecutionRecord, executionEnded } from "../../store/records.js";

interface DescribeOptions extends CloudOptions {
  json?: boolean;
}

/** What a person reads of an execution, local or in SageMaker. */
function describeLines(record: ExecutionRecord): string[] {
  const retried = record.SelectiveExecutionConfig;
  const fields: Array<[string, string | undefined]> = [
    ["Execution", record.PipelineExecutionId],
    ["Pipeline", record.PipelineName],
    ["Status", record.PipelineExecutionStatus],
    ["Failure reason", record.FailureReason],
    ["Display name", record.PipelineExecutionDisplayName],
    ["Description", record.PipelineExecutionDescription],
    ["Started", formatTime(record.CreationTime)],
    ["Last modified", formatTime(record.LastModifiedTime)],
    ["Duration", elapsed(record.CreationTime, executionEnded(record.PipelineExecutionStatus) ? record.LastModifiedTime : undefined)],
    ["Parallelism", String(record.ParallelismConfiguration.MaxParallelExecutionSteps)],
    ["Parameters", record.PipelineParameters.map((p) => `${p.Name}=${p.Value}`).join(", ") || "(none)"],
    [
      "Source",
      retried
        ? `execution ${parseExecutionArn(retried.SourcePipelineExecutionArn).executionId}, running again: ${retried.SelectedSteps.map((s) => s.StepName).join(", ")}`
        : undefined,
    ],
    ["Steps", record.StepNames.join(", ")],
    ["ARN", record.PipelineExecutionArn],
  ];
  return formatFields(fields);
}

export function describeCommand(program: Command): void {
  withCloudOptions(
    withJsonOption(
      program
        .command("describe")
        .summary("show an execution")
        .description("Show an execution: status, failure reason, times, parameters, and what it retried. --json prints DescribePipelineExecution's answer.")
        .argument("<execution>", "the execution id, or a unique prefix of it; with --cloud also <pipeline>/<id>, or its ARN"),
    ),
  )
    .addHelpText("after", examples("stepbox describe 4kq2", "stepbox describe 4kq2 --json", "stepbox describe --cloud churn/4kq2"))
    .action(
      action(async (query: string, options: DescribeOptions) => {
        if (wantsCloud(options, query)) {
          const cloud = openCloudSession(options, query);
          try {
            const view = await readCloudView(await resolveCloudExecution(cloud, options, query));
            if (options.json) process.stdout.write(`${toJson(view.description)}\n`);
            else writeLines(process.stdout, describeLines(view.record));
            return EXIT.ok;
          } finally {
            cloud.close();
          }
        }
        const session = openSession(options);
        const { execution, record } = await resolveExecution(session, query);
        if (options.json) {
          process.stdout.write(`${toJson(await execution.describe())}\n`);
          return EXIT.ok;
        }
        // The store's latest word on the execution, as describe() reads it.
        const d = await execution.describe();
        writeLines(
          process.stdout,
          describeLines({
            ...record,
            PipelineExecutionStatus: d.PipelineExecutionStatus,
            LastModifiedTime: new Date(d.LastModifiedTime).toISOString(),
            ...(d.FailureReason !== undefined ? { FailureReason: d.FailureReason } : {}),
          }),
        );
        return EXIT.ok;
      }),
    );
}
