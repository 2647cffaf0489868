import type { Command } from "commander";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { elapsed, formatTable, formatTime, toJson, writeLines } from "../output.js";
import { matchPrefix, resolvePipelineName } from "../resolve.js";
import { openSession, withJsonOption } from "../session.js";
import { cloudPlace, openCloudSession, withCloudOptions, type CloudOptions } from "../cloud.js";
import { listPipelineExecutions, listPipelines } from "../../cloud/pipelines.js";
import { parseExecutionArn } from "../../naming/sagemaker-arns.js";
import { type ExecutionStatus, executionEnded } from "../../store/records.js";

/** Whether a status, as the store or SageMaker writes it, is an end. */
function ended(status: string | undefined): boolean {
  return executionEnded(status as ExecutionStatus);
}

interface ExecutionsOptions extends CloudOptions {
  json?: boolean;
}

/** One line of the list: what ListPipelineExecutions answers, and the pipeline it is of. */
interface ExecutionSummary {
  PipelineName: string;
  PipelineExecutionId: string;
  PipelineExecutionArn: string;
  PipelineExecutionDisplayName: string;
  PipelineExecutionStatus: string;
  StartTime: string;
  LastModifiedTime: string;
  FailureReason?: string;
}

/** The executions in SageMaker, of every pipeline or of the one named. */
async function cloudExecutions(options: ExecutionsOptions, pipelineQuery: string | undefined): Promise<{ summaries: ExecutionSummary[]; where: string }> {
  const cloud = openCloudSession(options);
  try {
    const where = cloudPlace(cloud, options);
    const all = await listPipelines(cloud);
    const pipelines = pipelineQuery !== undefined ? [matchPrefix(pipelineQuery, all, "pipeline", where)] : all;
    const summaries: ExecutionSummary[] = [];
    for (const pipeline of pipelines) {
      for (const s of await listPipelineExecutions(cloud, pipeline)) {
        if (!s.PipelineExecutionArn) continue;
        const start = s.StartTime?.toISOString() ?? new Date(0).toISOString();
        summaries.push({
          PipelineName: pipeline,
          PipelineExecutionId: parseExecutionArn(s.PipelineExecutionArn).executionId,
          PipelineExecutionArn: s.PipelineExecutionArn,
          PipelineExecutionDisplayName: s.PipelineExecutionDisplayName ?? "",
          PipelineExecutionStatus: s.PipelineExecutionStatus ?? "",
          StartTime: start,
          // ListPipelineExecutions has no LastModifiedTime: an ended execution's comes from describe.
          LastModifiedTime: ended(s.PipelineExecutionStatus)
            ? ((await cloud.execution(s.PipelineExecutionArn).describe()).LastModifiedTime?.toISOString() ?? start)
            : start,
          ...(s.PipelineExecutionFailureReason !== undefined ? { FailureReason: s.PipelineExecutionFailureReason } : {}),
        });
      }
    }
    return { summaries, where };
  } finally {
    cloud.close();
  }
}

export function executionsCommand(program: Command): void {
  withCloudOptions(
    withJsonOption(
      program
        .command("executions")
        .summary("list recorded executions")
        .description("List the recorded executions, newest first: of every pipeline in the store (or, with --cloud, in SageMaker), or of one.")
        .argument("[pipeline]", "only this pipeline's executions (its name, or a unique prefix of it)"),
    ),
  )
    .addHelpText("after", examples("stepbox executions", "stepbox executions churn --json", "stepbox executions churn --cloud"))
    .action(
      action(async (pipelineQuery: string | undefined, options: ExecutionsOptions) => {
        const { summaries, where } = options.cloud ? await cloudExecutions(options, pipelineQuery) : await localExecutions(options, pipelineQuery);
        summaries.sort((a, b) => Date.parse(b.StartTime) - Date.parse(a.StartTime));
        if (options.json) {
          process.stdout.write(`${toJson(summaries)}\n`);
          return EXIT.ok;
        }
        if (summaries.length === 0) {
          process.stdout.write(`no executions recorded in ${where}\n`);
          return EXIT.ok;
        }
        const rows = summaries.map((r) => [
          r.PipelineExecutionId,
          r.PipelineName,
          r.PipelineExecutionStatus,
          formatTime(r.StartTime),
          elapsed(r.StartTime, ended(r.PipelineExecutionStatus) ? r.LastModifiedTime : undefined),
          r.PipelineExecutionDisplayName,
        ]);
        writeLines(process.stdout, formatTable(["EXECUTION", "PIPELINE", "STATUS", "STARTED", "DURATION", "DISPLAY NAME"], rows));
        return EXIT.ok;
      }),
    );
}

/** The executions recorded in the store, of every pipeline or of the one named; a damaged record is skipped with a warning. */
async function localExecutions(options: ExecutionsOptions, pipelineQuery: string | undefined): Promise<{ summaries: ExecutionSummary[]; where: string }> {
  const session = openSession(options);
  const pipelines = pipelineQuery !== undefined ? [await resolvePipelineName(session, pipelineQuery)] : await session.records.listPipelines();
  const summaries: ExecutionSummary[] = [];
  for (const pipeline of pipelines) {
    for (const r of await session.records.readExecutions(pipeline, (damaged) => process.stderr.write(`warning: skipped ${damaged.detail}\n`))) {
      summaries.push({
        PipelineName: r.PipelineName,
        PipelineExecutionId: r.PipelineExecutionId,
        PipelineExecutionArn: r.PipelineExecutionArn,
        PipelineExecutionDisplayName: r.PipelineExecutionDisplayName,
        PipelineExecutionStatus: r.PipelineExecutionStatus,
        StartTime: r.CreationTime,
        LastModifiedTime: r.LastModifiedTime,
        ...(r.FailureReason !== undefined ? { FailureReason: r.FailureReason } : {}),
      });
    }
  }
  return { summaries, where: session.store.uri };
}
