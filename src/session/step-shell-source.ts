import { stat } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { IntegrityError, NotFoundError, StepboxError, UnknownStepError, ValidationError } from "../errors.js";
import { checkedChannel, type ChannelSnapshot } from "../engine/input-channels.js";
import { isTerminal } from "../store/step-state.js";
import { parseExecutionArn } from "../naming/sagemaker-arns.js";
import type { ChannelListing, InputChannel, JobRecord } from "../runtime/step-runtime.js";
import { deriveExecutionKey, verifyPayload } from "../serialization/signing.js";
import { layout } from "../store/layout.js";
import type { LocalPipelineSession } from "./local-pipeline-session.js";
import { readJobRecord } from "../store/job-records.js";

/** What a shell into a step is made from: the step's job record, and its code and arguments, verified. */
export interface StepShellSource {
  readonly job: JobRecord;
  readonly code: Buffer;
  readonly arguments: Buffer;
  /** The step's input channels as they are now, in its order, to stage for the shell. */
  readonly channels: readonly ChannelSnapshot[];
  /** One warning for each S3 channel whose objects changed since the step ran. */
  readonly changed: readonly string[];
}

/**
 * Reads back from the store what a step's container was given, and takes stock of its channels (an S3
 * channel is listed again, to be downloaded again). Refuses, saying why and what to open instead, a
 * step that never started a container in that execution, or whose channel data is gone.
 */
export async function readStepShellSource(
  session: LocalPipelineSession,
  pipelineName: string,
  executionId: string,
  stepName: string,
): Promise<StepShellSource> {
  const execution = await session.records.readExecution(pipelineName, executionId);
  if (!execution.StepNames.includes(stepName)) throw new UnknownStepError(stepName, execution.StepNames);
  const step = await session.records.readStep(pipelineName, executionId, stepName);
  if (step && !isTerminal(step.StepStatus)) {
    // The shell's container carries the execution's labels: were this process to die while the run goes on, the orphan sweep would fail the run.
    throw new ValidationError(`step "${stepName}" of execution ${executionId} is still ${step.StepStatus}`, {
      hint: "wait for it to end, then open the shell",
    });
  }
  const job = await readJobRecord(session.store, pipelineName, executionId, stepName);
  if (!job) {
    const ran = await stepsWithJobs(session, pipelineName, executionId, execution.StepNames);
    const others = { hint: ran.length > 0 ? `steps of it that ran a container: ${ran.join(", ")}` : "no step of this execution ran a container" };
    const reused = step?.CacheHitResult ?? step?.SelectiveExecutionResult;
    if (!step)
      throw new ValidationError(
        `step "${stepName}" never ran in execution ${executionId}: the execution ended ${execution.PipelineExecutionStatus} first`,
        others,
      );
    if (reused) {
      throw new ValidationError(`step "${stepName}" did not run in execution ${executionId}: its result came from ${reused.SourcePipelineExecutionArn}`, {
        hint: `open the shell on that execution: stepbox shell ${parseExecutionArn(reused.SourcePipelineExecutionArn).executionId} ${stepName}`,
      });
    }
    if (!step.Metadata.TrainingJob) throw new ValidationError(`step "${stepName}" is a condition or fail step: it runs no container`, others);
    throw new ValidationError(`step "${stepName}" ended before its container started, so there is none to open (${step.FailureReason ?? step.StepStatus})`, {
      hint: "fix what the reason names (its arguments or its module) and run the pipeline again",
    });
  }
  const key = deriveExecutionKey(await session.masterKey(), executionId);
  const functionKeys = layout.function(pipelineName, executionId, stepName);
  const argumentKeys = layout.payload(pipelineName, executionId, stepName, "arguments");
  const [code, codeMetadata, argumentsPayload, argumentsMetadata] = (await Promise.all(
    [functionKeys.code, functionKeys.metadata, argumentKeys.payload, argumentKeys.metadata].map((k) => readStored(session, k, stepName)),
  )) as [Buffer, Buffer, Buffer, Buffer];
  verifyWithHint(code, codeMetadata, key, `the code of step "${stepName}" in execution ${executionId}`);
  verifyWithHint(argumentsPayload, argumentsMetadata, key, `the arguments of step "${stepName}" in execution ${executionId}`);
  const { channels, changed } = await currentChannels(job);
  return { job, code, arguments: argumentsPayload, channels, changed };
}

