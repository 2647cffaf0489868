import { CONTAINER_ENV } from "../container/contract.js";
import { ContainerEngineError, IntegrityError, StepboxError, type RemoteErrorInfo } from "../errors.js";
import { SageMakerJobExceptionType } from "../dsl/retry-policies.js";
import { deserialize, toRemoteErrorInfo } from "../serialization/codec.js";
import { JOB_PUBLIC_KEY_ENV } from "../serialization/asymmetric-signing.js";
import { signPayload } from "../serialization/signing.js";
import { trainingJobArn, trainingJobName } from "../naming/sagemaker-arns.js";
import type { Logger } from "../logging/logger.js";
import type { FunctionJobArguments } from "../definition/function-job.js";
import {
  hostOutputLimitBytes,
  type FunctionPayloads,
  type InputChannel,
  type JobOutcome,
  type JobPlan,
  type JobRecord,
  type JobSpec,
  type PreparedJob,
  type StepRuntime,
} from "../runtime/step-runtime.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { writeJobRecord } from "../store/job-records.js";
import { layout } from "../store/layout.js";
import { failureReason, type StatusTransition, type StepFailure, type StepRecord } from "../store/records.js";
import { functionInputs } from "./function-inputs.js";
import { stageChannels, type ChannelSnapshot, type ChannelSource } from "./input-channels.js";
import type { StoreUris } from "./store-uris.js";
import type { TrainingJob } from "./training-job.js";
import { copyResult, type PayloadSeal, writePayload, writeResultsJson } from "./payloads.js";
import { cacheKey, cacheKeyParts, type CacheKeyParts, type StepCache } from "./step-cache.js";
import type { StepResources } from "./step-resources.js";
import { counted, trackTransfer, type TransferEvent, type TransferReport } from "./transfer-progress.js";

const MiB = 1024 ** 2;

type TrainingJobMetadata = NonNullable<StepRecord["Metadata"]["TrainingJob"]>;

export interface TrainingStepContext {
  readonly pipelineName: string;
  readonly executionId: string;
  readonly executionArn: string;
  readonly store: ArtifactStore;
  /** The engine's log; the step's transfers note their start and end in it. */
  readonly logger: Logger;
  readonly runtime: StepRuntime;
  /** The local runtime image, which runs function jobs. */
  readonly image: string;
  /** Signs what the engine writes into the store; it never reaches a step's containers. */
  readonly key: Buffer;
  /** Vouches for the functions and arguments the session stored for the pipeline's definition. */
  readonly buildKey: Buffer;
  /** Where the definition's S3 URIs are in the store. */
  readonly uris: StoreUris;
  readonly owner: string;
  readonly stopGraceSeconds: number;
  /** A cap on what any step may write under /opt/ml, below its volumeSize. */
  readonly outputLimitBytes: number | undefined;
  /** A cap on the log the store keeps of each host; the runtime's default when undefined. */
  readonly logLimitBytes: number | undefined;
  /** The most seconds storing what a step left may take; past it the step fails. */
  readonly collectTimeoutSeconds: number;
  readonly signal: AbortSignal;
  readonly killSignal: AbortSignal;
  /** The step's resources and input channels, checked before the execution started. */
  readonly resources: StepResources;
  readonly channels: readonly ChannelSource[];
  /** Host folder kept for the step's /opt/ml/checkpoints across its attempts. */
  readonly checkpointsDir: string;
  /** 1 for the first attempt; later attempts get their own job name and logs. */
  readonly attempt: number;
  /** The runtime image's id, part of the cache key. */
  readonly imageId: string;
  readonly cache: StepCache;
  /** The key an earlier execution's payloads are signed with, to reuse its result. */
  readonly keyFor: (executionId: string) => Buffer;
  /** How a step's results are sealed under a key: the digest for a client-signed step, else the HMAC. */
  readonly sealOf: (stepName: string, key: Buffer) => PayloadSeal;
  /** A line the step's container printed; `host` only when the step runs on several. */
  readonly onLogLine: (step: string, host: string | undefined, line: string, stream: "stdout" | "stderr") => void;
  /** The step's transfers (input data down, artifacts up) as they move. */
  readonly onTransfer: (event: TransferEvent) => void;
  /** Called with the step's training-job metadata as it changes, for the step's record. */
  readonly onProgress: (trainingJob: TrainingJobMetadata) => void;
  /** The step's containers, created while earlier steps ran, when they were. */
  readonly prepared?: PreparedJob;
}

