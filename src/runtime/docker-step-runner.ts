import { join } from "node:path";
import type Docker from "dockerode";
import { engineError } from "./docker-engine.js";
import { watchEngine } from "./engine-watch.js";
import { fillHost, layoutHost, type HostSetup } from "./host-opt-ml.js";
import { watchOutputSize } from "./output-limit.js";
import { StepContainers, containerCreateOptions, planKey } from "./step-containers.js";

export { jobHosts } from "./step-containers.js";
export type { HostSetup } from "./host-opt-ml.js";

/** An input channel: a host folder shown read-only at /opt/ml/input/data/<name>. */
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
 * An S3 channel's listing in brief. A digest rather than every object keeps a job record small for a
 * channel of many objects, and still tells whether any object's path, size or ETag changed since.
 */
export interface ChannelListing {
  readonly objects: number;
  readonly bytes: number;
  /** SHA-256 (hex) of the listing's lines, `<path> <size> <etag>`, sorted and joined by newlines. */
  readonly sha256: string;
}

/** Everything a step's containers need. */
export interface StepJob {
  readonly pipelineName: string;
  readonly executionId: string;
  readonly stepName: string;
  /** The training job's name: `<step>-<execution id>`. */
  readonly jobName: string;
  readonly jobArn: string;
  readonly image: string;
  readonly code: Buffer;
  readonly codeMetadata: string;
  readonly definitionKey: string;
  readonly argumentsPayload: Buffer;
  readonly argumentsMetadata: string;
  /** Hex of the per-execution HMAC key: handed to the containers' environment, never written. */
  readonly secretKeyHex: string;
  readonly environment: Readonly<Record<string, string>>;
  /** The ml.* name written to resourceconfig.json. */
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly hyperparameters: Readonly<Record<string, unknown>>;
  readonly channels: readonly InputChannel[];
  readonly network: boolean;
  readonly maxRuntimeSeconds: number;
  /** Seconds between SIGTERM and SIGKILL when the step is stopped. */
  readonly stopGraceSeconds: number;
  /** What the step may write under /opt/ml (model, output, checkpoints) on all hosts together. */
  readonly outputLimitBytes: number;
  /** Host folder whose `algo-<i>` subfolders are /opt/ml/checkpoints; it outlives the attempt. */
  readonly checkpointsDir: string;
  readonly storeUri: string;
  readonly owner: string;
  readonly onLogLine: (host: string, line: string, stream: "stdout" | "stderr") => void;
  /** Aborting it stops the containers (SIGTERM, then SIGKILL after the grace period). */
  readonly signal: AbortSignal;
  /** Aborting it kills the containers at once (a second Ctrl-C). */
  readonly killSignal: AbortSignal;
}

/**
 * What a step's containers are made of, less the code, the payloads and the key: recorded with the
 * step so that `stepbox shell` can make the same container again.
 */
export type StepJobRecord = Pick<
  StepJob,
  | "pipelineName"
  | "executionId"
  | "stepName"
  | "jobName"
  | "jobArn"
  | "image"
  | "definitionKey"
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
>;

/** What one host's /opt/ml is filled from. */
export type OptMlContents = Pick<
  StepJob,
  "code" | "codeMetadata" | "argumentsPayload" | "argumentsMetadata" | "channels" | "instanceType" | "hyperparameters" | "checkpointsDir"
>;

/**
 * What a host's container is created from, besides its /opt/ml: the job record's identity, image,
 * environment and sandbox, plus what never goes into the record (the key, the store, the owner).
 * A shell into the step makes its container from exactly that.
 */
export type StepContainerSpec = Omit<StepJobRecord, "instanceType" | "instanceCount" | "hyperparameters" | "channels" | "maxRuntimeSeconds" | "outputLimitBytes"> &
  Pick<StepJob, "secretKeyHex" | "storeUri" | "owner">;

export interface DockerStepRunnerOptions {
  /** Told what each step's containers are made of, as they start, to record it; the outcome waits for it. */
  readonly onJob?: (record: StepJobRecord) => Promise<void>;
}

/** How one host's container ended, and where its /opt/ml/output and /opt/ml/model are on the host. */
export interface HostOutcome {
  readonly host: string;
  readonly exitCode: number;
  readonly oomKilled: boolean;
  readonly outputDir: string;
  readonly modelDir: string;
  /** CloudWatch-like stream name, `<job>/algo-<i>-<epoch>`, and the file that holds it. */
  readonly logStream: { readonly name: string; readonly file: string };
  readonly lastLogLines: readonly string[];
}

export type StopReason = "MaxRuntimeExceeded" | "Stopped" | "OutputLimitExceeded";

export interface StepJobOutcome {
  /** algo-1 first. */
  readonly hosts: readonly HostOutcome[];
  /** Why the containers were stopped, when they were. */
  readonly stopped: StopReason | undefined;
  /** The host whose container failed first, when one did; the others were stopped because of it. */
  readonly firstFailedHost: string | undefined;
  /** What the step had written under /opt/ml when it ended. */
  readonly outputBytes: number;
  readonly startedAt: Date;
  readonly endedAt: Date;
}

