/**
 * What `run` and `retry` share: a session whose engine messages and step output go through the
 * progress display, and the end of a run: its summary, each failed step's reason, the exit code.
 */
import type { LocalPipelineSession } from "../session/local-pipeline-session.js";
import type { PipelineExecution, PipelineExecutionDescription, PipelineExecutionStep } from "../session/pipeline-execution.js";
import type { Pipeline } from "../session/pipeline.js";
import { cliLogger } from "./engine-log.js";
import { EXIT } from "./errors.js";
import { LiveArea } from "./live-area.js";
import { stopOnSignals } from "./interrupts.js";
import { elapsed } from "./output.js";
import type { LoadedPipeline } from "./load-pipeline.js";
import { recordPipelineFile } from "./pipeline-file-record.js";
import { RunProgress } from "./run-progress.js";
import { openSession, type ReadOptions } from "./session.js";
import { toJson } from "./output.js";

export const RUN_JSON_HELP =
  "when the execution ends, print DescribePipelineExecution's answer with its PipelineExecutionSteps as JSON; progress goes to stderr";

export interface RunSession {
  readonly session: LocalPipelineSession;
  readonly progress: RunProgress;
  /** ` --store <uri>` when one was given, for the commands the summary suggests. */
  readonly storeFlag: string;
  /** Where the lines for a person go: stdout, or stderr when stdout carries JSON. */
  readonly text: NodeJS.WriteStream;
  readonly json: boolean;
}

export function openRunSession(options: ReadOptions): RunSession {
  stopOnSignals();
  const json = options.json === true;
  // With --json, stdout holds the JSON alone, and everything a person reads goes to stderr.
  const text = json ? process.stderr : process.stdout;
  const progress = new RunProgress(new LiveArea(text, process.stderr));
  const session = openSession(options, {
    logger: cliLogger(progress, options.verbose === true),
    // The progress display draws the steps' lines from the execution's events, in order with the rest.
    onLog: () => undefined,
  });
  return { session, progress, storeFlag: options.store !== undefined ? ` --store ${options.store}` : "", text, json };
}

/**
 * Runs `prepare` (loading the pipeline file, reading its parameters) while the session's runtime
 * starts: connecting to Docker, sweeping what killed processes left, checking the image and loading
 * the key do not depend on the file, and go on while tsx compiles it in its own thread. A failed start
 * is not reported here: the execution's start asks again and fails with it then, so a broken file is
 * still the error a person sees. When `prepare` fails, the start is let finish first, so the command
 * never exits in the middle of a sweep.
 */
export async function whileRuntimeStarts<T>(session: LocalPipelineSession, prepare: () => Promise<T>): Promise<T> {
  const starting = session.runtime().then(
    () => undefined,
    () => undefined,
  );
  try {
    return await prepare();
  } catch (error) {
    await starting;
    throw error;
  }
}

/**
 * Starts an execution, records which file its pipeline came from (for a later retry), shows its
 * progress until it ends and prints how it ended (and, with --json, the execution and its steps as
 * JSON). Returns the exit code: 0 only when it succeeded.
 */
export async function runToEnd(
  { session, progress, storeFlag, text, json }: RunSession,
  loaded: LoadedPipeline,
  pipeline: Pipeline,
  start: () => Promise<PipelineExecution>,
): Promise<number> {
  const execution = await start();
  // Taken at once: the events from here on are kept until the display reads them.
  const events = execution.events();
  let description: Awaited<ReturnType<typeof execution.wait>>;
  try {
    progress.message(`execution ${execution.id} of pipeline ${pipeline.name} started (store ${session.store.uri})`, "stdout");
    await recordPipelineFile(session, pipeline.name, execution.id, { File: loaded.file, Export: loaded.exportName });
    const { StepNames } = await session.records.readExecution(pipeline.name, execution.id);
    description = await progress.follow(execution, events, StepNames);
  } catch (error) {
    // The command is about to exit: the execution it started must not outlive it, containers running.
    await execution.stop();
    await execution.wait().catch(() => undefined);
    throw error;
  }
  const status = description.PipelineExecutionStatus;
  const steps = await execution.listSteps();
  text.write(`execution ${execution.id} ${status} in ${elapsed(description.CreationTime, description.LastModifiedTime)}\n`);
  if (status !== "Succeeded") {
    explainFailure(text, { ref: execution.id, flags: storeFlag, hasLogs: (s) => (s.Metadata.TrainingJob?.LogStreams?.length ?? 0) > 0 }, description, steps);
  }
  if (json) process.stdout.write(`${toJson({ ...description, PipelineExecutionSteps: steps })}\n`);
  return status === "Succeeded" ? EXIT.ok : EXIT.failed;
}

/** How the commands a failed run suggests name its execution. */
export interface FailureNext {
  /** The execution as the commands take it: its id, or a cloud execution's ARN. */
  readonly ref: string;
  /** Options the commands need too (` --store <uri>`). */
  readonly flags: string;
  /** Whether a step ran containers, so that it has logs to look at (a FailStep or a condition has none). */
  readonly hasLogs: (step: PipelineExecutionStep) => boolean;
}

/** Each failed or stopped step's reason, and the commands to look further or to retry. */
export function explainFailure(
  out: NodeJS.WritableStream,
  next: FailureNext,
  description: Pick<PipelineExecutionDescription, "PipelineExecutionStatus" | "FailureReason">,
  steps: readonly PipelineExecutionStep[],
): void {
  const status = description.PipelineExecutionStatus;
  const failed = steps.filter((s) => s.StepStatus === "Failed" || s.StepStatus === "Stopped").reverse();
  for (const step of failed) {
    // A stop's reason starts with "Stopped:" already, as SageMaker's do: say it once.
    const reason = (step.FailureReason ?? "no reason recorded").replace(new RegExp(`^${step.StepStatus}: `), "");
    out.write(`step ${step.StepName} ${step.StepStatus}: ${reason.replaceAll("\n", "\n    ")}\n`);
  }
  if (failed.length === 0 && description.FailureReason) out.write(`${description.FailureReason}\n`);
  const withLogs = failed.find(next.hasLogs);
  const commands = [
    ...(withLogs ? [`see its output with: stepbox logs ${next.ref} ${withLogs.StepName}${next.flags}`] : []),
    ...(status === "Failed" ? [`run the failed steps again with: stepbox retry ${next.ref}${next.flags}`] : []),
  ];
  if (commands.length > 0) out.write(`${commands.join("; ")}\n`);
}
