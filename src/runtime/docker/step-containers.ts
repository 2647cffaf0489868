import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { CONTAINER_ENV, CONTAINER_PATHS } from "../../container/contract.js";
import { captureLogs, DEFAULT_LOG_LIMITS, type CapturedLogs } from "./container-logs.js";
import { engineError } from "./docker-engine.js";
import { createHostNetwork, hostNetworkOptions, type HostNetwork } from "./host-network.js";
import { containerUser, fillHost, hostLogFile, layoutHost, type HostFiles, type HostSetup } from "./host-opt-ml.js";
import { LABEL, managedLabels } from "./labels.js";
import type { JobPlan, LogStreamName } from "../step-runtime.js";
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
  const { storeUri, owner, instanceCount, checkpointsDir, logLimitBytes } = plan;
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
  });
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
      Tmpfs: { "/tmp": "rw,nosuid,nodev" },
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
 * The containers of one attempt of a step: created, attached to and not started, each on its own
 * /opt/ml folders in a private work folder, on a private network when there are several hosts.
 * Everything here can be made before the step's code and arguments exist; `fill` writes those in.
 * @internal it holds dockerode's types, which stay out of the published declarations
 */
export class StepContainers {
  readonly workDir: string;
  readonly hosts: readonly string[];
  readonly setups: readonly HostSetup[];
  readonly #docker: Docker;
  readonly #stepName: string;
  #network: HostNetwork | undefined;
  #containers: Docker.Container[] = [];
  #logs: CapturedLogs[] = [];
  #onLine: LogSink | undefined;
  #containersRemoved: Promise<void> | undefined;

  private constructor(docker: Docker, stepName: string, workDir: string, hosts: readonly string[], setups: readonly HostSetup[]) {
    this.#docker = docker;
    this.#stepName = stepName;
    this.workDir = workDir;
    this.hosts = hosts;
    this.setups = setups;
  }

  /** Makes the work folder, the network and every host's container, and attaches to their output. */
  static async create(docker: Docker, plan: JobPlan): Promise<StepContainers> {
    const workDir = await mkdtemp(join(tmpdir(), tempFolderPrefix("work")));
    let made: StepContainers | undefined;
    try {
      const hosts = jobHosts(plan.instanceCount);
      const setups = await Promise.all(hosts.map((host) => layoutHost(plan, workDir, host)));
      made = new StepContainers(docker, plan.stepName, workDir, hosts, setups);
      await made.#create(plan);
      return made;
    } catch (error) {
      await (made?.removeAll() ?? rm(workDir, { recursive: true, force: true }).catch(() => undefined));
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

  /** Removes the containers (and the network); once, however often it is asked. Never throws. */
  removeContainers(): Promise<void> {
    return (this.#containersRemoved ??= (async () => {
      await Promise.all(this.#containers.map((c) => c.remove({ force: true, v: true }).catch(() => undefined)));
      await this.#network?.network.remove().catch(() => undefined);
    })());
  }

  /** Removes the containers and the work folder. Never throws. */
  async removeAll(): Promise<void> {
    await this.removeContainers();
    // A work folder that cannot be removed (a step can lock a folder it wrote) must not turn the
    // step's outcome into an error: it carries this process's pid, so the temp sweep of a later
    // session removes it.
    await rm(this.workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
