import type { Command } from "commander";
import { openStepShell } from "../../session/step-shell.js";
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
      .argument("<step>", "the step's name, or a unique prefix of it"),
  )
    .addHelpText("after", examples("stepbox shell 4kq2 train", "echo 'ls /opt/ml/input/data' | stepbox shell 4kq2 train"))
    .action(
      action(async (executionQuery: string, stepQuery: string, options: CommonOptions) => {
        const session = openSession(options);
        const resolved = await resolveExecution(session, executionQuery);
        return openStepShell({
          session,
          pipelineName: resolved.pipelineName,
          executionId: resolved.id,
          stepName: resolveStep(resolved, stepQuery),
          stdin: process.stdin,
          stdout: process.stdout,
          stderr: process.stderr,
          tty: process.stdin.isTTY === true && process.stdout.isTTY === true,
        });
      }),
    );
}
