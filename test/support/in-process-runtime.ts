/**
 * A second implementation of the runtime port (src/runtime/step-runtime.ts) that runs each job's step
 * function in this process instead of in containers: it loads the job's real code bundle, the way the
 * container's runner does, calls the definition the job names with its deserialized arguments, and
 * reports the outcome as the Docker runtime would. The engine cannot tell it from Docker except by
 * speed, so scheduler tests get through the whole engine in milliseconds.
 *
 * What it does not do, since no step of those tests needs it: separate hosts' processes, archives of
 * /opt/ml/model or /opt/ml/output/data (there is no /opt/ml), output limits, memory limits.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { format } from "node:util";
import { pathToFileURL } from "node:url";
import { CONTAINER_GLOBALS, RUNNER_EXIT } from "../../src/container/contract.js";
import { ContainerEngineError } from "../../src/errors.js";
import { LocalPipelineSession, type StepLogLine } from "../../src/index.js";
import type { StepDefinition } from "../../src/dsl/function-step.js";
import type {
  FunctionPayloads,
  HostExit,
  JobOutcome,
  JobPlan,
  JobSpec,
  LogStreamName,
  PreparedJob,
  StepRuntime,
  StopReason,
} from "../../src/runtime/step-runtime.js";
import { deserialize, serialize, toRemoteErrorInfo } from "../../src/serialization/codec.js";

/** The step function's code and arguments: the in-process runtime runs step functions, not other images. */
function payloads(job: JobSpec): FunctionPayloads {
  if (!job.function) throw new Error(`the in-process runtime runs step functions only; step "${job.stepName}" runs the image ${job.image}`);
  return job.function;
}
/** SageMaker keeps the first 1024 characters of the failure file, as the container's runner writes it. */
const FAILURE_LIMIT = 1024;
/** Exit codes of the container's runner, and of a killed container (128 + SIGKILL). */
const EXIT = { ...RUNNER_EXIT, killed: 137 } as const;
const TAIL_LINES = 10;

/** What one host's run of the step function left. */
interface HostRun {
  readonly host: string;
  readonly exitCode: number;
  readonly result?: Buffer;
  readonly error?: Buffer;
  readonly failure?: string;
  readonly lines: string[];
}

/** A job this runtime is running, as tests see it. */
export interface RunningJob {
  readonly job: JobSpec;
  /** Settles when the job has ended, however it ended. */
  readonly ended: Promise<void>;
}

/** Where a step's console output goes while its function runs: the job's host's log. */
const logSink = new AsyncLocalStorage<(line: string, stream: LogStreamName) => void>();

/**
 * The console, routed per job: output made inside a step function (however deep in its awaits) goes
 * to that job's log; everything else to the console as usual. Installed while any job runs.
 */
const consoleRoute = {
  users: 0,
  saved: undefined as undefined | Pick<Console, "log" | "info" | "debug" | "warn" | "error">,
  acquire(): void {
    if (this.users++ > 0) return;
    const saved = { log: console.log, info: console.info, debug: console.debug, warn: console.warn, error: console.error };
    this.saved = saved;
    const route =
      (stream: LogStreamName, original: (...args: unknown[]) => void) =>
      (...args: unknown[]): void => {
        const sink = logSink.getStore();
        if (!sink) {
          original(...args);
          return;
        }
        for (const line of format(...args).split("\n")) sink(line, stream);
      };
    console.log = route("stdout", saved.log);
    console.info = route("stdout", saved.info);
    console.debug = route("stdout", saved.debug);
    console.warn = route("stderr", saved.warn);
    console.error = route("stderr", saved.error);
  },
  release(): void {
    if (--this.users > 0 || !this.saved) return;
    Object.assign(console, this.saved);
    this.saved = undefined;
  },
};

/**
 * The container registry hook is one global: bundles are loaded one at a time, each with its own
 * registry installed, so that concurrent jobs never register into each other's.
 */
let loading: Promise<unknown> = Promise.resolve();

