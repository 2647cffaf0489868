import type { Command } from "commander";
import { action, examples } from "../action.js";
import { openCloudSession, readCloudView, resolveCloudExecution, wantsCloud, withCloudOptions, type CloudOptions } from "../cloud.js";
import { type PipelineExecutionStep, stepView } from "../../session/pipeline-execution.js";
import { type ExecutionRecord, executionEnded } from "../../store/records.js";
import { displayStatus } from "../../store/step-state.js";
import { EXIT } from "../errors.js";
import { elapsed, firstLine, formatTable, formatTime, toJson, writeLines } from "../output.js";
import { resolveExecution } from "../resolve.js";
import { cacheColumn } from "../run-progress.js";
import { openSession, withJsonOption } from "../session.js";

interface StepsOptions extends CloudOptions {
  json?: boolean;
}

/** The table of an execution's steps, in the order they depend on each other, local or in SageMaker. */
function stepLines(record: ExecutionRecord, steps: readonly PipelineExecutionStep[]): string[] {
  const byName = new Map(steps.map((s) => [s.StepName, s]));
  const ended = executionEnded(record.PipelineExecutionStatus);
  const rows = record.StepNames.map((name) => {
    const s = byName.get(name);
    if (!s) return [name, displayStatus(undefined, ended), "", "", "", "", ""];
    return [
      name,
      s.StepStatus,
      String(s.AttemptCount),
      formatTime(s.StartTime),
      elapsed(s.StartTime, s.EndTime),
      cacheColumn(s),
      s.FailureReason ? firstLine(s.FailureReason, 80) : "",
    ];
  });
  const lines = formatTable(["STEP", "STATUS", "ATTEMPTS", "STARTED", "DURATION", "CACHE", "REASON"], rows);
  const misses = record.StepNames.flatMap((name) => {
    const reason = byName.get(name)?.CacheMissReason;
    return reason ? [`  ${name}: ${reason}`] : [];
  });
  return misses.length > 0 ? [...lines, "", "why cached steps ran:", ...misses] : lines;
}

export function stepsCommand(program: Command): void {
  withCloudOptions(
    withJsonOption(
      program
        .command("steps")
        .summary("list an execution's steps")
        .description(
          "List an execution's steps in the order they depend on each other: status, attempts, duration, cache hit or miss, failure reason, and why a cached step ran. " +
            "--json prints ListPipelineExecutionSteps' items (newest first).",
        )
        .argument("<execution>", "the execution id, or a unique prefix of it; with --cloud also <pipeline>/<id>, or its ARN"),
    ),
  )
    .addHelpText(
      "after",
      examples(
        "stepbox steps 4kq2",
        "stepbox steps 4kq2 --json",
        "stepbox steps arn:aws:sagemaker:us-east-1:123456789012:pipeline/churn/execution/4kq2x8m1c9ab",
      ),
    )
    .action(
      action(async (query: string, options: StepsOptions) => {
        if (wantsCloud(options, query)) {
          const cloud = openCloudSession(options, query);
          try {
            const execution = await resolveCloudExecution(cloud, options, query);
            if (options.json) {
              process.stdout.write(`${toJson(await execution.listSteps())}\n`);
              return EXIT.ok;
            }
            const view = await readCloudView(execution);
            writeLines(process.stdout, stepLines(view.record, [...view.steps.values()].map(stepView)));
            return EXIT.ok;
          } finally {
            cloud.close();
          }
        }
        const session = openSession(options);
        const { execution, record } = await resolveExecution(session, query);
        const steps = await execution.listSteps();
        if (options.json) process.stdout.write(`${toJson(steps)}\n`);
        else writeLines(process.stdout, stepLines(record, steps));
        return EXIT.ok;
      }),
    );
}
