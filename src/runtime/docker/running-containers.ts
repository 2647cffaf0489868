/**
 * The containers of a step that run now, found by their labels, and their output as they print it:
 * what `stepbox logs --follow` reads before a step's logs reach the store.
 */
import { createInterface } from "node:readline";
import { PassThrough, type Readable } from "node:stream";
import type Docker from "dockerode";
import { connectDocker } from "./docker-engine.js";
import { LABEL } from "./labels.js";

/** A container of a step that runs now, and the stream name prefix its stored log will have. */
export interface RunningContainer {
  readonly id: string;
  /** `<job-name>/algo-<i>`: the stored stream is this plus `-<epoch>`. */
  readonly stream: string;
  /** `algo-<i>`, from the container's label. */
  readonly host: string;
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
      if (job && host) found.push({ id: info.Id, stream: `${job}/${host}`, host });
    }
    return found;
  }

  /** Hands every line the container has printed, and prints until it exits, to `onLine`; resolves when it exits. */
  async follow(running: RunningContainer, onLine: (line: string) => void): Promise<void> {
    const raw = (await this.#docker.getContainer(running.id).logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable;
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