/** Loads the bundle as the container's runner does, and waits until it registered the wanted definition. */
async function loadStepFunction(bundlePath: string, definitionKey: string): Promise<StepDefinition["fn"]> {
  const registered = new Map<string, StepDefinition>();
  let notify: () => void = () => {};
  const found = new Promise<void>((resolve) => {
    notify = resolve;
  });
  const load = async (): Promise<void> => {
    (globalThis as Record<symbol, unknown>)[CONTAINER_GLOBALS.registry] = {
      register(definition: StepDefinition) {
        registered.set(definition.key, definition);
        if (definition.key === definitionKey) notify();
      },
    };
    try {
      // The module may never finish loading (its top level awaits a pipeline that never starts in a
      // bundle), so the race ends as soon as the definition is registered.
      await Promise.race([found, import(pathToFileURL(bundlePath).href)]);
    } finally {
      delete (globalThis as Record<symbol, unknown>)[CONTAINER_GLOBALS.registry];
    }
  };
  const turn = loading.then(load);
  loading = turn.catch(() => undefined);
  await turn;
  const definition = registered.get(definitionKey);
  if (definition) return definition.fn;
  const known = [...registered.keys()].map((k) => k.split("#").slice(1).join("#"));
  throw new Error(`the bundle did not define step ${definitionKey.split("#").slice(1).join("#")} when loaded (it defined: ${known.join(", ") || "none"})`);
}

/** One host's run: the function called with the job's arguments, its result or error serialized as the runner does. */
async function runHost(job: JobSpec, host: string, bundlePath: string, onCall: () => void): Promise<HostRun> {
  const lines: string[] = [];
  const print = (line: string, stream: LogStreamName): void => {
    lines.push(line);
    job.onLogLine(host, line, stream);
  };
  const failed = (exitCode: number, thrown: unknown, error: Buffer | undefined): HostRun => {
    const info = toRemoteErrorInfo(thrown);
    print(info.stack ?? `${info.name}: ${info.message}`, "stderr");
    return { host, exitCode, ...(error ? { error } : {}), failure: `${info.name}: ${info.message}`.slice(0, FAILURE_LIMIT), lines };
  };
  let fn: StepDefinition["fn"];
  let args: unknown[];
  try {
    args = deserialize(payloads(job).arguments) as unknown[];
    fn = await loadStepFunction(bundlePath, job.definitionKey);
  } catch (error) {
    return failed(EXIT.setupError, error, undefined);
  }
  let value: unknown;
  try {
    // A job stopped while its code loaded never calls the function, as a container stopped before it started.
    if (job.signal.aborted || job.killSignal.aborted) return { host, exitCode: EXIT.killed, lines };
    onCall();
    value = await logSink.run(print, () => (fn as (...a: unknown[]) => unknown)(...args));
  } catch (error) {
    let payload: Buffer;
    try {
      payload = serialize(error, "error");
    } catch {
      payload = serialize(toRemoteErrorInfo(error), "error");
    }
    return failed(EXIT.stepError, error, payload);
  }
  try {
    return { host, exitCode: EXIT.success, result: serialize(value, "result"), lines };
  } catch (error) {
    return failed(EXIT.stepError, error, serialize(toRemoteErrorInfo(error), "error"));
  }
}

export interface InProcessRuntimeOptions {
  /**
   * How many jobs to refuse first, as a container engine with no room for their containers refuses
   * them (a ContainerEngineError with reason "refused"): the engine's capacity errors, on demand.
   * @default 0
   */
  readonly refuse?: number;
}

/** Runs every step function of a pipeline in this process, as if each were a training job. */
export class InProcessRuntime implements StepRuntime {
  /** Every job run, in the order they started. */
  readonly jobs: JobSpec[] = [];
  /** The most jobs that ran at the same time. */
  peakRunning = 0;
  #running = 0;
  readonly #waiters: Array<{ stepName: string; resolve: (running: RunningJob) => void }> = [];
  #refusals: number;

  constructor(options: InProcessRuntimeOptions = {}) {
    this.#refusals = options.refuse ?? 0;
  }

  /** Nothing is made ahead: a job here starts as fast as `prepare` would make it start. */
  prepare(_plan: JobPlan): PreparedJob {
    return { discard: () => undefined };
  }

  /** Nothing outlives `run` here. */
  drain(_executionId: string): Promise<void> {
    return Promise.resolve();
  }

