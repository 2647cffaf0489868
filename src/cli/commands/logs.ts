import type { Command } from "commander";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { resolveExecution, resolveStep, type ResolvedExecution } from "../resolve.js";
import { openSession, withJsonOption } from "../session.js";
import { openCloudSession, resolveCloudExecution, wantsCloud, withCloudOptions, type CloudOptions } from "../cloud.js";
import { matchPrefix } from "../resolve.js";
import { readDefinition } from "../../definition/read-definition.js";
import type { CloudPipelineExecution } from "../../cloud/cloud-execution.js";
import { ContainerLogSource } from "../../runtime/docker/running-containers.js";
import { hostOfStream, multiHostSteps, multiHostStepsOf, readStoredStream, storedStreams } from "../step-logs.js";
import type { LocalPipelineSession } from "../../session/local-pipeline-session.js";
import { isTerminal } from "../../store/step-state.js";
import { executionEnded } from "../../store/records.js";

interface LogsOptions extends CloudOptions {
  json?: boolean;
  follow?: boolean;
}

const POLL_MS = 500;

/**
 * Writes log lines: as they are for one step, `[step] line` for several, or one JSON object a line.
 * A step on several hosts prints `[step/algo-<i>] line` either way, as `stepbox run` does, because its
 * hosts' lines interleave.
 */
class LogPrinter {
  readonly #json: boolean;
  readonly #prefixed: boolean;
  readonly #multiHost: ReadonlySet<string>;

  constructor(json: boolean, prefixed: boolean, multiHost: ReadonlySet<string>) {
    this.#json = json;
    this.#prefixed = prefixed;
    this.#multiHost = multiHost;
  }

