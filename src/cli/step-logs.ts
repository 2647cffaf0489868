/**
 * A step's logs: from the store once the step has ended (one stream per host and attempt, written
 * when the attempt ends), and, for `--follow`, from its running containers through Docker, found by
 * their labels. A stream read from a container is not read again from the store. A step that runs on
 * several hosts has one stream per host, and its lines say which host printed them.
 */
import { createInterface } from "node:readline";
import { PassThrough, type Readable } from "node:stream";
import type Docker from "dockerode";
import { StepboxError } from "../errors.js";
import { loadExecutionDefinition } from "../report/index.js";
import { connectDocker } from "../runtime/docker-engine.js";
import { LABEL } from "../runtime/labels.js";
import type { LocalPipelineSession } from "../session/local-pipeline-session.js";
import { layout } from "../store/layout.js";
import type { ExecutionRecord, StepRecord } from "../store/records.js";

/**
 * The steps that run on more than one host (InstanceCount above 1 in the definition the execution ran
 * with), known before any of their containers start, so every line of such a step names its host.
 */
export async function multiHostSteps(session: LocalPipelineSession, execution: ExecutionRecord): Promise<Set<string>> {
  let definition: string;
  try {
    ({ definition } = await loadExecutionDefinition(session, execution));
  } catch (error) {
    // A store that kept no definition at all still has the logs: they are printed without hosts.
    if (error instanceof StepboxError && error.code === "NOT_FOUND") return new Set();
    throw error;
  }
  const { Steps = [] } = JSON.parse(definition) as { Steps?: Array<{ Name: string; Arguments?: { ResourceConfig?: { InstanceCount?: number } } }> };
  return new Set(Steps.filter((s) => (s.Arguments?.ResourceConfig?.InstanceCount ?? 1) > 1).map((s) => s.Name));
}

/** The host (`algo-<i>`) a stored stream `<job-name>/algo-<i>-<epoch>` came from. */
export function hostOfStream(stream: string): string {
  return stream.slice(stream.lastIndexOf("/") + 1).replace(/-\d+$/, "");
}

/** The stored streams of a step, in the order of its attempts; then any the record does not name. */
export async function storedStreams(session: LocalPipelineSession, pipeline: string, execution: string, step: StepRecord | undefined, stepName: string): Promise<string[]> {
  const root = layout.logs(pipeline, execution, stepName);
  const stored = (await session.store.list(root)).filter((k) => k.endsWith(".log")).map((k) => k.slice(root.length + 1, -".log".length));
  const named = [...(step?.Attempts?.flatMap((a) => a.LogStreams) ?? []), ...(step?.Metadata.TrainingJob?.LogStreams ?? [])];
  const ordered = [...new Set(named)].filter((s) => stored.includes(s));
  return [...ordered, ...stored.filter((s) => !ordered.includes(s)).sort()];
}

export async function* readStoredStream(session: LocalPipelineSession, pipeline: string, execution: string, stepName: string, stream: string): AsyncGenerator<string> {
  const body = await session.store.getStream(layout.logStream(pipeline, execution, stepName, stream));
  yield* createInterface({ input: body, crlfDelay: Infinity });
}

/** A container of a step that runs now, and the stream name prefix its stored log will have. */
export interface RunningContainer {
  readonly id: string;
  /** `<job-name>/algo-<i>`: the stored stream is this plus `-<epoch>`. */
  readonly stream: string;
  /** `algo-<i>`, from the container's label. */
  readonly host: string;
  readonly container: Docker.Container;
}

/** Reaches the running containers of one execution by label. */
export class ContainerLogSource {
  readonly #docker: Docker;

  private constructor(docker: Docker) {
    this.#docker = docker;
  }

  /** Undefined when no Docker engine answers: then only the store can be read. */
  static async connect(): Promise<ContainerLogSource | undefined> {
    try {
      return new ContainerLogSource(await connectDocker());
    } catch {
      return undefined;
    }
  }

  async running(execution: string, stepName: string): Promise<RunningContainer[]> {
    const listed = await this.#docker.listContainers({ filters: { label: [`${LABEL.execution}=${execution}`, `${LABEL.step}=${stepName}`] } });
    const found: RunningContainer[] = [];
    for (const info of listed) {
      const container = this.#docker.getContainer(info.Id);
      // The job name differs per attempt, so the stream's name comes from the container's own environment.
      const inspected = await container.inspect().catch(() => undefined);
      const job = inspected?.Config.Env.find((e) => e.startsWith("TRAINING_JOB_NAME="))?.slice("TRAINING_JOB_NAME=".length);
      const host = info.Labels[LABEL.host];
      if (job && host) found.push({ id: info.Id, stream: `${job}/${host}`, host, container });
    }
    return found;
  }

  /** Hands every line the container has printed, and prints until it exits, to `onLine`; resolves when it exits. */
  async follow(running: RunningContainer, onLine: (line: string) => void): Promise<void> {
    const raw = (await running.container.logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable;
    // Split stdout and stderr apart first: a line must not mix the two streams' bytes.
    const outputs = [new PassThrough(), new PassThrough()] as const;
    this.#docker.modem.demuxStream(raw, outputs[0], outputs[1]);
    const end = (): void => {
      for (const o of outputs) o.end();
    };
    raw.once("end", end);
    raw.once("close", end);
    raw.once("error", end);
    await Promise.all(
      outputs.map(
        (input) =>
          new Promise<void>((resolve) => {
            const lines = createInterface({ input, crlfDelay: Infinity });
            lines.on("line", onLine);
            lines.on("close", resolve);
          }),
      ),
    );
  }
}