type PlanContext = Pick<
  TrainingStepContext,
  | "pipelineName"
  | "executionId"
  | "executionArn"
  | "image"
  | "store"
  | "owner"
  | "resources"
  | "checkpointsDir"
  | "attempt"
  | "logLimitBytes"
  | "outputLimitBytes"
>;

export interface TrainingStepOutcome {
  readonly status: "Succeeded" | "Failed" | "Stopped";
  /** Why it failed or was stopped, as data: its kind, exit code, OOM, and the job exception type retry policies match. */
  readonly failure?: StepFailure;
  /** The step function's own error, when it threw. */
  readonly error?: RemoteErrorInfo;
  readonly trainingJob: TrainingJobMetadata;
  readonly cacheHit?: { SourcePipelineExecutionArn: string };
  readonly cacheMissReason?: string;
}

/** What the step's containers are made of in this attempt: all but its code, arguments and log sink. */
function jobPlan(job: TrainingJob, ctx: PlanContext, channels: ReadonlyArray<Pick<InputChannel, "name" | "hostPath">>): JobPlan {
  const jobName = trainingJobName(job.stepName, ctx.executionId, ctx.attempt);
  // The runner learns which step() of the bundle to call from its environment, as the definition sets it.
  const { [CONTAINER_ENV.definitionKey]: definitionKey, ...environment } = job.environment;
  return {
    pipelineName: ctx.pipelineName,
    executionId: ctx.executionId,
    stepName: job.stepName,
    jobName,
    jobArn: trainingJobArn(jobName),
    // A step function runs in the local runtime image, whatever image the definition names for the cloud.
    image: job.function ? ctx.image : job.image,
    definitionKey: job.function ? (definitionKey ?? "") : "",
    entrypoint: job.entrypoint,
    containerArguments: job.containerArguments,
    environment: job.function ? environment : job.environment,
    cpus: ctx.resources.cpus,
    memoryBytes: ctx.resources.memoryBytes,
    network: job.network,
    storeUri: ctx.store.uri,
    owner: ctx.owner,
    instanceCount: job.instanceCount,
    checkpointsDir: ctx.checkpointsDir,
    channels,
    // The smaller of the step's volume and the session's cap.
    outputLimitBytes: Math.min(job.volumeSizeInGB * 1024 ** 3, ctx.outputLimitBytes ?? Infinity),
    ...(ctx.logLimitBytes !== undefined ? { logLimitBytes: ctx.logLimitBytes } : {}),
  };
}

/**
 * The plan of the step's containers as far as it is known before the step starts, for the runtime to
 * create them ahead; undefined when a channel's host folder is only known once it is downloaded.
 */
export function aheadPlan(job: TrainingJob, ctx: PlanContext & Pick<TrainingStepContext, "channels">): JobPlan | undefined {
  const mounts: Array<Pick<InputChannel, "name" | "hostPath">> = [];
  for (const c of ctx.channels) {
    if (c.mountPath === undefined) return undefined;
    mounts.push({ name: c.name, hostPath: c.mountPath });
  }
  return jobPlan(job, ctx, mounts);
}

/** What the store keeps of the job (`job.json`): all but its code, arguments, log sink and signals. */
function jobRecord(job: JobSpec, outputPath: string): JobRecord {
  const {
    pipelineName,
    executionId,
    stepName,
    jobName,
    jobArn,
    image,
    definitionKey,
    entrypoint,
    containerArguments,
    environment,
    instanceType,
    instanceCount,
  } = job;
  const { cpus, memoryBytes, hyperparameters, channels, network, maxRuntimeSeconds, outputLimitBytes } = job;
  return {
    pipelineName,
    executionId,
    stepName,
    jobName,
    jobArn,
    image,
    definitionKey,
    entrypoint,
    containerArguments,
    environment,
    instanceType,
    instanceCount,
    cpus,
    memoryBytes,
    hyperparameters,
    channels: channels.map(({ name, hostPath, uri, listing }) => ({ name, hostPath, uri, listing })),
    network,
    maxRuntimeSeconds,
    outputLimitBytes,
    outputPath,
  };
}

