import { chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { CONTAINER_ENV, CONTAINER_PATHS } from "../container/contract.js";
import { captureLogs, type CapturedLogs } from "./container-logs.js";
import { engineError } from "./docker-engine.js";
import { watchEngine } from "./engine-watch.js";
import { LABEL, managedLabels } from "./labels.js";
import { watchOutputSize } from "./output-limit.js";
import { tempFolderPrefix } from "./temp-paths.js";
import { writeTrainingJobConfig } from "./training-job-config.js";

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
  /** Told what each step's containers are made of, before they are created, to record it. */
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

/** One host's /opt/ml on this machine, and how it is mounted. */
export interface HostSetup {
  readonly host: string;
  readonly dir: string;
  readonly binds: string[];
  readonly writable: string[];
}

/** The uid the step runs as: the caller's own, or an unprivileged one when the caller is root. */
function containerUser(): { uid: number; gid: number } {
  const uid = process.getuid?.() ?? 1000;
  const gid = process.getgid?.() ?? 1000;
  return uid === 0 ? { uid: 1000, gid: 1000 } : { uid, gid };
}

/** The hosts of a job, as SageMaker names them: algo-1..N. */
export const jobHosts = (instanceCount: number): string[] => Array.from({ length: instanceCount }, (_, i) => `algo-${i + 1}`);

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

/**
 * Runs a step as training-job containers through dockerode: one per host, sandboxed, each with its
 * own /opt/ml bind-mounted from a private host folder that is removed once `collect` has read it.
 * @internal its signatures hold dockerode's types, which stay out of the published declarations
 */
export class DockerStepRunner {
  readonly #docker: Docker;
  readonly #onJob: DockerStepRunnerOptions["onJob"];

  constructor(docker: Docker, options: DockerStepRunnerOptions = {}) {
    this.#docker = docker;
    this.#onJob = options.onJob;
  }

  async run<T>(job: StepJob, collect: (outcome: StepJobOutcome) => Promise<T>): Promise<T> {
    const workDir = await mkdtemp(join(tmpdir(), tempFolderPrefix("work")));
    const containers: Docker.Container[] = [];
    let network: Docker.Network | undefined;
    let removed: Promise<void> | undefined;
    const removeContainers = (): Promise<void> =>
      (removed ??= (async () => {
        await Promise.all(containers.map((c) => c.remove({ force: true, v: true }).catch(() => undefined)));
        await network?.remove().catch(() => undefined);
      })());
    try {
      const hosts = jobHosts(job.instanceCount);
      const setups = await Promise.all(hosts.map((host) => DockerStepRunner.prepareHost(job, workDir, host, hosts)));
      await this.#onJob?.(stepJobRecord(job));
      if (job.instanceCount > 1) network = await this.#createNetwork(job);
      for (const setup of setups) containers.push(await this.#createContainer(job, setup, network));
      const outcome = await this.#runAll(job, setups, containers);
      // The containers have exited and what they left is in bind-mounted host folders: removing them
      // while the outputs are collected takes the engine's removal time off every step's wall time.
      void removeContainers();
      return await collect(outcome);
    } finally {
      await removeContainers();
      // A work folder that cannot be removed (a step can lock a folder it wrote) must not turn the
      // step's outcome into an error: it carries this process's pid, so the temp sweep of a later
      // session removes it.
      await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Lays out one host's /opt/ml under `workDir`: code, arguments, config files, and folders for the channels and outputs. */
  static async prepareHost(job: OptMlContents, workDir: string, host: string, hosts: readonly string[]): Promise<HostSetup> {
    const dir = join(workDir, host);
    const d = {
      input: join(dir, "input"),
      code: join(dir, "code"),
      model: join(dir, "model"),
      output: join(dir, "output"),
      checkpoints: join(job.checkpointsDir, host),
    };
    await Promise.all([
      mkdir(join(d.input, "config"), { recursive: true }),
      mkdir(join(d.input, "stepbox", "arguments"), { recursive: true }),
      ...job.channels.map((c) => mkdir(join(d.input, "data", c.name), { recursive: true })),
      mkdir(d.code, { recursive: true }),
      mkdir(d.model, { recursive: true }),
      mkdir(join(d.output, "data"), { recursive: true }),
      mkdir(d.checkpoints, { recursive: true }),
      mkdir(join(dir, "logs"), { recursive: true }),
    ]);
    await Promise.all([
      writeFile(join(d.code, "code.mjs"), job.code),
      writeFile(join(d.code, "metadata.json"), job.codeMetadata),
      writeFile(join(d.input, "stepbox", "arguments", "payload.bin"), job.argumentsPayload),
      writeFile(join(d.input, "stepbox", "arguments", "metadata.json"), job.argumentsMetadata),
      writeTrainingJobConfig(join(d.input, "config"), {
        currentHost: host,
        hosts,
        instanceType: job.instanceType,
        hyperparameters: job.hyperparameters,
        channels: job.channels.map((c) => ({ name: c.name })),
      }),
    ]);
    const writable = [d.model, d.output, join(d.output, "data"), d.checkpoints];
    if (process.getuid?.() === 0) {
      const { uid, gid } = containerUser();
      await Promise.all(writable.map((w) => chown(w, uid, gid)));
    }
    return {
      host,
      dir,
      writable: [d.model, d.output, d.checkpoints],
      binds: [
        `${d.input}:/opt/ml/input:ro`,
        ...job.channels.map((c) => `${c.hostPath}:${CONTAINER_PATHS.inputData}/${c.name}:ro`),
        `${d.code}:${CONTAINER_PATHS.code}:ro`,
        `${d.model}:${CONTAINER_PATHS.model}`,
        `${d.output}:${CONTAINER_PATHS.output}`,
        `${d.checkpoints}:${CONTAINER_PATHS.checkpoints}`,
      ],
    };
  }

  /** A private network where the hosts resolve each other as algo-1..N; internal unless the step asked for a network. */
  async #createNetwork(job: StepJob): Promise<Docker.Network> {
    try {
      return await this.#docker.createNetwork({
        Name: `stepbox-${job.executionId}-${job.stepName}`.slice(0, 120),
        Driver: "bridge",
        Internal: !job.network,
        Labels: managedLabels({ [LABEL.execution]: job.executionId, [LABEL.step]: job.stepName, [LABEL.owner]: job.owner }),
      });
    } catch (error) {
      throw engineError(`to create the network of step "${job.stepName}"`, error);
    }
  }

  async #createContainer(job: StepJob, setup: HostSetup, network: Docker.Network | undefined): Promise<Docker.Container> {
    try {
      return await this.#docker.createContainer(DockerStepRunner.containerOptions(job, setup, network));
    } catch (error) {
      throw engineError(`to create the container of step "${job.stepName}" (${setup.host})`, error);
    }
  }

  /** How a host's container is created: the training job's environment, labels and the sandbox. */
  static containerOptions(job: StepContainerSpec, setup: HostSetup, network: Docker.Network | undefined): Docker.ContainerCreateOptions {
    const { uid, gid } = containerUser();
    const env = {
      ...job.environment,
      TRAINING_JOB_NAME: job.jobName,
      TRAINING_JOB_ARN: job.jobArn,
      AWS_REGION: job.environment.AWS_REGION ?? "local",
      [CONTAINER_ENV.stepName]: job.stepName,
      [CONTAINER_ENV.definitionKey]: job.definitionKey,
      [CONTAINER_ENV.secretKey]: job.secretKeyHex,
    };
    return {
      name: `stepbox-${job.executionId}-${job.stepName}-${setup.host}`.slice(0, 120),
      Image: job.image,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: managedLabels({
        [LABEL.pipeline]: job.pipelineName,
        [LABEL.execution]: job.executionId,
        [LABEL.step]: job.stepName,
        [LABEL.host]: setup.host,
        [LABEL.store]: job.storeUri,
        [LABEL.owner]: job.owner,
      }),
      User: `${uid}:${gid}`,
      Hostname: setup.host,
      WorkingDir: CONTAINER_PATHS.code,
      HostConfig: {
        // An init as PID 1 passes SIGTERM on to the step, so a stop is graceful, as in SageMaker.
        Init: true,
        Binds: setup.binds,
        ReadonlyRootfs: true,
        Tmpfs: { "/tmp": "rw,nosuid,nodev" },
        NetworkMode: network ? network.id : job.network ? "bridge" : "none",
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        PidsLimit: 512,
        Memory: job.memoryBytes,
        MemorySwap: job.memoryBytes,
        NanoCpus: Math.round(job.cpus * 1e9),
      },
      ...(network ? { NetworkingConfig: { EndpointsConfig: { [network.id]: { Aliases: [setup.host] } } } } : {}),
    };
  }

  async #runAll(job: StepJob, setups: readonly HostSetup[], containers: readonly Docker.Container[]): Promise<StepJobOutcome> {
    let logs: CapturedLogs[];
    try {
      logs = await Promise.all(
        containers.map((c, i) => captureLogs(c, join(setups[i]!.dir, "logs", "stream.log"), (line, stream) => job.onLogLine(setups[i]!.host, line, stream))),
      );
    } catch (error) {
      throw engineError(`to attach to the containers of step "${job.stepName}"`, error);
    }
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