async function stepsWithJobs(session: LocalPipelineSession, pipeline: string, execution: string, steps: readonly string[]): Promise<string[]> {
  const found = await Promise.all(steps.map((s) => session.store.exists(layout.job(pipeline, execution, s))));
  return steps.filter((_, i) => found[i]);
}

async function readStored(session: LocalPipelineSession, key: string, stepName: string): Promise<Buffer> {
  try {
    return await session.store.get(key);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new StepboxError("NOT_FOUND", `${key}, which the container of step "${stepName}" was given, is missing from ${session.store.uri}`, {
      cause: error,
      hint: "it was removed from the store; run the pipeline again",
    });
  }
}

/** Only the engine holds the key: what the store keeps is verified here, before it goes into the shell's container. */
function verifyWithHint(payload: Buffer, metadata: Buffer, key: Buffer, what: string): void {
  try {
    verifyPayload(payload, JSON.parse(metadata.toString("utf8")) as unknown, key, what);
  } catch (cause) {
    throw new IntegrityError(what, {
      cause,
      hint: "open the shell with the secret the execution ran with (the session's secret option or STEPBOX_SECRET), from a store nobody altered",
    });
  }
}

/**
 * The step's channels as they are now, through the engine's own checks. A folder must still exist. An
 * S3 channel is listed again: the step's download was removed when it ended, so the shell downloads
 * the objects again, and its listing, compared with the one the step's download was checked against,
 * tells whether they are still what the step saw.
 */
async function currentChannels(job: JobRecord): Promise<{ channels: ChannelSnapshot[]; changed: string[] }> {
  const channels: ChannelSnapshot[] = [];
  const changed: string[] = [];
  for (const channel of job.channels) {
    if (!channel.uri?.startsWith("s3://")) await requireFolder(job, channel);
    // A record from before channels kept their URI can only name a folder that still exists: the one mounted.
    const uri = channel.uri ?? pathToFileURL(channel.hostPath).href;
    const where = `step "${job.stepName}" of execution ${job.executionId}: input channel "${channel.name}"`;
    const snapshot = await (await checkedChannel(where, channel.name, uri)).snapshot();
    const change = channel.listing && snapshot.listing ? listingChange(channel.listing, snapshot.listing) : undefined;
    // A warning, not a refusal: the code, arguments and config are still the step's, and the new data may be what the user came to try.
    if (change)
      changed.push(
        `warning: input channel "${channel.name}" (${uri}) changed since the step ran (${change}): the shell has the objects as they are now, not as the step saw them`,
      );
    channels.push(snapshot);
  }
  return { channels, changed };
}

/** How two listings of an S3 channel differ, or undefined when they are the same. */
function listingChange(then: ChannelListing, now: ChannelListing): string | undefined {
  if (then.sha256 === now.sha256) return undefined;
  const brief = (l: ChannelListing): string => `${l.objects} object(s), ${l.bytes} bytes`;
  return brief(then) === brief(now) ? `${brief(now)} as then, but an object was rewritten or renamed` : `${brief(then)} then, ${brief(now)} now`;
}

async function requireFolder(job: JobRecord, channel: InputChannel): Promise<void> {
  const info = await stat(channel.hostPath).catch(() => undefined);
  if (info?.isDirectory()) return;
  const what = `input channel "${channel.name}" of step "${job.stepName}"`;
  if (channel.uri !== undefined) {
    throw new ValidationError(`${what} is the folder ${channel.hostPath}, which no longer exists`, { hint: "restore the folder, or run the pipeline again" });
  }
  throw new ValidationError(`${what} was the folder ${channel.hostPath}, which no longer exists`, {
    hint:
      "restore the folder, or run the pipeline again: this job record predates stepbox keeping where a channel came from, " +
      "so a channel staged from S3 (removed once its step ended) cannot be downloaded again; a new execution's step can be opened",
  });
}
