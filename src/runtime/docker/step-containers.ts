import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { CONTAINER_ENV, CONTAINER_PATHS } from "../../container/contract.js";
import { captureLogs, DEFAULT_LOG_LIMITS, type CapturedLogs } from "./container-logs.js";
import { engineError, whenEngineReturns } from "./docker-engine.js";
import { createHostNetwork, hostNetworkOptions, type HostNetwork } from "./host-network.js";
import { containerUser, fillHost, hostLogFile, layoutHost, startHost, type HostFiles, type HostSetup } from "./host-opt-ml.js";
import { LABEL, managedLabels } from "./labels.js";
import { OutputFilesystemError } from "../../errors.js";
import type { Logger } from "../../logging/logger.js";
import { unmountInside, volumeSupport } from "../output-volume.js";
import { hostOutputLimitBytes, type JobPlan, type LogStreamName } from "../step-runtime.js";
import { tempFolderPrefix } from "../temp-paths.js";

type LogSink = (host: string, line: string, stream: LogStreamName) => void;

/**
 * What a host's container is created from, besides its /opt/ml: the job's identity, image,
 * environment and sandbox, and the marks for sweeps. A shell into a step makes its container from it.
 */
export type ContainerSpec = Pick<
  JobPlan,
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
  | "cpus"
  | "memoryBytes"
  | "network"
  | "storeUri"
  | "owner"
  | "outputLimitBytes"
  | "instanceCount"
>;

/** The hosts of a job, as SageMaker names them: algo-1..N. */
export const jobHosts = (instanceCount: number): string[] => Array.from({ length: instanceCount }, (_, i) => `algo-${i + 1}`);

/**
 * A plan in one canonical form: two plans with the same key make identical containers, so a step's
 * containers created ahead from one plan can run the job that has the other.
 */
export function planKey(plan: JobPlan): string {
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
    cpus,
    memoryBytes,
    network,
  } = plan;
  const { storeUri, owner, instanceCount, checkpointsDir, logLimitBytes, outputLimitBytes } = plan;
  const channels = plan.channels.map(({ name, hostPath }) => ({ name, hostPath }));
  return JSON.stringify({
    pipelineName,
    executionId,
    stepName,
    jobName,
    jobArn,
    image,
    definitionKey,
    entrypoint,
    containerArguments,
    environment: Object.entries(environment).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    cpus,
    memoryBytes,
    network,
    storeUri,
    owner,
    instanceCount,
    checkpointsDir,
    channels,
    logLimitBytes,
    outputLimitBytes,
  });
}

/**
 * The size of a container's /tmp, a tmpfs: its host's share of the output limit, and at most half its
 * memory limit (the kernel's own default for a tmpfs is half the RAM). tmpfs pages are memory the
 * container's limit counts, so a step that fills /tmp gets ENOSPC while it still has memory left to
 * handle it, rather than being killed for memory, and it can never take the host's RAM.
 */
export function tmpBytes(job: Pick<ContainerSpec, "outputLimitBytes" | "instanceCount" | "memoryBytes">): number {
  return Math.min(hostOutputLimitBytes(job), Math.floor(job.memoryBytes / 2));
}

/**
 * How a host's container is created: the training job's environment, labels and the sandbox.
 * @internal its signature holds dockerode's types, which stay out of the published declarations
 */
export function containerCreateOptions(job: ContainerSpec, setup: HostSetup, network: HostNetwork | undefined): Docker.ContainerCreateOptions {
  const { uid, gid } = containerUser();
  const joined = network ? hostNetworkOptions(network, setup.host) : undefined;
  const env = {
    ...job.environment,
    TRAINING_JOB_NAME: job.jobName,
    TRAINING_JOB_ARN: job.jobArn,
    AWS_REGION: job.environment.AWS_REGION ?? "local",
    [CONTAINER_ENV.stepName]: job.stepName,
    [CONTAINER_ENV.definitionKey]: job.definitionKey,
    // The runner of a step function can be started before the step's files are written (StepContainers.startEarly).
    ...(job.definitionKey ? { [CONTAINER_ENV.waitForStart]: "1" } : {}),
  };
  return {
    name: containerName(job, setup.host),
    Image: job.image,
    ...(job.entrypoint ? { Entrypoint: [...job.entrypoint] } : {}),
    Cmd: job.entrypoint ? [...job.containerArguments] : ["train", ...job.containerArguments],
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
    // A step function runs beside its code; any other image keeps its own working directory.
    ...(job.definitionKey ? { WorkingDir: CONTAINER_PATHS.code } : {}),
    HostConfig: {
      // An init as PID 1 passes SIGTERM on to the step, so a stop is graceful, as in SageMaker.
      Init: true,
      Binds: [...setup.binds, ...(joined?.binds ?? [])],
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": `rw,nosuid,nodev,size=${tmpBytes(job)}` },
      NetworkMode: network ? network.network.id : job.network ? "bridge" : "none",
      ...(joined ? { ExtraHosts: joined.extraHosts } : {}),
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      PidsLimit: 512,
      // No /dev/shm: a private IPC namespace without the 64 MiB writable tmpfs Docker mounts there,
      // which no output limit counts. Only /opt/ml and /tmp are writable.
      IpcMode: "none",
      Memory: job.memoryBytes,
      MemorySwap: job.memoryBytes,
      NanoCpus: Math.round(job.cpus * 1e9),
    },
    ...(joined ? { NetworkingConfig: joined.endpoints } : {}),
  };
}