/** Tracks the training job's statuses, as DescribeTrainingJob's SecondaryStatusTransitions show them. */
class TrainingJobStatus {
  readonly metadata: TrainingJobMetadata;
  readonly #transitions: StatusTransition[] = [];
  readonly #onChange: (metadata: TrainingJobMetadata) => void;

  constructor(name: string, arn: string, onChange: (metadata: TrainingJobMetadata) => void) {
    this.metadata = { Arn: arn, TrainingJobName: name, TrainingJobStatus: "InProgress", SecondaryStatus: "Starting", SecondaryStatusTransitions: [] };
    this.#onChange = onChange;
  }

  secondary(status: string, message: string): void {
    const now = new Date().toISOString();
    const last = this.#transitions.at(-1);
    if (last && !last.EndTime) last.EndTime = now;
    this.#transitions.push({ Status: status, StartTime: now, StatusMessage: message });
    this.metadata.SecondaryStatus = status;
    this.metadata.SecondaryStatusTransitions = this.#transitions.map((t) => ({ ...t }));
    this.#onChange({ ...this.metadata });
  }

  end(jobStatus: "Completed" | "Failed" | "Stopped", secondary: string, message: string): TrainingJobMetadata {
    this.secondary(secondary, message);
    const last = this.#transitions.at(-1)!;
    last.EndTime = last.StartTime;
    this.metadata.TrainingJobStatus = jobStatus;
    this.metadata.SecondaryStatusTransitions = this.#transitions.map((t) => ({ ...t }));
    return { ...this.metadata };
  }
}

/** A Training step as one attempt runs it: its evaluated job, and its step-level cache settings. */
export interface TrainingStepRun {
  readonly name: string;
  readonly job: TrainingJob;
  readonly cacheConfig: { readonly Enabled: boolean; readonly ExpireAfter?: string } | undefined;
}

