import type { Command } from "commander";
import { action, examples } from "../action.js";
import { resolveExecution, resolveStep } from "../resolve.js";
import { openSession, withCommonOptions, type CommonOptions } from "../session.js";

export function shellCommand(program: Command): void {
  withCommonOptions(
    program
      .command("shell")
      .summary("open a shell in a container made as a step's was")
      .description(
        "Open a shell in a new container made as the step's was: its image, code, arguments, config files, input channels and sandbox, so its function can be run again by hand. " +
          "On a terminal the shell is interactive; otherwise it reads commands from stdin. Exits with the shell's exit code; the container is removed afterwards.",
      )
      .argument("<execution>", "the execution id, or a unique prefix of it")
      .argument("<step>", "the step's name, or a unique prefix of it")
      .option("--host <host>", "for a step on several hosts, which one to be (algo-1, algo-2, ...)", "algo-1"),
  )
    .addHelpText(
      "after",
      examples("stepbox shell 4kq2 train", "echo 'ls /opt/ml/input/data' | stepbox shell 4kq2 train", "stepbox shell 4kq2 train --host algo-2"),
    )
    .action(
      action(async (executionQuery: string, stepQuery: string, options: CommonOptions & { host: string }) => {
        const session = openSession(options);
        const resolved = await resolveExecution(session, executionQuery);
        // The shell's container code loads for this command only, not with every other one.
        const { openStepShell } = await import("../../session/step-shell.js");
        return openStepShell({
          session,
          pipelineName: resolved.pipelineName,
          executionId: resolved.id,
          stepName: resolveStep(resolved, stepQuery),
          stdin: process.stdin,
          stdout: process.stdout,
          stderr: process.stderr,
          tty: process.stdin.isTTY === true && process.stdout.isTTY === true,
          host: options.host,
        });
      }),
    );
}
