import { availableParallelism, hostname } from "node:os";
import type Docker from "dockerode";
import { ValidationError } from "../errors.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { StepBundler } from "../runtime/bundle.js";
import { connectDocker } from "../runtime/docker-engine.js";
import { sweepOrphans } from "../runtime/orphan-sweep.js";
import { sweepTempPaths } from "../runtime/temp-sweep.js";
import { markInterrupted } from "../engine/interrupted.js";
import { DockerStepRunner } from "../runtime/docker-step-runner.js";
import { ensureRuntimeImage, type RuntimeImage } from "../runtime/image.js";
import type { StepRuntime } from "../runtime/step-runtime.js";
import { loadMasterKey } from "../serialization/master-key.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { defaultArtifactRoot, openArtifactStore } from "../store/open-store.js";
import { RecordStore } from "../store/records.js";
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
   * its `volumeSize` (which caps each step at that many GiB, as the training job's volume does).
   */
  outputLimitBytes?: number;
  /** The image the runtime image is built on. @default STEPBOX_BASE_IMAGE, else one made from this machine's node */
  baseImage?: string;
  /** @default a pino logger on stderr at STEPBOX_LOG_LEVEL (default "warn") */
  logger?: Logger;
  /**
   * What runs the steps' jobs, instead of local Docker: the session then needs no container engine
   * and builds no runtime image, and records the image (and its id, part of each cache key) as
   * "in-process". `stepbox shell` and anything else that needs Docker itself is refused.
   * @default containers on the local Docker engine
   */
  runtime?: StepRuntime;
}

/** The image name (and id) a session records when its steps run on a runtime it was given. */
export const GIVEN_RUNTIME_IMAGE = "in-process";

/**
 * What a started session holds: a live engine, the image, the key. Made once, on first use.
 * @internal dockerode's types stay out of the published declarations, which a user compiles without them.
 */
export interface SessionRuntime {
  readonly docker: Docker;
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
  readonly stopGraceSeconds: number;
  readonly outputLimitBytes: number | undefined;
  readonly bundler = new StepBundler();
  /** `<hostname>:<pid>`: marks what this process runs, so a later process can tell orphans. */
  readonly owner = `${hostname()}:${process.pid}`;
  readonly defaultParallelism = availableParallelism();
  readonly #options: LocalPipelineSessionOptions;
  #runtime: Promise<SessionRuntime> | undefined;

  constructor(options: LocalPipelineSessionOptions = {}) {
    const known = ["artifactRoot", "secret", "onLog", "stopGraceSeconds", "outputLimitBytes", "baseImage", "logger", "runtime"];
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
    if (options.runtime !== undefined) checkGivenRuntime(options);
    this.#options = options;
    this.artifactRoot = options.artifactRoot ?? defaultArtifactRoot();
    this.store = openArtifactStore(this.artifactRoot);
    this.records = new ReconcilingRecordStore(this.store);
    this.logger = options.logger ?? createLogger();
    this.onLog = options.onLog ?? printLine;
    this.stopGraceSeconds = options.stopGraceSeconds ?? 120;
    this.outputLimitBytes = options.outputLimitBytes;
  }

  /**
   * Connects to Docker, makes sure the runtime image exists and loads the key; once per session.
   * @internal its result holds dockerode's types (see {@link SessionRuntime})
   */
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
    if (given) return givenRuntime(given, await this.masterKey());
    const docker = await connectDocker();
    await this.#sweepOrphans(docker);
    await this.#sweepTempPaths();
    const [image, masterKey] = await Promise.all([
      runtimeImageOnce(docker, this.#options.baseImage, this.logger),
      this.masterKey(),
    ]);
    // Merge glue: the Docker side's DockerRuntime implements StepRuntime and takes this line's place.
    const stepRuntime = new DockerStepRunner(docker) as unknown as StepRuntime;
    return { docker, stepRuntime, image: image.tag, imageId: image.id, masterKey };
  }

  /** Removes what killed engine processes left behind and marks their executions Failed. */
  async #sweepOrphans(docker: Docker): Promise<void> {
    for (const orphan of await sweepOrphans(docker)) {
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
      this.logger.warn({ event: "temp.sweep-failed", err: left.error, path: left.path, pid: left.pid }, `could not remove ${left.path}, left by stepbox process ${left.pid}`);
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

/** A started session whose steps run on the runtime it was given: no engine, no image. */
function givenRuntime(stepRuntime: StepRuntime, masterKey: Buffer): SessionRuntime {
  return {
    get docker(): Docker {
      throw new ValidationError("this session runs its steps on the runtime it was given, so it has no Docker engine to open a shell or read containers with", {
        hint: "use a session without the runtime option for stepbox shell",
      });
    },
    stepRuntime,
    image: GIVEN_RUNTIME_IMAGE,
    imageId: GIVEN_RUNTIME_IMAGE,
    masterKey,
  };
}

/** The runtime image of each engine and base, once a process has found or built it. */
const runtimeImages = new Map<string, Promise<RuntimeImage>>();

/**
 * Finds (or builds) the runtime image once per process for each engine and base image: every later
 * session of the process (a test file's, runPipeline's) reuses it instead of bundling the runner and
 * listing images again. A failed attempt is forgotten, so the next session tries again.
 */
function runtimeImageOnce(docker: Docker, baseImage: string | undefined, logger: Logger): Promise<RuntimeImage> {
  const key = JSON.stringify([process.env.DOCKER_HOST ?? "", baseImage || process.env.STEPBOX_BASE_IMAGE || ""]);
  let image = runtimeImages.get(key);
  if (!image) {
    image = ensureRuntimeImage(docker, { logger, ...(baseImage ? { baseImage } : {}) });
    runtimeImages.set(key, image);
    image.catch(() => runtimeImages.delete(key));
  }
  return image;
}