const containerName = (job: Pick<ContainerSpec, "executionId" | "stepName">, host: string): string =>
  `stepbox-${job.executionId}-${job.stepName}-${host}`.slice(0, 120);

/**
 * The containers of one attempt of a step: created and attached to, each on its own /opt/ml folders
 * in a private work folder, on a private network when there are several hosts. Everything here can be
 * made, and a step function's containers started (`startEarly`), before the step's code and arguments
 * exist; `fill` writes those in and `start` tells the step to go.
 * @internal it holds dockerode's types, which stay out of the published declarations
 */
export class StepContainers {
  readonly workDir: string;
  readonly hosts: readonly string[];
  readonly setups: readonly HostSetup[];
  readonly #docker: Docker;
  readonly #stepName: string;
  readonly #logger: Logger;
  #network: HostNetwork | undefined;
  #containers: Docker.Container[] = [];
  #logs: CapturedLogs[] = [];
  #onLine: LogSink | undefined;
  #containersRemoved: Promise<void> | undefined;
  /** Each container's exit status, asked for as soon as it is started, so that an early exit is heard. */
  #exits: Promise<number>[] | undefined;
  /** Whether the step was told to go (its start markers written). */
  #started = false;
  /** Whether a container started early exited (or lost its engine) before its step was told to go. */
  #endedEarly = false;
  /** Whether the containers run the stepbox runner, which waits for its start marker: they can start before the step's files are written. */
  readonly canStartEarly: boolean;

  private constructor(docker: Docker, plan: JobPlan, workDir: string, hosts: readonly string[], setups: readonly HostSetup[], logger: Logger) {
    this.#docker = docker;
    this.#logger = logger;
    this.#stepName = plan.stepName;
    this.canStartEarly = plan.definitionKey !== "";
    this.workDir = workDir;
    this.hosts = hosts;
    this.setups = setups;
  }

  /**
   * Makes the work folder, each host's volume where this process can make volumes, the network and
   * every host's container, and attaches to their output.
   */
  static async create(docker: Docker, plan: JobPlan, logger: Logger): Promise<StepContainers> {
    const workDir = await mkdtemp(join(tmpdir(), tempFolderPrefix("work")));
    let made: StepContainers | undefined;
    try {
      const hosts = jobHosts(plan.instanceCount);
      const volumeBytes = await hostVolumeBytes(plan, logger);
      const setups = await Promise.all(hosts.map((host) => layoutHostVolume(plan, workDir, host, volumeBytes, logger)));
      made = new StepContainers(docker, plan, workDir, hosts, setups, logger);
      await made.#create(plan);
      return made;
    } catch (error) {
      await (made?.removeAll() ?? removeWorkFolder(workDir, logger));
      throw error;
    }
  }