/**
 * What a step's containers are created from, known before the step starts: the container spec, the
 * hosts and the mounts, but not the code, the arguments or anything the step's inputs decide.
 */
export type StepContainerPlan = StepContainerSpec & Pick<StepJob, "instanceCount" | "checkpointsDir"> & {
  readonly channels: ReadonlyArray<Pick<InputChannel, "name" | "hostPath">>;
};

/**
 * A step's containers created ahead by `prepare`: the runner's own, handed back to `run` or discarded.
 * A handle that `run` never gets must be discarded, so that its containers are removed.
 */
export interface PreparedContainers {
  /** Removes the containers in the background unless `run` has taken them; safe to call more than once. */
  discard(): void;
}

/** The record of a job, for the store: what `StepJobRecord` keeps of it. */
function stepJobRecord(job: StepJob): StepJobRecord {
  const { pipelineName, executionId, stepName, jobName, jobArn, image, definitionKey, environment, instanceType, instanceCount } = job;
  const { cpus, memoryBytes, hyperparameters, channels, network, maxRuntimeSeconds, outputLimitBytes } = job;
  return {
    pipelineName,
    executionId,
    stepName,
    jobName,
    jobArn,
    image,
    definitionKey,
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
  };
}

/** Containers a `prepare` is creating; `run` takes them when its job has the same plan. */
class WarmContainers implements PreparedContainers {
  readonly key: string;
  readonly #made: Promise<StepContainers | undefined>;
  readonly #onDiscard: (removed: Promise<void>) => void;
  #taken = false;

  constructor(key: string, made: Promise<StepContainers | undefined>, onDiscard: (removed: Promise<void>) => void) {
    this.key = key;
    this.#made = made;
    this.#onDiscard = onDiscard;
  }

