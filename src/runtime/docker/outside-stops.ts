import type { Readable } from "node:stream";
import type Docker from "dockerode";

/** How long to wait for the engine's word on a container that exited, when its event stream is slow. */
const DIE_EVENT_WAIT_MS = 10_000;

interface ContainerEvent {
  readonly status?: string;
  readonly id?: string;
  readonly Actor?: { readonly Attributes?: Readonly<Record<string, string>> };
}

/**
 * Tells a step's own exit from a stop that came from outside stepbox: the Docker engine shutting down
 * or restarting (it sends SIGTERM to every container), or someone running `docker stop` or `docker
 * kill`. Either way the exit code (143, 137) looks like the step's, so the engine's own events say
 * which it was: a `kill` event for the container before its `die` event. Signals a step sends itself
 * make no event. The engine's event stream is opened before the containers start.
 */
export class OutsideStops {
  readonly #stream: Readable | undefined;
  /** The signal each container was sent through the engine, by container id. */
  readonly #signals = new Map<string, string>();
  readonly #died = new Map<string, () => void>();
  readonly #dying = new Map<string, Promise<void>>();
  #ended = false;
  #closed = false;
  /** The stream ended without being closed here: the engine went away (or is restarting). */
  #engineLeft = false;

  private constructor(stream: Readable | undefined, ids: readonly string[]) {
    this.#stream = stream;
    for (const id of ids) {
      this.#dying.set(
        id,
        new Promise<void>((resolve) => {
          this.#died.set(id, resolve);
        }),
      );
    }
    if (!stream) {
      this.#end();
      return;
    }
    let buffered = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        this.#take(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
    stream.on("end", () => this.#end());
    stream.on("close", () => this.#end());
    stream.on("error", () => this.#end());
  }

  /**
   * Starts listening for the engine's events about these containers. When the engine cannot stream
   * them, nothing can be told apart and every exit counts as the step's own, as before.
   */
  static async watch(docker: Docker, ids: readonly string[]): Promise<OutsideStops> {
    let stream: Readable | undefined;
    try {
      stream = (await docker.getEvents({ filters: { container: [...ids], event: ["kill", "die"] } })) as unknown as Readable;
      // The stream must not keep a process alive that has nothing else to do.
      (stream as Readable & { socket?: { unref?: () => void } }).socket?.unref?.();
    } catch {
      stream = undefined;
    }
    return new OutsideStops(stream, ids);
  }

  #take(line: string): void {
    let event: ContainerEvent;
    try {
      event = JSON.parse(line) as ContainerEvent;
    } catch {
      return;
    }
    if (!event.id) return;
    if (event.status === "kill") this.#signals.set(event.id, event.Actor?.Attributes?.signal ?? "unknown");
    if (event.status === "die") this.#died.get(event.id)?.();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#closed && this.#stream) this.#engineLeft = true;
    for (const resolve of this.#died.values()) resolve();
  }

  /**
   * The signal sent through the engine to a container that has exited, once the engine has said how
   * it died (or its event stream ended); undefined when nobody sent one.
   */
  async signalled(id: string): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#dying.get(id),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, DIE_EVENT_WAIT_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    return this.#signals.get(id);
  }

  /** Whether the engine's event stream ended on its own: the engine went away or restarted meanwhile. */
  get engineLeft(): boolean {
    return this.#engineLeft;
  }

  close(): void {
    this.#closed = true;
    this.#stream?.destroy();
    this.#end();
  }
}
