import type { Command } from "commander";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { elapsed, formatTable, formatTime, toJson, writeLines } from "../output.js";
import { resolvePipelineName } from "../resolve.js";
import { openSession, withJsonOption, type ReadOptions } from "../session.js";
import { executionEnded } from "../../store/records.js";

export function executionsCommand(program: Command): void {
  withJsonOption(
    program
      .command("executions")
      .summary("list recorded executions")
      .description("List the recorded executions, newest first: of every pipeline in the store, or of one.")
      .argument("[pipeline]", "only this pipeline's executions (its name, or a unique prefix of it)"),
  )
    .addHelpText("after", examples("stepbox executions", "stepbox executions churn --json"))
    .action(
      action(async (pipelineQuery: string | undefined, options: ReadOptions) => {
        const session = openSession(options);
        const pipelines = pipelineQuery !== undefined ? [await resolvePipelineName(session, pipelineQuery)] : await session.records.listPipelines();
        const records = [];
        for (const pipeline of pipelines) {
          records.push(...(await session.records.readExecutions(pipeline, (damaged) => process.stderr.write(`warning: skipped ${damaged.detail}\n`))));
        }
        records.sort((a, b) => Date.parse(b.CreationTime) - Date.parse(a.CreationTime));
        if (options.json) {
          const summaries = records.map((r) => ({
            PipelineName: r.PipelineName,
            PipelineExecutionId: r.PipelineExecutionId,
            PipelineExecutionArn: r.PipelineExecutionArn,
            PipelineExecutionDisplayName: r.PipelineExecutionDisplayName,
            PipelineExecutionStatus: r.PipelineExecutionStatus,
            StartTime: r.CreationTime,
            LastModifiedTime: r.LastModifiedTime,
            ...(r.FailureReason !== undefined ? { FailureReason: r.FailureReason } : {}),
          }));
          process.stdout.write(`${toJson(summaries)}\n`);
          return EXIT.ok;
        }
        if (records.length === 0) {
          process.stdout.write(`no executions recorded in ${session.store.uri}\n`);
          return EXIT.ok;
        }
        const rows = records.map((r) => [
          r.PipelineExecutionId,
          r.PipelineName,
          r.PipelineExecutionStatus,
          formatTime(r.CreationTime),
          elapsed(r.CreationTime, executionEnded(r.PipelineExecutionStatus) ? r.LastModifiedTime : undefined),
          r.PipelineExecutionDisplayName,
        ]);
        writeLines(process.stdout, formatTable(["EXECUTION", "PIPELINE", "STATUS", "STARTED", "DURATION", "DISPLAY NAME"], rows));
        return EXIT.ok;
      }),
    );
}