  header(step: string, stream: string): void {
    if (!this.#json) process.stdout.write(`==> ${step}: ${stream} <==\n`);
  }

  line(step: string, host: string, stream: string, line: string): void {
    if (this.#json) {
      process.stdout.write(`${JSON.stringify({ step, stream, line })}\n`);
      return;
    }
    const prefix = this.#multiHost.has(step) ? `[${step}/${host}] ` : this.#prefixed ? `[${step}] ` : "";
    process.stdout.write(`${prefix}${line}\n`);
  }
}

/** Prints a step's stored streams that are not shown yet and not being followed live; returns how many it printed. */
async function printStored(
  session: LocalPipelineSession,
  resolved: ResolvedExecution,
  stepName: string,
  printer: LogPrinter,
  skip: (stream: string) => boolean,
): Promise<number> {
  const record = await session.records.readStep(resolved.pipelineName, resolved.id, stepName);
  const streams = await storedStreams(session, resolved.pipelineName, resolved.id, record, stepName);
  let printed = 0;
  for (const stream of streams) {
    if (skip(stream)) continue;
    if (streams.length > 1) printer.header(stepName, stream);
    const host = hostOfStream(stream);
    for await (const line of readStoredStream(session, resolved.pipelineName, resolved.id, stepName, stream)) printer.line(stepName, host, stream, line);
    printed++;
  }
  return printed;
}

/** Why a step has no stored logs, for a person who asked for them. */
async function noLogsReason(session: LocalPipelineSession, resolved: ResolvedExecution, stepName: string): Promise<string> {
  const step = await session.records.readStep(resolved.pipelineName, resolved.id, stepName);
  if (!step) return "it has not run";
  if (step.CacheHitResult || step.SelectiveExecutionResult) return "its result was reused, not computed; see the execution it came from";
  if (!isTerminal(step.StepStatus)) return "it is still running; add --follow to see its output live";
  return "it ran no container";
}

/** Live lines from running containers, then the store, until the execution ends. */
async function follow(session: LocalPipelineSession, resolved: ResolvedExecution, stepNames: readonly string[], printer: LogPrinter): Promise<void> {
  const docker = await ContainerLogSource.connect();
  if (!docker) process.stderr.write("warning: no Docker engine answers, so a running step's output shows only once the step ends\n");
  const shown = new Set<string>();
  // `<job>/algo-<i>` of each container followed live: its stored stream is that plus `-<epoch>`.
  const live = new Set<string>();
  const following = new Map<string, Promise<void>>();
  const storePass = async (): Promise<void> => {
    for (const step of stepNames) {
      await printStored(session, resolved, step, printer, (stream) => {
        if (shown.has(stream) || [...live].some((prefix) => stream.startsWith(`${prefix}-`))) return true;
        shown.add(stream);
        return false;
      });
    }
  };
  for (;;) {
    const { PipelineExecutionStatus } = await session.records.readExecution(resolved.pipelineName, resolved.id);
    const ended = executionEnded(PipelineExecutionStatus);
    if (!ended && docker) {
      for (const step of stepNames) {
        for (const container of await docker.running(resolved.id, step)) {
          if (following.has(container.id)) continue;
          live.add(container.stream);
          following.set(
            container.id,
            docker
              .follow(container, (line) => printer.line(step, container.host, container.stream, line))
              .catch(() => {
                // It went before it could be read: its stored stream is printed instead.
                live.delete(container.stream);
              }),
          );
        }
      }
    }
    await storePass();
    if (ended) {
      await Promise.all(following.values());
      await storePass();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function logsCommand(program: Command): void {
  withCloudOptions(
    withJsonOption(
      program
        .command("logs")
        .summary("print (or follow) the steps' output")
        .description(
          "Print the output of an execution's steps (one stream per host and attempt), or of one step. " +
            "A step's logs reach the store when it ends; --follow also shows running steps live, from their containers, and waits until the execution ends. " +
            "A step that runs on several hosts prefixes each line with its host, as [train/algo-2]. " +
            "--json prints one {step, stream, line} object a line. " +
            "With --cloud (or an ARN), the lines come from each step's training job in CloudWatch Logs (/aws/sagemaker/TrainingJobs).",
        )
        .argument("<execution>", "the execution id, or a unique prefix of it; with --cloud also <pipeline>/<id>, or its ARN")
        .argument("[step]", "only this step (its name, or a unique prefix of it)")
        .option("-f, --follow", "show running steps' output as it comes, until the execution ends"),
    ),
  )
    .addHelpText("after", examples("stepbox logs 4kq2 train", "stepbox logs 4kq2 --follow"))
    .action(
      action(async (executionQuery: string, stepQuery: string | undefined, options: LogsOptions) => {
        if (wantsCloud(options, executionQuery)) {
          const cloud = openCloudSession(options, executionQuery);
          try {
            await cloudLogs(await resolveCloudExecution(cloud, options, executionQuery), stepQuery, options);
            return EXIT.ok;
          } finally {
            cloud.close();
          }
        }
        const session = openSession(options);
        const resolved = await resolveExecution(session, executionQuery);
        const stepNames = stepQuery !== undefined ? [resolveStep(resolved, stepQuery)] : resolved.record.StepNames;
        const printer = new LogPrinter(options.json === true, stepQuery === undefined, await multiHostSteps(session, resolved.record));
        if (options.follow) {
          await follow(session, resolved, stepNames, printer);
          return EXIT.ok;
        }
        let printed = 0;
        for (const step of stepNames) printed += await printStored(session, resolved, step, printer, () => false);
        if (printed === 0 && stepQuery !== undefined) {
          process.stderr.write(`step ${stepNames[0]} has no logs in ${session.store.uri}: ${await noLogsReason(session, resolved, stepNames[0]!)}\n`);
        }
        return EXIT.ok;
      }),
    );
}

/**
 * A cloud execution's logs: each step's training job in CloudWatch Logs, a step at a time, or every
 * step at once, each followed to its end, with --follow.
 */
async function cloudLogs(execution: CloudPipelineExecution, stepQuery: string | undefined, options: LogsOptions): Promise<void> {
  const { PipelineDefinition } = await execution.describeDefinition();
  const names = readDefinition(PipelineDefinition).steps.map((s) => s.name);
  const stepNames = stepQuery !== undefined ? [matchPrefix(stepQuery, names, "step", `execution ${execution.id}`)] : names;
  const multiHost = multiHostStepsOf(PipelineDefinition);
  const printer = new LogPrinter(options.json === true, stepQuery === undefined, multiHost);
  const print = async (step: string): Promise<number> => {
    let printed = 0;
    let stream: string | undefined;
    for await (const event of execution.stepLogs(step, { follow: options.follow === true })) {
      // A host's stream after another's gets a header, as stored streams do (lines followed live interleave instead).
      if (!options.follow && event.stream !== stream && (stream !== undefined || multiHost.has(step))) printer.header(step, event.stream);
      stream = event.stream;
      printer.line(step, hostOfStream(event.stream), event.stream, event.message);
      printed++;
    }
    return printed;
  };
  if (options.follow) {
    await Promise.all(stepNames.map(print));
    return;
  }
  let printed = 0;
  for (const step of stepNames) printed += await print(step);
  if (printed === 0 && stepQuery !== undefined) {
    const ran = (await execution.listSteps()).find((s) => s.StepName === stepNames[0]);
    const why = !ran
      ? "it has not run"
      : !ran.Metadata?.TrainingJob
        ? "it ran no training job"
        : "its training job wrote none yet; add --follow to wait for them";
    process.stderr.write(`step ${stepNames[0]} has no logs in CloudWatch Logs: ${why}\n`);
  }
}
