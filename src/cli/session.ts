/**
 * The options every command shares, and the session a command reads or runs through.
 */
import type { Command } from "commander";
import type { Logger } from "../logging/logger.js";
import { LocalPipelineSession, type StepLogLine } from "../session/local-pipeline-session.js";
import { cliLogger } from "./engine-log.js";

export interface CommonOptions {
  store?: string;
  verbose?: boolean;
}

export interface ReadOptions extends CommonOptions {
  json?: boolean;
}

/** --store and --verbose, on every command. */
export function withCommonOptions(command: Command): Command {
  return command
    .option("--store <uri>", "the artifact store: a folder, file:///folder or s3://bucket/prefix (default: $STEPBOX_HOME, else ./.stepbox)")
    .option("--verbose", "show every engine event, and the stack trace of an error");
}

/** --json, on every command that reports something; `description` says what the JSON is, where text alone does not. */
export function withJsonOption(command: Command, description = "print JSON instead of text"): Command {
  return withCommonOptions(command).option("--json", description);
}

/**
 * A session on the store the options name. The secret comes from STEPBOX_SECRET or the key file,
 * as for any session: a store written on another machine needs that machine's secret.
 */
export function openSession(options: CommonOptions, runtime: { logger?: Logger; onLog?: (line: StepLogLine) => void } = {}): LocalPipelineSession {
  const logger =
    runtime.logger ?? cliLogger({ message: (line) => process.stderr.write(`${line}\n`), imageActivity: () => undefined }, options.verbose === true);
  return new LocalPipelineSession({
    ...(options.store !== undefined ? { artifactRoot: options.store } : {}),
    logger,
    ...(runtime.onLog ? { onLog: runtime.onLog } : {}),
    // The commands that run executions (run, retry) and serve handle signals themselves.
    handleSignals: false,
  });
}
