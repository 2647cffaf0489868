import type { Command } from "commander";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { resolveExecution } from "../resolve.js";
import { openSession, withCommonOptions, type CommonOptions } from "../session.js";

interface StopOptions extends CommonOptions {
  wait?: boolean;
}

export function stopCommand(program: Command): void {
  withCommonOptions(
    program
      .command("stop")
      .summary("stop a running execution")
      .description(
        "Stop a running execution: no new step starts, and running steps get SIGTERM, then SIGKILL after the session's grace period. " +
          "The request goes through the store; the process that runs the execution acts on it within a second.",
      )
      .argument("<execution>", "the execution id, or a unique prefix of it")
      .option("--wait", "wait until the execution has stopped"),
  )
    .addHelpText("after", examples("stepbox stop 4kq2 --wait"))
    .action(
      action(async (query: string, options: StopOptions) => {
        const session = openSession(options);
        const { execution, record } = await resolveExecution(session, query);
        if (record.PipelineExecutionStatus !== "Executing" && record.PipelineExecutionStatus !== "Stopping") {
          process.stdout.write(`execution ${execution.id} has already ended: ${record.PipelineExecutionStatus}\n`);
          return EXIT.ok;
        }
        await execution.stop();
        process.stdout.write(`asked execution ${execution.id} of ${execution.pipelineName} to stop\n`);
        if (options.wait) {
          const { PipelineExecutionStatus } = await execution.wait();
          process.stdout.write(`execution ${execution.id} ${PipelineExecutionStatus}\n`);
        }
        return EXIT.ok;
      }),
    );
}