/** Runs one attempt of a Training step in its containers and stores what it produced. */
export async function executeTrainingStep(step: TrainingStepRun, ctx: TrainingStepContext): Promise<TrainingStepOutcome> {
  const jobName = trainingJobName(step.name, ctx.executionId, ctx.attempt);
  const job = new TrainingJobStatus(jobName, trainingJobArn(jobName), ctx.onProgress);
  let cacheMissReason: string | undefined;
  const finish: Finish = (status, secondary, failure, error) => {
    const jobStatus = status === "Succeeded" ? "Completed" : status;
    return {
      status,
      trainingJob: job.end(jobStatus, secondary, failure ? failureReason(failure) : "Training job completed"),
      ...(failure ? { failure } : {}),
      ...(error ? { error } : {}),
      ...(cacheMissReason ? { cacheMissReason } : {}),
    };
  };

  job.secondary("Starting", "Preparing the step's code and arguments");
  const fn = step.job.function;
  let payloads: FunctionPayloads | undefined;
  let snapshots: ChannelSnapshot[];
  try {
    payloads = fn
      ? await functionInputs(fn, {
          store: ctx.store,
          uris: ctx.uris,
          buildKey: ctx.buildKey,
          resultCheck: (producer) => ctx.sealOf(producer, ctx.key),
          publicKey: step.job.environment[JOB_PUBLIC_KEY_ENV],
        })
      : undefined;
    snapshots = await Promise.all(ctx.channels.map((c) => c.snapshot()));
  } catch (error) {
    const info = toRemoteErrorInfo(error);
    return finish("Failed", "Failed", { kind: "ClientError", message: info.message }, info);
  }

  const caching = step.cacheConfig?.Enabled === true;
  let cacheParts: CacheKeyParts | undefined;
  if (caching) {
    // A job of another image is its image, entry point and arguments; a step function's, its code and arguments.
    const code = payloads?.code ?? Buffer.from(JSON.stringify([step.job.image, step.job.entrypoint ?? null]));
    const args = payloads?.arguments ?? Buffer.from(JSON.stringify(step.job.containerArguments));
    cacheParts = await cacheKeyParts(step.job, ctx.resources, code, args, ctx.imageId, snapshots);
    const key = cacheKey(cacheParts);
    const hit = ctx.attempt === 1 ? await reuseCached(step, ctx, key) : undefined;
    if (hit) return hit;
    cacheMissReason = await ctx.cache.missReason(step.name, cacheParts, key);
  }

  // Separate objects, each synced on its own: written together, the syncs overlap. The job gets its
  // own copies of the code and arguments, so the writes go on while it runs; the outcome waits for
  // them, and a write that fails fails the step as it always did. The execution keeps its own copy of
  // what ran (the stored function, and the arguments resolved), for `stepbox shell` and for readers.
  let storeFailure: unknown;
  const stored = (fn && payloads ? storeWhatRan(step, fn, payloads, ctx) : Promise.resolve()).catch((error: unknown) => {
    storeFailure = error;
    throw error;
  });
  stored.catch(() => undefined);

  const o = step.job;
  job.secondary("Downloading", "Downloading input data");
  let staged: Awaited<ReturnType<typeof stageChannels>>;
  const downloadBytes = snapshots.reduce((sum, s) => sum + s.downloadBytes, 0);
  try {
    // Local folders are mounted, not copied: only a step with bytes to download has a transfer to show.
    staged =
      downloadBytes === 0
        ? await stageChannels(snapshots, ctx.signal)
        : await trackTransfer(transferReport(ctx), { step: step.name, direction: "download", what: "input data", totalBytes: downloadBytes }, (count) =>
            stageChannels(snapshots, ctx.signal, count),
          );
  } catch (error) {
    await stored;
    if (ctx.signal.aborted) {
      return finish("Stopped", "Stopped", { kind: "Stopped", message: `the execution was stopped while step "${step.name}" downloaded its input data` });
    }
    return finish("Failed", "Failed", { kind: "ClientError", message: `Data download failed: ${toRemoteErrorInfo(error).message}` });
  }
  job.secondary("Training", "Training in progress");
  const spec: JobSpec = {
    ...jobPlan(step.job, ctx, staged.channels),
    function: payloads,
    instanceType: ctx.resources.instanceType,
    hyperparameters: o.hyperparameters,
    channels: staged.channels,
    maxRuntimeSeconds: o.maxRuntimeSeconds,
    stopGraceSeconds: ctx.stopGraceSeconds,
    onLogLine: (host, line, stream) => ctx.onLogLine(step.name, o.instanceCount > 1 ? host : undefined, line, stream),
    signal: ctx.signal,
    killSignal: ctx.killSignal,
  };
  // The job's record is for readers after the start (`stepbox shell`): it is written while the job
  // runs, and in before its outcome is; a write that fails fails the step.
  const recorded = writeJobRecord(ctx.store, jobRecord(spec, step.job.outputPath));
  recorded.catch(() => undefined);
  const outcome = await ctx.runtime
    .run(
      spec,
      async (ended) => {
        await recorded;
        await stored;
        job.secondary("Uploading", "Uploading generated training model");
        try {
          await storeArtifacts(step, ctx, ended, job.metadata);
          return await judge(step, ctx, ended, spec, finish);
        } catch (error) {
          // What the step left cannot be read as data or packed as an archive: the step's fault, a
          // ClientError that no platform retry policy retries.
          if (error instanceof StepboxError && error.code === STEP_OUTPUT) {
            return finish("Failed", "Failed", { kind: "ClientError", message: error.detail }, toRemoteErrorInfo(error));
          }
          throw error;
        }
      },
      ctx.prepared,
    )
    .catch(async (error: unknown) => {
      // A failed store write is the step's failure, as it was when the writes came first.
      await stored.catch(() => undefined);
      if (storeFailure !== undefined) throw storeFailure;
      // The engine failed around the job: a fault of the platform, not of the step's code.
      const info = toRemoteErrorInfo(error);
      const refused = error instanceof ContainerEngineError && error.reason === "refused";
      return finish("Failed", "Failed", {
        kind: "InternalServerError",
        message: info.message,
        exceptionType: refused ? SageMakerJobExceptionType.CAPACITY_ERROR : SageMakerJobExceptionType.INTERNAL_ERROR,
      });
    })
    .finally(() => staged.release());
  if (outcome.status === "Succeeded" && caching && cacheParts) {
    await ctx.cache.record(step.name, {
      Key: cacheKey(cacheParts),
      Parts: cacheParts,
      SourcePipelineExecutionId: ctx.executionId,
      SourcePipelineExecutionArn: ctx.executionArn,
      CreationTime: new Date().toISOString(),
    });
  }
  return outcome;
}

/**
 * Which function ran, as `manifest.json` says it: its definition key, and from that key (module
 * identity `<project path>@<digest>#<name>#<n>`) its module's path in its project and its name.
 */
