import { availableParallelism, hostname } from "node:os";
import { ValidationError } from "../errors.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { StepBundler } from "../runtime/bundle.js";
import type { OrphanedExecution } from "../runtime/docker/orphan-sweep.js";
import { startDockerRuntime } from "../runtime/docker/start-docker-runtime.js";
import type { StepRuntime } from "../runtime/step-runtime.js";
import { sweepTempPaths } from "../runtime/temp-sweep.js";
import { markInterrupted } from "../engine/interrupted.js";
import { loadMasterKey } from "../serialization/master-key.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { defaultArtifactRoot, openArtifactStore } from "../store/open-store.js";
import { RecordStore } from "../store/records.js";
import { type DefinitionStartOptions, retryRecordedExecution, startRecordedPipeline } from "./definition-executions.js";
import type { PipelineExecution } from "./pipeline-execution.js";
import { ReconcilingRecordStore } from "./reconciling-records.js";

/** A line a step's container printed. */
export interface StepLogLine {
  readonly step: string;
  readonly stream: "stdout" | "stderr";
  readonly line: string;
}

export interface LocalPipelineSessionOptions {
  /**
   * Where runs are recorded: a folder, `file:///path` or `s3://bucket/prefix`.
   * @default STEPBOX_HOME when set, else `./.stepbox`
   */
  artifactRoot?: string;
  /**
   * The secret that per-execution HMAC keys derive from. Give the same one to every process that
   * reads the same store from another machine.
   * @default STEPBOX_SECRET when set, else a key file created in ~/.config/stepbox/secret
   */
  secret?: string;
  /**
   * Where the steps' own output goes, line by line.
   * @default each line on stdout with the step's name in front: `[train] epoch 1`
   */
  onLog?: (line: StepLogLine) => void;
  /** Seconds between SIGTERM and SIGKILL when a step is stopped. @default 120, as SageMaker */
  stopGraceSeconds?: number;
  /**
   * A cap, in bytes, on what any step may write under /opt/ml (model, output, checkpoints), below
   * its `volumeSize` (which caps each step at that many GiB, as the training job's volume does). Its
   * hosts share it evenly; each host's /tmp gets the same share, at most half its memory limit.
   */
  outputLimitBytes?: number;
  /**
   * A cap, in bytes, on the log the store keeps of each host of each step: past it, lines are counted
   * and a last line says how much was not kept. The live stream (`onLog`) still gets every line.
   * @default 104857600 (100 MiB)
   */
  logLimitBytes?: number;
  /**
   * Seconds the engine spends, at most, packing and storing what a step left (its logs, model and
   * output archives) once its containers exited. A step that leaves more than can be packed in time
   * (millions of files) fails with a ClientError that says so, instead of holding the execution.
   * @default 600
   */
  collectTimeoutSeconds?: number;
  /** The image the runtime image is built on. @default STEPBOX_BASE_IMAGE, else one made from this machine's node */
  baseImage?: string;
  /** @default a pino logger on stderr at STEPBOX_LOG_LEVEL (default "warn") */
  logger?: Logger;
  /**
   * Whether SIGINT and SIGTERM stop this session's running executions (their containers get SIGTERM,
   * a second signal kills them) before the signal ends the process, while any run. Turn it off where
   * the program handles signals itself: it can then call `stopRunningExecutions()`.
   * @default true
   */
  handleSignals?: boolean;
  /**
   * What runs the steps' jobs, instead of local Docker: the session then needs no container engine
   * and builds no runtime image, and records the image (and its id, part of each cache key) as
   * "in-process". `stepbox shell`, which opens a Docker container itself, needs the default.
   * @default containers on the local Docker engine
   */
  runtime?: StepRuntime;
}

/** The image name (and id) a session records when its steps run on a runtime it was given. */
export const GIVEN_RUNTIME_IMAGE = "in-process";

/** What a started session holds: what runs its steps, the image, the key. Made once, on first use. */
export interface SessionRuntime {
  readonly stepRuntime: StepRuntime;
  readonly image: string;
  /** The image's content id: part of every step's cache key. */
  readonly imageId: string;
  readonly masterKey: Buffer;
}

function printLine({ step, line }: StepLogLine): void {
  process.stdout.write(`[${step}] ${line}\n`);
}