  /** The containers, once; undefined when their creation failed (the caller creates them again, and sees why). */
  take(): Promise<StepContainers | undefined> {
    if (this.#taken) return Promise.resolve(undefined);
    this.#taken = true;
    return this.#made;
  }

  discard(): void {
    if (this.#taken) return;
    this.#taken = true;
    this.#onDiscard(this.#made.then((made) => made?.removeAll()));
  }
}

/**
 * Runs a step as training-job containers through dockerode: one per host, sandboxed, each with its
 * own /opt/ml bind-mounted from a private host folder that is removed once `collect` has read it.
 * Containers are never reused: `prepare` creates a step's own containers ahead, while earlier steps
 * run, and `run` only fills in the files and starts them. Finished containers are removed in the
 * background; `drain` waits for an execution's removals.
 * @internal its signatures hold dockerode's types, which stay out of the published declarations
 */
export class DockerStepRunner {
  readonly #docker: Docker;
  readonly #onJob: DockerStepRunnerOptions["onJob"];
  /** Removals (of finished or discarded containers) still under way. */
  readonly #removals = new Set<{ readonly executionId: string; readonly stepName: string; readonly done: Promise<void> }>();

  constructor(docker: Docker, options: DockerStepRunnerOptions = {}) {
    this.#docker = docker;
    this.#onJob = options.onJob;
  }

  /**
   * Starts creating (never starting) the containers of a step that is about to run, with its mounts
   * laid out. Give the handle to `run`, or discard it.
   */
  prepare(plan: StepContainerPlan): PreparedContainers {
    // A creation that fails is not this step's failure yet: `run` creates again, and reports that.
    const made = StepContainers.create(this.#docker, plan).catch(() => undefined);
    return new WarmContainers(planKey(plan), made, (removed) => this.#inBackground(plan, removed));
  }

  /** Settles once every container and work folder of the execution's steps is removed. */
  drain(executionId: string): Promise<void> {
    return this.#settled((r) => r.executionId === executionId);
  }

  async run<T>(job: StepJob, collect: (outcome: StepJobOutcome) => Promise<T>, prepared?: PreparedContainers): Promise<T> {
    const made = await this.#containersFor(job, prepared);
    try {
      made.listen(job.onLogLine);
      // The job's record is for readers after the start (`stepbox shell`): it is written while the
      // containers run, and in before their outcome is.
      const recorded = Promise.resolve(this.#onJob?.(stepJobRecord(job)));
      recorded.catch(() => undefined);
      await made.fill(job);
      const outcome = await this.#runAll(job, made);
      await recorded;
      // The containers have exited and what they left is in bind-mounted host folders: removing them
      // while the outputs are collected takes the engine's removal time off every step's wall time.
      void made.removeContainers();
      return await collect(outcome);
    } finally {
      // The work folder goes once collected; the next step need not wait for that, nor for the engine.
      this.#inBackground(job, made.removeAll());
    }
  }

  /** The containers `prepare` made for this job when its plan is the same, else new ones. */
  async #containersFor(job: StepJob, prepared: PreparedContainers | undefined): Promise<StepContainers> {
    if (prepared instanceof WarmContainers && prepared.key === planKey(job)) {
      const warm = await prepared.take();
      if (warm) return warm;
    }
    prepared?.discard();
    // An earlier attempt's (or the discarded) containers have the same names: they must be gone first.
    await this.#settled((r) => r.executionId === job.executionId && r.stepName === job.stepName);
    return StepContainers.create(this.#docker, job);
  }

  #inBackground(step: Pick<StepJob, "executionId" | "stepName">, removal: Promise<void>): void {
    const entry = { executionId: step.executionId, stepName: step.stepName, done: removal.catch(() => undefined) };
    this.#removals.add(entry);
    void entry.done.then(() => this.#removals.delete(entry));
  }

  async #settled(which: (removal: { executionId: string; stepName: string }) => boolean): Promise<void> {
    for (;;) {
      const pending = [...this.#removals].filter(which).map((r) => r.done);
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  /** Lays out and fills one host's /opt/ml under `workDir`: code, arguments, config files, and folders for the channels and outputs. */
  static async prepareHost(job: OptMlContents, workDir: string, host: string, hosts: readonly string[]): Promise<HostSetup> {
    const setup = await layoutHost(job, workDir, host);
    await fillHost(job, setup, hosts);
    return setup;
  }

  /** How a host's container is created: the training job's environment, labels and the sandbox. */
  static containerOptions(job: StepContainerSpec, setup: HostSetup, network: Docker.Network | undefined): Docker.ContainerCreateOptions {
    return containerCreateOptions(job, setup, network);
  }

  async #runAll(job: StepJob, made: StepContainers): Promise<StepJobOutcome> {
    const { setups, containers, logs } = made;
    let stopped: StopReason | undefined;
    const stopContainers = (graceSeconds: number): void => {
      for (const c of containers) {
        const ending = graceSeconds === 0 ? c.kill() : c.stop({ t: graceSeconds });
        ending.catch(() => {
          // It exited on its own in the meantime.
        });
      }
    };
    const stopAll = (reason: StopReason, graceSeconds: number): void => {
      stopped ??= reason;
      stopContainers(graceSeconds);
    };
    const timer = setTimeout(() => stopAll("MaxRuntimeExceeded", job.stopGraceSeconds), job.maxRuntimeSeconds * 1000);
    const onAbort = (): void => stopAll("Stopped", job.stopGraceSeconds);
    const onKill = (): void => stopAll("Stopped", 0);
    job.signal.addEventListener("abort", onAbort);
    job.killSignal.addEventListener("abort", onKill);
    // A step that writes past its cap is killed at once: waiting would let it fill the disk.
    const sizeWatch = watchOutputSize(setups.flatMap((s) => s.writable), job.outputLimitBytes, () => stopAll("OutputLimitExceeded", 0));

    const startedAt = new Date();
    const engine = watchEngine(this.#docker, `to wait for the containers of step "${job.stepName}"`);
    try {
      try {
        await Promise.all(containers.map((c) => c.start()));
      } catch (error) {
        throw engineError(`to start the containers of step "${job.stepName}"`, error);
      }
      if (job.signal.aborted) onAbort();
      if (job.killSignal.aborted) onKill();
      // A host that fails ends the job: the others are stopped, as SageMaker does.
      let firstFailedHost: string | undefined;
      const exits = await Promise.race([engine.lost, Promise.all(
        containers.map(async (c, i) => {
          let result: { StatusCode: number };
          try {
            result = (await c.wait()) as { StatusCode: number };
          } catch (error) {
            throw engineError(`to wait for the containers of step "${job.stepName}"`, error);
          }
          if (result.StatusCode !== 0 && firstFailedHost === undefined) {
            firstFailedHost = setups[i]!.host;
            if (containers.length > 1) stopContainers(job.stopGraceSeconds);
          }
          return result.StatusCode;
        }),
      )]);
      await Promise.all(logs.map((l) => l.done));
      const outputBytes = await sizeWatch.stop();
      const hosts: HostOutcome[] = [];
      for (const [i, c] of containers.entries()) {
        // Only a container that failed can have been killed for memory (the kernel's kill exits 137):
        // a clean exit needs no inspect round trip to the engine.
        let state: { ExitCode?: number; OOMKilled?: boolean } = { ExitCode: exits[i] };
        if (exits[i] !== 0) {
          try {
            state = (await c.inspect()).State;
          } catch (error) {
            throw engineError(`to inspect the containers of step "${job.stepName}"`, error);
          }
        }
        const setup = setups[i]!;
        hosts.push({
          host: setup.host,
          exitCode: state.ExitCode ?? exits[i] ?? -1,
          oomKilled: state.OOMKilled === true,
          outputDir: join(setup.dir, "output"),
          modelDir: join(setup.dir, "model"),
          logStream: { name: `${job.jobName}/${setup.host}-${Math.floor(startedAt.getTime() / 1000)}`, file: join(setup.dir, "logs", "stream.log") },
          lastLogLines: logs[i]!.tail,
        });
      }
      return { hosts, stopped, firstFailedHost, outputBytes, startedAt, endedAt: new Date() };
    } finally {
      engine.stop();
      clearTimeout(timer);
      job.signal.removeEventListener("abort", onAbort);
      job.killSignal.removeEventListener("abort", onKill);
      await sizeWatch.stop();
    }
  }
}