function functionManifest(definitionKey: string, fn: FunctionJobArguments): Record<string, string> {
  const [module = "", name = ""] = definitionKey.split("#");
  return { DefinitionKey: definitionKey, SourceFile: module.replace(/@[0-9a-f]+$/, ""), Function: name, S3BaseUri: fn.s3BaseUri, FuncStepS3Dir: fn.buildDir };
}

/** The execution's copy of a step function's code and resolved arguments, beside its record. */
async function storeWhatRan(step: TrainingStepRun, fn: FunctionJobArguments, payloads: FunctionPayloads, ctx: TrainingStepContext): Promise<void> {
  const keys = layout.function(ctx.pipelineName, ctx.executionId, step.name);
  await Promise.all([
    ctx.store.put(keys.code, payloads.code),
    ctx.store.put(keys.metadata, JSON.stringify(signPayload(payloads.code, ctx.key))),
    ctx.store.put(keys.manifest, JSON.stringify(functionManifest(step.job.environment[CONTAINER_ENV.definitionKey] ?? "", fn))),
    writePayload(ctx.store, { pipeline: ctx.pipelineName, execution: ctx.executionId, step: step.name, kind: "arguments" }, payloads.arguments, {
      hmacKey: ctx.key,
    }),
  ]);
}

/** A cache hit: the earlier result, verified under its own execution's key, signed again under this one's. */
async function reuseCached(step: TrainingStepRun, ctx: TrainingStepContext, key: string): Promise<TrainingStepOutcome | undefined> {
  const entry = await ctx.cache.lookup(step.name, key, step.cacheConfig?.ExpireAfter);
  if (!entry) return undefined;
  try {
    await copyResult(
      ctx.store,
      { pipeline: ctx.pipelineName, execution: entry.SourcePipelineExecutionId, step: step.name },
      ctx.sealOf(step.name, ctx.keyFor(entry.SourcePipelineExecutionId)),
      { pipeline: ctx.pipelineName, execution: ctx.executionId, step: step.name },
      ctx.sealOf(step.name, ctx.key),
      { json: step.job.function?.serializeOutputToJson === true },
    );
  } catch {
    // The source's result is gone or damaged: run the step instead.
    return undefined;
  }
  const sourceJob = trainingJobName(step.name, entry.SourcePipelineExecutionId);
  return {
    status: "Succeeded",
    trainingJob: { Arn: trainingJobArn(sourceJob), TrainingJobName: sourceJob, TrainingJobStatus: "Completed", SecondaryStatus: "Completed" },
    cacheHit: { SourcePipelineExecutionArn: entry.SourcePipelineExecutionArn },
  };
}

/** Logs of every host, then model.tar.gz and output.tar.gz merged across hosts, as SageMaker does. */
async function storeArtifacts(step: TrainingStepRun, ctx: TrainingStepContext, outcome: JobOutcome, metadata: TrainingJobMetadata): Promise<void> {
  const logs = outcome.hosts.map((h) => ({ name: h.logStream, log: outcome.log(h.host) }));
  const logBytes = logs.reduce((sum, l) => sum + l.log.bytes, 0);
  await trackTransfer(transferReport(ctx), { step: step.name, direction: "upload", what: "logs", totalBytes: logBytes }, async (count) => {
    for (const { name, log } of logs) {
      const key = layout.logStream(ctx.pipelineName, ctx.executionId, step.name, name);
      await ctx.store.putStream(key, counted(log.open(), count));
    }
  });
  metadata.LogStreams = outcome.hosts.map((h) => h.logStream);
  if (outcome.stopped === "OutputLimitExceeded") return;
  // The logs are capped; the archives are what a step can make slow to pack (millions of files).
  const deadline = Date.now() + ctx.collectTimeoutSeconds * 1000;
  const model = await storeArchive(ctx, step, outcome, "model", deadline);
  if (model) metadata.ModelArtifacts = { S3ModelArtifacts: model };
  const data = await storeArchive(ctx, step, outcome, "output", deadline);
  if (data) metadata.OutputDataArtifacts = data;
}

const ARCHIVES = {
  model: { file: "model.tar.gz", folder: "/opt/ml/model" },
  output: { file: "output.tar.gz", folder: "/opt/ml/output/data" },
} as const;

