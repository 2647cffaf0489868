import type { Command } from "commander";
import { action, examples } from "../action.js";
import { executionEnded } from "../../store/records.js";
import { EXIT } from "../errors.js";
import { toJson } from "../output.js";
import { resolveExecution } from "../resolve.js";
import { openSession, withJsonOption, type ReadOptions } from "../session.js";

interface StopOptions extends ReadOptions {
  wait?: boolean;
}

export function stopCommand(program: Command): void {
  withJsonOption(
    program
      .command("stop")
      .summary("stop a running execution")
      .description(
        "Stop a running execution: no new step starts, and running steps get SIGTERM, then SIGKILL after the session's grace period. " +
          "The request goes through the store; the process that runs the execution acts on it within a second.",
      )
      .argument("<execution>", "the execution id, or a unique prefix of it")
      .option("--wait", "wait until the execution has stopped"),
    "print the execution's ARN, its status once the command is done (Stopped with --wait), and whether a stop was asked for, as JSON",
  )
    .addHelpText("after", examples("stepbox stop 4kq2 --wait", "stepbox stop 4kq2 --wait --json"))
    .action(
      action(async (query: string, options: StopOptions) => {
        const session = openSession(options);
        const { execution, record } = await resolveExecution(session, query);
        const report = (status: string, stopRequested: boolean): void => {
          if (options.json)
            process.stdout.write(`${toJson({ PipelineExecutionArn: execution.arn, PipelineExecutionStatus: status, StopRequested: stopRequested })}\n`);
        };
        if (executionEnded(record.PipelineExecutionStatus)) {
          if (!options.json) process.stdout.write(`execution ${execution.id} has already ended: ${record.PipelineExecutionStatus}\n`);
          report(record.PipelineExecutionStatus, false);
          return EXIT.ok;
        }
        await execution.stop();
        if (!options.json) process.stdout.write(`asked execution ${execution.id} of ${execution.pipelineName} to stop\n`);
        const { PipelineExecutionStatus: status } = options.wait ? await execution.wait() : await execution.describe();
        if (options.wait && !options.json) process.stdout.write(`execution ${execution.id} ${status}\n`);
        report(status, true);
        return EXIT.ok;
      }),
    );
}