  async #create(plan: JobPlan): Promise<void> {
    if (plan.instanceCount > 1) this.#network = await createHostNetwork(this.#docker, plan, this.hosts, this.workDir);
    // Hosts are created together: each creation is a round trip the others need not wait for.
    const created = await Promise.allSettled(this.setups.map((setup) => this.#createContainer(plan, setup)));
    for (const result of created) if (result.status === "fulfilled") this.#containers.push(result.value);
    const failed = created.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    const limits = { ...DEFAULT_LOG_LIMITS, maxLogBytes: plan.logLimitBytes ?? DEFAULT_LOG_LIMITS.maxLogBytes };
    try {
      this.#logs = await Promise.all(
        this.#containers.map((c, i) => {
          const setup = this.setups[i]!;
          return captureLogs(c, hostLogFile(setup), (line, stream) => this.#onLine?.(setup.host, line, stream), limits);
        }),
      );
    } catch (error) {
      throw engineError(`to attach to the containers of step "${this.#stepName}"`, error);
    }
  }

  async #createContainer(plan: JobPlan, setup: HostSetup): Promise<Docker.Container> {
    try {
      return await this.#docker.createContainer(containerCreateOptions(plan, setup, this.#network));
    } catch (error) {
      throw engineError(`to create the container of step "${plan.stepName}" (${setup.host})`, error);
    }
  }

  /** algo-1 first. */
  get containers(): readonly Docker.Container[] {
    return this.#containers;
  }

  /** Each container's captured output, in the order of `containers`. */
  get logs(): readonly CapturedLogs[] {
    return this.#logs;
  }

  /** Where every line the containers print goes; lines come only after a start, so set it before. */
  listen(onLine: LogSink): void {
    this.#onLine = onLine;
  }

  /** Writes the code, arguments and config files every host's container reads when it starts. */
  async fill(files: HostFiles): Promise<void> {
    await Promise.all(this.setups.map((setup) => fillHost(files, setup, this.hosts)));
  }

  /**
   * Starts the containers before the step's files are written, while earlier steps run: the engine's
   * start is its slowest call. Their runners wait for the start marker, so no code of the step runs
   * before `start`; a container that ends before then makes these containers unusable (`usable`).
   */
  async startEarly(): Promise<void> {
    if (!this.canStartEarly) throw new Error(`internal: the containers of step "${this.#stepName}" cannot start before their files are written`);
    await this.#startContainers();
  }

  /** False once a container started early ended before its step was told to go: the step needs new ones. */
  get usable(): boolean {
    return !this.#endedEarly;
  }

  /** Starts the step: its containers (unless started early), then each host's start marker. Call after `fill`. */
  async start(): Promise<void> {
    if (this.#exits === undefined) await this.#startContainers();
    this.#started = true;
    await Promise.all(this.setups.map(startHost));
  }

  /** The exit status of the container at `index` (in the order of `containers`), once started. */
  exit(index: number): Promise<number> {
    const exit = this.#exits?.[index];
    if (!exit) throw new Error(`internal: container ${index} of step "${this.#stepName}" was not started`);
    return exit;
  }

  async #startContainers(): Promise<void> {
    await Promise.all(this.#containers.map((c) => c.start()));
    this.#exits = this.#containers.map((c) => {
      const exit = c.wait().then((result: { StatusCode: number }) => result.StatusCode);
      // Heard now, handled by whoever asks for the exit later.
      exit.then(
        () => this.#endedBeforeStart(),
        () => this.#endedBeforeStart(),
      );
      return exit;
    });
  }

  #endedBeforeStart(): void {
    if (!this.#started) this.#endedEarly = true;
  }

  /**
   * Removes the containers (and the network); once, however often it is asked. Never throws. An engine
   * that went away meanwhile (restarting) is waited for, as a step's start waits for it: a retry of this
   * step gets containers of the same names, which must be gone first.
   */
  removeContainers(): Promise<void> {
    return (this.#containersRemoved ??= (async () => {
      const remove = (call: () => Promise<unknown>): Promise<unknown> => whenEngineReturns(this.#docker, call).catch(() => undefined);
      await Promise.all(this.#containers.map((c) => remove(() => c.remove({ force: true, v: true }))));
      const network = this.#network?.network;
      if (network) await remove(() => network.remove());
    })());
  }

  /** Removes the containers, unmounts the hosts' volumes and removes the work folder. Never throws. */
  async removeAll(): Promise<void> {
    await this.removeContainers();
    await removeWorkFolder(this.workDir, this.#logger);
  }
}

/**
 * Unmounts the volumes in a work folder and removes it. Never throws. A work folder that cannot be
 * removed (a step can lock a folder it wrote), or whose volumes cannot be unmounted (removing it then
 * would reach into them), must not turn the step's outcome into an error: it carries this process's
 * pid, so the temp sweep of a later session unmounts and removes it.
 */
async function removeWorkFolder(workDir: string, logger: Logger): Promise<void> {
  try {
    await unmountInside(workDir);
  } catch (error) {
    logger.warn(
      { event: "output-volume.unmount-failed", err: error, path: workDir },
      `could not unmount the volumes in ${workDir}; it is left to the temp sweep`,
    );
    return;
  }
  await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
}

/** Whether the process that cannot make volumes has said so in the engine log. */
let toldNoVolumes = false;

/** The size of each host's volume, or undefined where this process cannot make volumes (the runtime then watches the output). */
async function hostVolumeBytes(plan: JobPlan, logger: Logger): Promise<number | undefined> {
  const support = await volumeSupport();
  if (support.supported) return hostOutputLimitBytes(plan);
  if (!support.expected && !toldNoVolumes) {
    toldNoVolumes = true;
    logger.warn(
      { event: "output-volume.unsupported", reason: support.reason },
      `steps' output limits are watched, not held by the kernel: no volume could be made (${support.reason})`,
    );
  }
  return undefined;
}

/** Lays out a host on its own volume; where the volume cannot be made, says so and lays it out without one. */
async function layoutHostVolume(plan: JobPlan, workDir: string, host: string, volumeBytes: number | undefined, logger: Logger): Promise<HostSetup> {
  if (volumeBytes === undefined) return layoutHost(plan, workDir, host);
  try {
    return await layoutHost(plan, workDir, host, volumeBytes);
  } catch (error) {
    if (!(error instanceof OutputFilesystemError)) throw error;
    logger.warn(
      { event: "output-volume.fallback", err: error, step: plan.stepName, host },
      `step "${plan.stepName}" (${host}) gets no volume of its own: ${error.detail}; its output limit is watched instead`,
    );
    return layoutHost(plan, workDir, host);
  }
}