/** The code of an error in what a step left (StepOutputError's, and an archive that cannot be packed). */
const STEP_OUTPUT = "STEP_OUTPUT";

/**
 * Streams the hosts' merged archive of one kind into the store; its URI, or undefined when they left
 * nothing. Past `deadline` (epoch ms) the packing is given up and the step fails: what it left took
 * too long to collect.
 */
async function storeArchive(
  ctx: TrainingStepContext,
  step: TrainingStepRun,
  outcome: JobOutcome,
  kind: keyof typeof ARCHIVES,
  deadline: number,
): Promise<string | undefined> {
  const { file, folder } = ARCHIVES[kind];
  const archive = await outcome.archive(kind);
  if (!archive) return undefined;
  const key = layout.output(ctx.pipelineName, ctx.executionId, step.name, file);
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      archive.destroy(new Error("the time to collect it ran out"));
    },
    Math.max(0, deadline - Date.now()),
  );
  // The archive is packed as it goes up, so its size is known only at the end: no total. A file the
  // runtime cannot pack (a step can chmod 000 what it leaves) errors the stream and fails the upload.
  await trackTransfer(transferReport(ctx), { step: step.name, direction: "upload", what: file }, (count) =>
    ctx.store
      .putStream(key, counted(archive, count))
      .catch((error: unknown) => {
        archive.destroy();
        if (timedOut) {
          throw new StepboxError(
            STEP_OUTPUT,
            `packing what step "${step.name}" left in ${folder} into ${file} took more than the ${ctx.collectTimeoutSeconds} s the engine gives collection, and was given up`,
            { cause: error, hint: "leave fewer, larger files (an archive of its own, say), or raise the session's collectTimeoutSeconds" },
          );
        }
        if (error instanceof StepboxError) throw error;
        throw new StepboxError(STEP_OUTPUT, `cannot pack what step "${step.name}" left in ${folder} into ${file}: ${(error as Error).message}`, {
          cause: error,
          hint: `leave only files, folders and links in ${folder}: no named pipes, sockets or devices`,
        });
      })
      .finally(() => clearTimeout(timer)),
  );
  return `${ctx.store.uri}/${key}`;
}

/** The session's logger, naming the execution as the scheduler's own step events do. */
function transferReport(ctx: TrainingStepContext): TransferReport {
  return { emit: ctx.onTransfer, log: ctx.logger.child({ execution: ctx.executionId }) };
}

type Finish = (status: TrainingStepOutcome["status"], secondary: string, failure?: StepFailure, error?: RemoteErrorInfo) => TrainingStepOutcome;

