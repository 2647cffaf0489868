/**
 * The port between the engine and whatever runs a step's containers. The engine hands it one job
 * (one attempt of a function step, shaped as a SageMaker training job) and reads the outcome through
 * it; it knows nothing of where or how the containers run, nor of the /opt/ml layout on disk.
 * Local Docker (runtime/docker/) is one implementation; test support has an in-process one.
 */
import type { Readable } from "node:stream";

export type LogStreamName = "stdout" | "stderr";

/**
 * An S3 channel's listing in brief. A digest rather than every object keeps a job record small for a
 * channel of many objects, and still tells whether any object's path, size or ETag changed since.
 */
export interface ChannelListing {
  readonly objects: number;
  readonly bytes: number;
  /** SHA-256 (hex) of the listing's lines, `<path> <size> <etag>`, sorted and joined by newlines. */
  readonly sha256: string;
}

/** An input channel: a folder on this machine that the job sees, read-only, as channel `name`. */
export interface InputChannel {
  readonly name: string;
  readonly hostPath: string;
  /**
   * Where the folder's content came from: `s3://bucket/prefix` (downloaded into `hostPath`, which is
   * removed after the step) or the `file://` folder itself. Recorded so that `stepbox shell` can stage
   * the channel again; absent in job records written before stepbox kept it.
   */
  readonly uri?: string;
  /** For a channel downloaded from S3: the listing the download was checked against, in brief. */
  readonly listing?: ChannelListing;
}

/**
 * What a job's containers are made of, known before the step's inputs are: enough to create them
 * ahead, while earlier steps run. No secret is part of it: nothing here may let a step forge records.
 */
export interface JobPlan {
  readonly pipelineName: string;
  readonly executionId: string;
  readonly stepName: string;
  /** The training job's name: `<step>-<execution id>`, `-<attempt>` after the first attempt. */
  readonly jobName: string;
  readonly jobArn: string;
  readonly image: string;
  /** Which `step()` definition in the code bundle to call; empty for a job that runs no step function. */
  readonly definitionKey: string;
  /**
   * What the containers run: the image's own entry point when undefined, else this one, with the
   * training job's ContainerArguments (SageMaker runs an image with no entry point given as `<image> train`).
   */
  readonly entrypoint: readonly string[] | undefined;
  readonly containerArguments: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  readonly cpus: number;
  readonly memoryBytes: number;
  /** Whether the containers may reach a network. */
  readonly network: boolean;
  /** Hosts algo-1..N. */
  readonly instanceCount: number;
  /** Host folder whose `algo-<i>` subfolders are /opt/ml/checkpoints; it outlives the attempt. */
  readonly checkpointsDir: string;
  /** The artifact store the execution records into, and the process that runs it: marks for sweeps. */
  readonly storeUri: string;
  readonly owner: string;
  readonly channels: ReadonlyArray<Pick<InputChannel, "name" | "hostPath">>;
  /**
   * What the job may write (model, output, checkpoints) on all hosts together; each host gets an even
   * share (`hostOutputLimitBytes`). Part of the plan, as a host's volume and /tmp are sized when its
   * container is created.
   */
  readonly outputLimitBytes: number;
  /**
   * A cap on the log kept of each host (`JobOutcome.log`): past it, lines are counted, not kept, and
   * a last line says how much was dropped; `onLogLine` still gets every line. Part of the plan, as a
   * container's output is captured from its creation.
   * @default the runtime's own (100 MiB for local Docker)
   */
  readonly logLimitBytes?: number;
}

/** What one host of a job may write under /opt/ml: the job's output limit shared evenly among its hosts. */
export function hostOutputLimitBytes(plan: Pick<JobPlan, "outputLimitBytes" | "instanceCount">): number {
  return Math.floor(plan.outputLimitBytes / plan.instanceCount);
}

/** A step function's inputs, staged into /opt/ml for stepbox's runner, each with its digest. */
export interface FunctionPayloads {
  /** The step's bundled ES module. */
  readonly code: Buffer;
  /** The serialized arguments (serialization/codec.ts). */
  readonly arguments: Buffer;
}

/** One attempt of a Training step as a training job: what its containers run and how they are limited. */
export interface JobSpec extends Omit<JobPlan, "channels"> {
  /** Set for a job that runs a step function (stepbox's runner); undefined for any other image. */
  readonly function: FunctionPayloads | undefined;
  /** The ml.* name written to resourceconfig.json. */
  readonly instanceType: string;
  readonly hyperparameters: Readonly<Record<string, unknown>>;
  readonly channels: readonly InputChannel[];
  readonly maxRuntimeSeconds: number;
  /** Seconds between SIGTERM and SIGKILL when the job is stopped. */
  readonly stopGraceSeconds: number;
  /** Every line the containers print, as it comes. */
  readonly onLogLine: (host: string, line: string, stream: LogStreamName) => void;
  /** Aborting it stops the containers (SIGTERM, then SIGKILL after the grace period). */
  readonly signal: AbortSignal;
  /** Aborting it kills the containers at once (a second Ctrl-C). */
  readonly killSignal: AbortSignal;
}

