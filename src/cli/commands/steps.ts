import type { Command } from "commander";
import { action, examples } from "../action.js";
import { displayStatus } from "../../store/step-state.js";
import { EXIT } from "../errors.js";
import { elapsed, firstLine, formatTable, formatTime, toJson, writeLines } from "../output.js";
import { resolveExecution } from "../resolve.js";
import { cacheColumn } from "../run-progress.js";
import { openSession, withJsonOption, type ReadOptions } from "../session.js";

export function stepsCommand(program: Command): void {
  withJsonOption(
    program
      .command("steps")
      .summary("list an execution's steps")
      .description(
        "List an execution's steps in the order they depend on each other: status, attempts, duration, cache hit or miss, failure reason, and why a cached step ran. " +
          "--json prints ListPipelineExecutionSteps' items (newest first).",
      )
      .argument("<execution>", "the execution id, or a unique prefix of it"),
  )
    .addHelpText("after", examples("stepbox steps 4kq2", "stepbox steps 4kq2 --json"))
    .action(
      action(async (query: string, options: ReadOptions) => {
        const session = openSession(options);
        const { execution, record } = await resolveExecution(session, query);
        const steps = await execution.listSteps();
        if (options.json) {
          process.stdout.write(`${toJson(steps)}\n`);
          return EXIT.ok;
        }
        const byName = new Map(steps.map((s) => [s.StepName, s]));
        const ended = record.PipelineExecutionStatus !== "Executing" && record.PipelineExecutionStatus !== "Stopping";
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
        writeLines(process.stdout, formatTable(["STEP", "STATUS", "ATTEMPTS", "STARTED", "DURATION", "CACHE", "REASON"], rows));
        const misses = record.StepNames.flatMap((name) => {
          const reason = byName.get(name)?.CacheMissReason;
          return reason ? [`  ${name}: ${reason}`] : [];
        });
        if (misses.length > 0) writeLines(process.stdout, ["", "why cached steps ran:", ...misses]);
        return EXIT.ok;
      }),
    );
}