async function judge(step: TrainingStepRun, ctx: TrainingStepContext, outcome: JobOutcome, job: JobSpec, finish: Finish): Promise<TrainingStepOutcome> {
  const at = { pipeline: ctx.pipelineName, execution: ctx.executionId, step: step.name };
  const primary = outcome.hosts[0]!;
  const failedHost = outcome.hosts.find((h) => h.host === outcome.firstFailedHost) ?? primary;
  const error = await storeStepError(ctx, outcome, failedHost.host, at);
  const several = outcome.hosts.length > 1;
  const onHost = several ? ` on ${failedHost.host}` : "";

  switch (outcome.stopped) {
    case "MaxRuntimeExceeded":
      return finish(
        "Stopped",
        "MaxRuntimeExceeded",
        {
          kind: "MaxRuntimeExceeded",
          message: `step "${step.name}" ran longer than its maxRuntimeInSeconds (${step.job.maxRuntimeSeconds} s) and was stopped`,
        },
        error,
      );
    case "Stopped":
      return finish("Stopped", "Stopped", { kind: "Stopped", message: `the execution was stopped while step "${step.name}" ran` }, error);
    case "OutputLimitExceeded":
      return finish(
        "Failed",
        "Failed",
        {
          kind: "OutputLimitExceeded",
          message: `step "${step.name}" wrote ${(outcome.outputBytes / MiB).toFixed(0)} MiB under /opt/ml (model, output, checkpoints), more than its limit of ${(job.outputLimitBytes / MiB).toFixed(0)} MiB, and was killed; raise volumeSize if it needs more`,
          exceptionType: SageMakerJobExceptionType.RESOURCE_LIMIT,
        },
        error,
      );
    case "StoppedOutside":
      // Not the step's doing: a platform fault, which JOB_INTERNAL_ERROR retry policies retry.
      return finish(
        "Failed",
        "Failed",
        {
          kind: "InternalServerError",
          message: `the container${several ? "s" : ""} of step "${step.name}" ${several ? "were" : "was"} stopped from outside stepbox: the Docker engine shut down or restarted, or someone ran docker stop or docker kill on ${several ? "them" : "it"}`,
          exceptionType: SageMakerJobExceptionType.INTERNAL_ERROR,
        },
        error,
      );
    case undefined:
      break;
  }
  const oom = outcome.hosts.find((h) => h.oomKilled);
  if (oom) {
    return finish(
      "Failed",
      "Failed",
      {
        kind: "OutOfMemory",
        message: `step "${step.name}"${several ? ` on ${oom.host}` : ""} used more than its memory limit of ${ctx.resources.memoryGiB} GiB (instance type ${ctx.resources.instanceType}) and was killed`,
        exitCode: oom.exitCode,
        oomKilled: true,
        ...(several ? { host: oom.host } : {}),
        exceptionType: SageMakerJobExceptionType.RESOURCE_LIMIT,
      },
      error,
    );
  }
  // The kernel refused its writes past the limit: whatever the step made of ENOSPC, that is why it failed.
  const full = [failedHost, ...outcome.hosts].find((h) => h.outOfSpace && h.exitCode !== 0);
  if (full) {
    return finish(
      "Failed",
      "Failed",
      {
        kind: "OutputLimitExceeded",
        message: `step "${step.name}"${several ? ` on ${full.host}` : ""} filled its ${(hostOutputLimitBytes(job) / MiB).toFixed(0)} MiB volume under /opt/ml (model, output, checkpoints) and failed with no space left on it (exit code ${full.exitCode}); raise volumeSize if it needs more`,
        exitCode: full.exitCode,
        ...(several ? { host: full.host } : {}),
        exceptionType: SageMakerJobExceptionType.RESOURCE_LIMIT,
      },
      error,
    );
  }
  if (outcome.firstFailedHost !== undefined) {
    const failureText = await outcome.failure(failedHost.host);
    const exit = { exitCode: failedHost.exitCode, ...(several ? { host: failedHost.host } : {}) };
    // The step's own words about its failure, when it left some; else its exit code and last lines.
    const failure: StepFailure = failureText?.trim()
      ? { kind: "StepReported", message: failureText, ...exit }
      : {
          kind: "AlgorithmError",
          message: `exit code ${failedHost.exitCode}${onHost}. Last lines of the log:\n${failedHost.lastLogLines.slice(-10).join("\n")}`,
          ...exit,
        };
    return finish("Failed", "Failed", failure, error);
  }

  let payload: Buffer | undefined;
  try {
    payload = await outcome.result();
  } catch (cause) {
    // A result whose digest does not check out was altered after the step left it: the step's fault.
    if (!(cause instanceof IntegrityError)) throw cause;
    const info = toRemoteErrorInfo(cause);
    return finish("Failed", "Failed", { kind: "ClientError", message: info.message }, info);
  }
  // An image other than stepbox's runner leaves its model and output, not a result: exit 0 is success.
  if (!step.job.function) return finish("Succeeded", "Completed");
  if (!payload) return finish("Failed", "Failed", { kind: "ClientError", message: `step "${step.name}" exited 0 but left no result` });
  await writePayload(ctx.store, { ...at, kind: "results" }, payload, ctx.sealOf(step.name, ctx.key));
  if (step.job.function?.serializeOutputToJson) await writeResultsJson(ctx.store, at, payload);
  return finish("Succeeded", "Completed");
}

/**
 * The step's own error, when its function threw: signed into the store and read back as data. An
 * error whose digest does not check out is no evidence of anything, and is left out.
 */
async function storeStepError(
  ctx: TrainingStepContext,
  outcome: JobOutcome,
  host: string,
  at: { pipeline: string; execution: string; step: string },
): Promise<RemoteErrorInfo | undefined> {
  let payload: Buffer | undefined;
  try {
    payload = await outcome.error(host);
  } catch (error) {
    if (error instanceof IntegrityError) return undefined;
    throw error;
  }
  if (!payload) return undefined;
  await writePayload(ctx.store, { ...at, kind: "exception" }, payload, ctx.sealOf(at.step, ctx.key));
  return toRemoteErrorInfo(deserialize(payload));
}
