import type { Command } from "commander";
import { action, examples } from "../action.js";
import { type ExecutionStatus, executionEnded } from "../../store/records.js";
import { EXIT } from "../errors.js";
import { toJson } from "../output.js";
import { resolveExecution } from "../resolve.js";
import { openSession, withJsonOption } from "../session.js";
import { openCloudSession, resolveCloudExecution, wantsCloud, withCloudOptions, type CloudOptions } from "../cloud.js";

interface StopOptions extends CloudOptions {
  json?: boolean;
  wait?: boolean;
}

/** What stop does to one execution, wherever it runs. */
interface Stoppable {
  readonly id: string;
  readonly arn: string;
  readonly pipelineName: string;
  status(): Promise<string>;
  stop(): Promise<void>;
  wait(): Promise<{ PipelineExecutionStatus?: string | undefined }>;
}

export function stopCommand(program: Command): void {
  withCloudOptions(
    withJsonOption(
      program
        .command("stop")
        .summary("stop a running execution")
        .description(
          "Stop a running execution: no new step starts, and running steps get SIGTERM, then SIGKILL after the session's grace period. " +
            "The request goes through the store; the process that runs the execution acts on it within a second.",
        )
        .argument("<execution>", "the execution id, or a unique prefix of it; with --cloud also <pipeline>/<id>, or its ARN")
        .option("--wait", "wait until the execution has stopped"),
      "print the execution's ARN, its status once the command is done (Stopped with --wait), and whether a stop was asked for, as JSON",
    ),
  )
    .addHelpText("after", examples("stepbox stop 4kq2 --wait", "stepbox stop 4kq2 --wait --json"))
    .action(
      action(async (query: string, options: StopOptions) => {
        if (wantsCloud(options, query)) {
          const cloud = openCloudSession(options, query);
          try {
            const execution = await resolveCloudExecution(cloud, options, query);
            return await stop(
              {
                id: execution.id,
                arn: execution.arn,
                pipelineName: execution.pipelineName,
                status: async () => (await execution.describe()).PipelineExecutionStatus ?? "",
                stop: () => execution.stop(),
                wait: () => execution.wait(),
              },
              options,
            );
          } finally {
            cloud.close();
          }
        }
        const session = openSession(options);
        const { execution } = await resolveExecution(session, query);
        return stop(
          {
            id: execution.id,
            arn: execution.arn,
            pipelineName: execution.pipelineName,
            status: async () => (await execution.describe()).PipelineExecutionStatus,
            stop: () => execution.stop(),
            wait: () => execution.wait(),
          },
          options,
        );
      }),
    );
}

async function stop(execution: Stoppable, options: StopOptions): Promise<number> {
  const report = (status: string, stopRequested: boolean): void => {
    if (options.json)
      process.stdout.write(`${toJson({ PipelineExecutionArn: execution.arn, PipelineExecutionStatus: status, StopRequested: stopRequested })}\n`);
  };
  const before = await execution.status();
  if (executionEnded(before as ExecutionStatus)) {
    if (!options.json) process.stdout.write(`execution ${execution.id} has already ended: ${before}\n`);
    report(before, false);
    return EXIT.ok;
  }
  await execution.stop();
  if (!options.json) process.stdout.write(`asked execution ${execution.id} of ${execution.pipelineName} to stop\n`);
  const status = options.wait ? ((await execution.wait()).PipelineExecutionStatus ?? "") : await execution.status();
  if (options.wait && !options.json) process.stdout.write(`execution ${execution.id} ${status}\n`);
  report(status, true);
  return EXIT.ok;
}