/**
 * What the store keeps of a job (`job.json`), less its code, arguments and log sink: enough for
 * `stepbox shell` to make the same container again.
 */
export type JobRecord = Pick<
  JobSpec,
  | "pipelineName"
  | "executionId"
  | "stepName"
  | "jobName"
  | "jobArn"
  | "image"
  | "definitionKey"
  | "entrypoint"
  | "containerArguments"
  | "environment"
  | "instanceType"
  | "instanceCount"
  | "cpus"
  | "memoryBytes"
  | "hyperparameters"
  | "channels"
  | "network"
  | "maxRuntimeSeconds"
  | "outputLimitBytes"
> & {
  /**
   * Where the definition said the job's output goes (its evaluated OutputDataConfig.S3OutputPath);
   * absent in job records written before the engine ran definitions.
   */
  readonly outputPath?: string;
};

/**
 * Why a job's containers were stopped before they ended on their own: by the engine for the step's
 * max runtime, a stop of the execution or the output limit; or from outside stepbox (the container
 * engine shutting down or restarting, an operator's `docker stop`), which is not the step's fault.
 */
export type StopReason = "MaxRuntimeExceeded" | "Stopped" | "OutputLimitExceeded" | "StoppedOutside";

/** How one host's container ended. */
export interface HostExit {
  readonly host: string;
  readonly exitCode: number;
  readonly oomKilled: boolean;
  /**
   * Whether its /opt/ml volume (model, output, checkpoints) was full when it ended: the kernel refused
   * its writes past `hostOutputLimitBytes` (ENOSPC). Always false where the runtime holds the limit by
   * watching and stopping the job instead (`stopped: "OutputLimitExceeded"`).
   */
  readonly outOfSpace: boolean;
  /** CloudWatch-like log stream name, `<job>/algo-<i>-<epoch>`. */
  readonly logStream: string;
  readonly lastLogLines: readonly string[];
}

/**
 * How a job ended and what it left. Everything a step leaves is hostile input: each read is bounded,
 * takes only regular files and never follows a link, and fails with a StepOutputError (naming the
 * file and what is wrong) rather than hang or read without limit. Valid only inside `collect`.
 */
export interface JobOutcome {
  /** algo-1 first. */
  readonly hosts: readonly HostExit[];
  /** Why the containers were stopped, when they were. */
  readonly stopped: StopReason | undefined;
  /** The host whose container failed first, when one did; the others were stopped because of it. */
  readonly firstFailedHost: string | undefined;
  /** What the job had written (model, output, checkpoints) when it ended. */
  readonly outputBytes: number;
  readonly startedAt: Date;
  readonly endedAt: Date;
  /** The serialized result the runner left on algo-1, its digest checked; undefined when it left none. */
  result(): Promise<Buffer | undefined>;
  /** The serialized error the runner left on a host, its digest checked; undefined when it left none. */
  error(host: string): Promise<Buffer | undefined>;
  /** The failure text a host left (SageMaker's /opt/ml/output/failure); undefined when it left none. */
  failure(host: string): Promise<string | undefined>;
  /**
   * A gzipped tar of what the hosts left as model (/opt/ml/model) or output data (/opt/ml/output/data),
   * merged across hosts as SageMaker does; undefined when they left nothing. Links are stored as links.
   */
  archive(kind: "model" | "output"): Promise<Readable | undefined>;
  /** A host's whole log, as the store keeps it, and its size in bytes. */
  log(host: string): { readonly bytes: number; open(): Readable };
}

/**
 * A job's containers created ahead by `prepare`: handed back to `run`, or discarded. One that `run`
 * never gets must be discarded, so that what it made is removed.
 */
export interface PreparedJob {
  /** Removes what was made, in the background, unless `run` took it; safe to call more than once. */
  discard(): void;
}

/** All the engine asks of whatever runs its steps' containers. */
export interface StepRuntime {
  /**
   * Runs the job to its end (in what `prepare` made for it when the plan is the same, else in new
   * containers) and hands its outcome to `collect`; what the job left is removed once `collect` settles.
   * Rejects only when the runtime failed around the job (a ContainerEngineError), never for the
   * step's own failure, which the outcome tells.
   */
  run<T>(job: JobSpec, collect: (outcome: JobOutcome) => Promise<T>, prepared?: PreparedJob): Promise<T>;
  /** Makes ready (creates, and may start) the containers of a step that may start next; none of the step's code runs before `run`. */
  prepare(plan: JobPlan): PreparedJob;
  /** Settles once everything made for the execution's steps (finished or discarded) is removed. */
  drain(executionId: string): Promise<void>;
}
