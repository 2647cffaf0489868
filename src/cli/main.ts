/**
 * The `stepbox` command line: one module per command under commands/, this file puts them together
 * and turns every way a command can end into an exit code (0 done, 1 failed, 2 user error).
 */
import { Command, CommanderError } from "commander";
import { commandExitCode } from "./action.js";
import { definitionCommand } from "./commands/definition.js";
import { deployCommand } from "./commands/deploy.js";
import { describeCommand } from "./commands/describe.js";
import { executionsCommand } from "./commands/executions.js";
import { gcCommand } from "./commands/gc.js";
import { graphCommand } from "./commands/graph.js";
import { imageCommand } from "./commands/image.js";
import { logsCommand } from "./commands/logs.js";
import { reportCommand } from "./commands/report.js";
import { resultCommand } from "./commands/result.js";
import { retryCommand } from "./commands/retry.js";
import { runCommand } from "./commands/run.js";
import { serveCommand } from "./commands/serve.js";
import { shellCommand } from "./commands/shell.js";
import { stepsCommand } from "./commands/steps.js";
import { stopCommand } from "./commands/stop.js";
import { EXIT, reportError } from "./errors.js";
import { stepboxPackage } from "../runtime/package-manifest.js";

/** commander's codes for help and version, which end well when asked for. */
const NOT_AN_ERROR = new Set(["commander.helpDisplayed", "commander.help", "commander.version"]);

function buildProgram(version: string): Command {
  const program = new Command("stepbox")
    .description("Run SageMaker-style step() pipelines on this machine, each step in a Docker container, and read what they recorded.")
    .version(version)
    // Errors are printed by main(), in one format for commander's and stepbox's own.
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .showSuggestionAfterError(true)
    .addHelpText("after", "\nEvery command but image push takes --store <uri> (default: $STEPBOX_HOME, else ./.stepbox); see stepbox <command> --help.\n");
  for (const register of [
    runCommand,
    executionsCommand,
    describeCommand,
    stepsCommand,
    resultCommand,
    logsCommand,
    stopCommand,
    retryCommand,
    definitionCommand,
    graphCommand,
    reportCommand,
    shellCommand,
    gcCommand,
    serveCommand,
    imageCommand,
    deployCommand,
  ]) {
    register(program);
  }
  return program;
}

/**
 * A reader that goes away (`stepbox run | head`) ends the output, not the command: an EPIPE with no
 * listener would kill the process mid-run and leave its step's containers running. The run goes on to
 * its end, quietly, and exits with its own code.
 */
function endOutputQuietly(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
    });
  }
}

/** The name of the command in argv, for the hint after a usage error. */
function commandName(program: Command, args: readonly string[]): string | undefined {
  const names = new Set(program.commands.map((c) => c.name()));
  return args.find((a) => names.has(a));
}

/** Runs the command line on `argv` (as process.argv: node, script, ...args) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  endOutputQuietly();
  const program = buildProgram((await stepboxPackage()).version);
  const args = argv.slice(2);
  try {
    await program.parseAsync([...argv]);
    return commandExitCode();
  } catch (error) {
    if (error instanceof CommanderError) {
      // `stepbox` alone: commander shows the help on stderr with exit code 1, as the usage error it is.
      // `stepbox --help` and `stepbox help` show it on stdout with 0.
      if (error.code === "commander.help" && error.exitCode !== 0) return EXIT.usage;
      if (NOT_AN_ERROR.has(error.code)) return EXIT.ok;
      const name = commandName(program, args);
      // commander puts its suggestion ("(Did you mean run?)") on a second line: it belongs in the hint.
      const [message = "", suggestion] = error.message.replace(/^error: /, "").split("\n");
      process.stderr.write(`error: ${message}\n`);
      process.stderr.write(
        `hint: ${suggestion ? `${suggestion.replace(/^\((.*)\)$/, "$1").toLowerCase()} ` : ""}see stepbox ${name ? `${name} ` : ""}--help\n`,
      );
      return EXIT.usage;
    }
    return reportError(error, process.stderr, args.includes("--verbose"));
  }
}