/**
 * Runs pipelines on this machine: each step in a local Docker container, every record and artifact
 * in the artifact store. The counterpart of SageMaker's `LocalPipelineSession`.
 */
export class LocalPipelineSession {
  readonly artifactRoot: string;
  readonly store: ArtifactStore;
  readonly records: RecordStore;
  readonly logger: Logger;
  readonly onLog: (line: StepLogLine) => void;
  readonly collectTimeoutSeconds: number;
  readonly stopGraceSeconds: number;
  readonly outputLimitBytes: number | undefined;
  readonly logLimitBytes: number | undefined;
  readonly handleSignals: boolean;
  readonly bundler = new StepBundler();
  /** `<hostname>:<pid>`: marks what this process runs, so a later process can tell orphans. */
  readonly owner = `${hostname()}:${process.pid}`;
  readonly defaultParallelism = availableParallelism();
  readonly #options: LocalPipelineSessionOptions;
  #runtime: Promise<SessionRuntime> | undefined;

  constructor(options: LocalPipelineSessionOptions = {}) {
    const known = [
      "artifactRoot",
      "secret",
      "onLog",
      "stopGraceSeconds",
      "outputLimitBytes",
      "logLimitBytes",
      "collectTimeoutSeconds",
      "baseImage",
      "logger",
      "runtime",
      "handleSignals",
    ];
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) {
        throw new ValidationError(`new LocalPipelineSession(): unknown option "${key}"`, { hint: `the options are: ${known.join(", ")}` });
      }
    }
    if (options.stopGraceSeconds !== undefined && !(Number.isFinite(options.stopGraceSeconds) && options.stopGraceSeconds >= 0)) {
      throw new ValidationError(`new LocalPipelineSession(): stopGraceSeconds must be a number >= 0, got ${String(options.stopGraceSeconds)}`);
    }
    if (options.outputLimitBytes !== undefined && !(Number.isInteger(options.outputLimitBytes) && options.outputLimitBytes > 0)) {
      throw new ValidationError(`new LocalPipelineSession(): outputLimitBytes must be a whole number of bytes > 0, got ${String(options.outputLimitBytes)}`);
    }
    if (options.logLimitBytes !== undefined && !(Number.isInteger(options.logLimitBytes) && options.logLimitBytes > 0)) {
      throw new ValidationError(`new LocalPipelineSession(): logLimitBytes must be a whole number of bytes > 0, got ${String(options.logLimitBytes)}`);
    }
    if (options.collectTimeoutSeconds !== undefined && !(Number.isFinite(options.collectTimeoutSeconds) && options.collectTimeoutSeconds > 0)) {
      throw new ValidationError(
        `new LocalPipelineSession(): collectTimeoutSeconds must be a number of seconds > 0, got ${String(options.collectTimeoutSeconds)}`,
      );
    }
    if (options.runtime !== undefined) checkGivenRuntime(options);
    this.#options = options;
    this.artifactRoot = options.artifactRoot ?? defaultArtifactRoot();
    this.store = openArtifactStore(this.artifactRoot);
    this.records = new ReconcilingRecordStore(this.store);
    this.logger = options.logger ?? createLogger();
    this.onLog = options.onLog ?? printLine;
    this.stopGraceSeconds = options.stopGraceSeconds ?? 120;
    this.outputLimitBytes = options.outputLimitBytes;
    this.logLimitBytes = options.logLimitBytes;
    this.collectTimeoutSeconds = options.collectTimeoutSeconds ?? 600;
    this.handleSignals = options.handleSignals ?? true;
  }

  /**
   * Starts an execution of a pipeline recorded in this session's store from its definition alone, as
   * SageMaker's StartPipelineExecution does (`stepbox serve` starts executions this way).
   */
  startDefinition(pipelineName: string, options: DefinitionStartOptions = {}): Promise<PipelineExecution> {
    return startRecordedPipeline(this, pipelineName, options);
  }

  /** RetryPipelineExecution: the definition an execution ran, again, reusing the steps that succeeded. */
  retryDefinition(pipelineName: string, executionId: string, options: { parallelism?: number } = {}): Promise<PipelineExecution> {
    return retryRecordedExecution(this, pipelineName, executionId, options);
  }

  /** Connects to Docker, makes sure the runtime image exists and loads the key; once per session. */
  runtime(): Promise<SessionRuntime> {
    this.#runtime ??= this.#startRuntime().catch((error: unknown) => {
      this.#runtime = undefined;
      throw error;
    });
    return this.#runtime;
  }

  /** The key that per-execution keys derive from, without starting Docker (reading needs no engine). */
  masterKey(): Promise<Buffer> {
    return loadMasterKey(this.#options.secret !== undefined ? { secret: this.#options.secret } : {});
  }

  async #startRuntime(): Promise<SessionRuntime> {
    const given = this.#options.runtime;
    if (given) return { stepRuntime: given, image: GIVEN_RUNTIME_IMAGE, imageId: GIVEN_RUNTIME_IMAGE, masterKey: await this.masterKey() };
    // The temp sweep needs no engine: it goes on while the engine answers.
    const [started, masterKey] = await Promise.all([
      startDockerRuntime({ baseImage: this.#options.baseImage, logger: this.logger }),
      this.masterKey(),
      this.#sweepTempPaths(),
    ]);
    await this.#markOrphans(started.orphans);
    return { stepRuntime: started.runtime, image: started.image, imageId: started.imageId, masterKey };
  }

  /** Marks Failed the executions of killed engine processes, whose containers the runtime removed. */
  async #markOrphans(orphans: readonly OrphanedExecution[]): Promise<void> {
    for (const orphan of orphans) {
      // A plain record store: the sweep itself ends the execution, with a reason that counts its containers.
      const records = new RecordStore(orphan.storeUri === this.store.uri ? this.store : openArtifactStore(orphan.storeUri));
      try {
        const record = await records.readExecution(orphan.pipeline, orphan.execution);
        if (record.PipelineExecutionStatus !== "Executing" && record.PipelineExecutionStatus !== "Stopping") continue;
        const reason = `the stepbox process that ran this execution (${orphan.owner}) ended before it finished; its ${orphan.containers} container(s) were removed`;
        await markInterrupted(records, record, reason);
        this.logger.warn({ event: "execution.orphaned", execution: orphan.execution, pipeline: orphan.pipeline }, reason);
      } catch (error) {
        this.logger.warn({ event: "execution.orphan-unrecorded", err: error, execution: orphan.execution }, "could not mark an orphaned execution");
      }
    }
  }

  /** Removes the temp folders and spool files that killed engine processes of this host left. */
  async #sweepTempPaths(): Promise<void> {
    // Leftovers only take disk space: a sweep that cannot run must not keep the session from starting.
    const sweep = await sweepTempPaths().catch((error: unknown) => {
      this.logger.warn({ event: "temp.sweep-failed", err: error }, "could not sweep the temp files of killed stepbox processes");
      return { removed: [], failed: [] };
    });
    if (sweep.removed.length > 0) {
      this.logger.info({ event: "temp.swept", paths: sweep.removed }, `removed ${sweep.removed.length} temp path(s) that killed stepbox processes left`);
    }
    for (const left of sweep.failed) {
      this.logger.warn(
        { event: "temp.sweep-failed", err: left.error, path: left.path, pid: left.pid },
        `could not remove ${left.path}, left by stepbox process ${left.pid}`,
      );
    }
  }
}

/** Refuses a `runtime` option that is not a StepRuntime, or that comes with options only Docker uses. */
function checkGivenRuntime(options: LocalPipelineSessionOptions): void {
  const runtime = options.runtime as Partial<Record<keyof StepRuntime, unknown>> | null;
  const missing = (["run", "prepare", "drain"] as const).filter((m) => typeof runtime?.[m] !== "function");
  if (missing.length > 0) {
    throw new ValidationError(`new LocalPipelineSession(): runtime must be a StepRuntime, but it has no ${missing.join(", ")} method`, {
      hint: "pass an object that implements StepRuntime (src/runtime/step-runtime.ts), or leave runtime out to run the steps on local Docker",
    });
  }
  if (options.baseImage !== undefined) {
    throw new ValidationError("new LocalPipelineSession(): baseImage builds the Docker runtime image, which a session given a runtime does not use", {
      hint: "leave out either baseImage or runtime",
    });
  }
}