  /** Resolves once a job of the named step calls its function, on its first host to get there. */
  started(stepName: string): Promise<RunningJob> {
    return new Promise((resolve) => this.#waiters.push({ stepName, resolve }));
  }

  async run<T>(job: JobSpec, collect: (outcome: JobOutcome) => Promise<T>, prepared?: PreparedJob): Promise<T> {
    prepared?.discard();
    if (this.#refusals > 0) {
      this.#refusals--;
      throw new ContainerEngineError(`the in-process runtime refused to start job ${job.jobName}: it was told to refuse it`, { reason: "refused" });
    }
    this.jobs.push(job);
    this.peakRunning = Math.max(this.peakRunning, ++this.#running);
    let ended!: () => void;
    const running: RunningJob = { job, ended: new Promise<void>((resolve) => (ended = resolve)) };
    let over = false;
    const end = (): void => {
      if (over) return;
      over = true;
      this.#running--;
      ended();
    };
    consoleRoute.acquire();
    let folder: string | undefined;
    try {
      folder = await mkdtemp(join(tmpdir(), "stepbox-in-process-"));
      const bundlePath = join(folder, "code.mjs");
      await writeFile(bundlePath, payloads(job).code);
      const startedAt = new Date();
      const hosts = Array.from({ length: job.instanceCount }, (_, i) => `algo-${i + 1}`);
      const { runs, stopped } = await untilStopped(job, Promise.all(hosts.map((host) => runHost(job, host, bundlePath, () => this.#announce(running)))));
      const outcome = outcomeOf(job, hosts, runs, stopped, startedAt, new Date());
      end();
      return await collect(outcome);
    } finally {
      end();
      consoleRoute.release();
      if (folder !== undefined) await rm(folder, { recursive: true, force: true });
    }
  }

  #announce(running: RunningJob): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      if (waiter.stepName !== running.job.stepName) continue;
      this.#waiters.splice(i, 1);
      waiter.resolve(running);
    }
  }
}

/**
 * The hosts' runs, or a stop: a stop, a kill or the max runtime ends the job at once, as killed
 * containers end; a step function cannot be preempted in a process, so it is left to settle unheard.
 */
async function untilStopped(job: JobSpec, runs: Promise<HostRun[]>): Promise<{ runs: HostRun[] | undefined; stopped: StopReason | undefined }> {
  let cleanup = (): void => {};
  const stop = new Promise<StopReason>((resolve) => {
    const onStop = (): void => resolve("Stopped");
    const timer = setTimeout(() => resolve("MaxRuntimeExceeded"), job.maxRuntimeSeconds * 1000);
    job.signal.addEventListener("abort", onStop);
    job.killSignal.addEventListener("abort", onStop);
    if (job.signal.aborted || job.killSignal.aborted) onStop();
    cleanup = () => {
      clearTimeout(timer);
      job.signal.removeEventListener("abort", onStop);
      job.killSignal.removeEventListener("abort", onStop);
    };
  });
  try {
    return await Promise.race([runs.then((r) => ({ runs: r, stopped: undefined })), stop.then((reason) => ({ runs: undefined, stopped: reason }))]);
  } finally {
    cleanup();
  }
}

function outcomeOf(
  job: JobSpec,
  hosts: readonly string[],
  runs: readonly HostRun[] | undefined,
  stopped: StopReason | undefined,
  startedAt: Date,
  endedAt: Date,
): JobOutcome {
  const byHost = new Map(runs?.map((r) => [r.host, r]));
  const exits: HostExit[] = hosts.map((host) => {
    const run = byHost.get(host);
    return {
      host,
      exitCode: run?.exitCode ?? EXIT.killed,
      oomKilled: false,
      outOfSpace: false,
      logStream: `${job.jobName}/${host}-${Math.floor(startedAt.getTime() / 1000)}`,
      lastLogLines: (run?.lines ?? []).slice(-TAIL_LINES),
    };
  });
  const logOf = (host: string): Buffer => Buffer.from((byHost.get(host)?.lines ?? []).map((l) => `${l}\n`).join(""));
  return {
    hosts: exits,
    stopped,
    firstFailedHost: exits.find((e) => e.exitCode !== EXIT.success)?.host,
    outputBytes: 0,
    startedAt,
    endedAt,
    result: () => Promise.resolve(byHost.get(hosts[0]!)?.result),
    error: (host) => Promise.resolve(byHost.get(host)?.error),
    failure: (host) => Promise.resolve(byHost.get(host)?.failure),
    archive: () => Promise.resolve(undefined),
    log: (host) => {
      const bytes = logOf(host);
      return { bytes: bytes.length, open: () => Readable.from([bytes], { objectMode: false }) };
    },
  };
}

/**
 * A session of its own on the store at `root` whose steps run on `runtime` in this process, keeping
 * the lines they print (instead of printing them).
 */
export function inProcessSession(
  root: string,
  runtime = new InProcessRuntime(),
): { session: LocalPipelineSession; runtime: InProcessRuntime; lines: StepLogLine[] } {
  const lines: StepLogLine[] = [];
  const session = new LocalPipelineSession({ artifactRoot: root, secret: "test-secret", runtime, onLog: (line) => lines.push(line) });
  return { session, runtime, lines };
}
