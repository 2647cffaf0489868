import { stat } from "node:fs/promises";
import type Docker from "dockerode";
import type { Logger } from "../../logging/logger.js";
import { volumeUsage } from "../output-volume.js";
import { hostOutputLimitBytes, type JobOutcome, type JobPlan, type JobSpec, type PreparedJob, type StepRuntime, type StopReason } from "../step-runtime.js";
import { engineError, whenEngineReturns } from "./docker-engine.js";
import { DockerJobOutcome, type EndedHost } from "./docker-job-outcome.js";
import { watchEngine } from "./engine-watch.js";
import { hostLogFile } from "./host-opt-ml.js";
import { watchOutputSize } from "./output-limit.js";
import { OutsideStops } from "./outside-stops.js";
import { StepContainers, planKey } from "./step-containers.js";

/** Containers a `prepare` is creating; `run` takes them when its job has the same plan. */
class WarmContainers implements PreparedJob {
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
 * Runs a step's job as training-job containers through dockerode: one per host, sandboxed, each with
 * its own /opt/ml bind-mounted from a private host folder that is removed once `collect` has read it.
 * Containers are never reused: `prepare` creates a step's own containers ahead, while earlier steps
 * run, and starts those whose runner waits for its start marker; `run` only fills in the files and
 * starts the step (the containers, or their waiting runners). Finished containers are removed in the
 * background; `drain` waits for an execution's removals.
 * @internal its constructor takes dockerode's client, whose types stay out of the published declarations
 */
export class DockerRuntime implements StepRuntime {
  readonly #docker: Docker;
  /** Where a host that gets no volume of its own, and unmounts that fail, are told. */
  readonly #logger: Logger;
  /** Removals (of finished or discarded containers) still under way. */
  readonly #removals = new Set<{ readonly executionId: string; readonly stepName: string; readonly done: Promise<void> }>();

  constructor(docker: Docker, logger: Logger) {
    this.#docker = docker;
    this.#logger = logger;
  }

  prepare(plan: JobPlan): PreparedJob {
    // A creation that fails is not this step's failure yet: `run` creates again, and reports that.
    const made = StepContainers.create(this.#docker, plan, this.#logger)
      .then(startEarly)
      .catch(() => undefined);
    return new WarmContainers(planKey(plan), made, (removed) => this.#inBackground(plan, removed));
  }

  drain(executionId: string): Promise<void> {
    return this.#settled((r) => r.executionId === executionId);
  }

  async run<T>(job: JobSpec, collect: (outcome: JobOutcome) => Promise<T>, prepared?: PreparedJob): Promise<T> {
    const made = await this.#containersFor(job, prepared);
    let outcome: DockerJobOutcome | undefined;
    try {
      made.listen(job.onLogLine);
      // The engine's events about the containers are asked for while their files are written: the
      // stream must be open before they start, and need not cost the step a round trip of its own.
      const watching = OutsideStops.watch(
        this.#docker,
        made.containers.map((c) => c.id),
      );
      try {
        await made.fill({
          function: job.function,
          instanceType: job.instanceType,
          hyperparameters: job.hyperparameters,
          channels: job.channels,
        });
      } catch (error) {
        void watching.then((w) => w.close());
        throw error;
      }
      const outside = await watching;
      outcome = await this.#runAll(job, made, outside);
      // The containers have exited and what they left is in bind-mounted host folders: removing them
      // while the outputs are collected takes the engine's removal time off every step's wall time.
      void made.removeContainers();
      return await collect(outcome);
    } finally {
      outcome?.close();
      // The work folder goes once collected; the next step need not wait for that, nor for the engine.
      this.#inBackground(job, made.removeAll());
    }
  }

  /** The containers `prepare` made for this job when its plan is the same, else new ones. */
  async #containersFor(job: JobSpec, prepared: PreparedJob | undefined): Promise<StepContainers> {
    if (prepared instanceof WarmContainers && prepared.key === planKey(job)) {
      const warm = await prepared.take();
      if (warm?.usable) return warm;
      // Started early and ended before its step began (killed from outside, the engine restarted): it ran nothing of the step.
      if (warm) this.#inBackground(job, warm.removeAll());
    }
    prepared?.discard();
    // An earlier attempt's (or the discarded) containers have the same names: they must be gone first.
    await this.#settled((r) => r.executionId === job.executionId && r.stepName === job.stepName);
    // A restarting engine is not the step's failure: it is waited for (a retry after an engine restart
    // would otherwise fail at once), then the containers are created once more.
    return whenEngineReturns(this.#docker, () => StepContainers.create(this.#docker, job, this.#logger), {
      signal: job.signal,
      onWait: (within) =>
        this.#logger.warn(
          { event: "engine.waiting", step: job.stepName },
          `the Docker engine went away before step "${job.stepName}" started; waiting up to ${within} s for it to answer again`,
        ),
    });
  }

  #inBackground(step: Pick<JobPlan, "executionId" | "stepName">, removal: Promise<void>): void {
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

  async #runAll(job: JobSpec, made: StepContainers, outside: OutsideStops): Promise<DockerJobOutcome> {
    const { setups, containers, logs } = made;
    let stopped: StopReason | undefined;
    /** Whether stepbox itself signalled the containers: a signal it did not send came from outside. */
    let signalledHere = false;
    const stopContainers = (graceSeconds: number): void => {
      signalledHere = true;
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
    // A host on a volume of its own gets ENOSPC from the kernel at its limit. The others are watched,
    // and a step that writes past their cap is killed at once: waiting would let it fill the disk.
    const watched = setups.filter((s) => s.volume === undefined);
    const sizeWatch =
      watched.length === 0
        ? undefined
        : watchOutputSize(
            watched.flatMap((s) => s.writable),
            hostOutputLimitBytes(job) * watched.length,
            () => stopAll("OutputLimitExceeded", 0),
          );

    const startedAt = new Date();
    const engine = watchEngine(this.#docker, `to wait for the containers of step "${job.stepName}"`);
    try {
      try {
        await made.start();
      } catch (error) {
        throw engineError(`to start the containers of step "${job.stepName}"`, error);
      }
      if (job.signal.aborted) onAbort();
      if (job.killSignal.aborted) onKill();
      // A host that fails ends the job: the others are stopped, as SageMaker does.
      let firstFailedHost: string | undefined;
      const exits = await Promise.race([
        engine.lost,
        Promise.all(
          containers.map(async (_, i) => {
            let status: number;
            try {
              status = await made.exit(i);
            } catch (error) {
              throw engineError(`to wait for the containers of step "${job.stepName}"`, error);
            }
            if (status !== 0 && firstFailedHost === undefined) {
              firstFailedHost = setups[i]!.host;
              if (containers.length > 1) stopContainers(job.stopGraceSeconds);
            }
            return status;
          }),
        ),
      ]);
      await Promise.all(logs.map((l) => l.done));
      const watchedBytes = (await sizeWatch?.stop()) ?? 0;
      const volumes = await Promise.all(setups.map((s) => (s.volume === undefined ? undefined : volumeUsage(s.volume))));
      const outputBytes = volumes.reduce((sum, v) => sum + (v?.usedBytes ?? 0), watchedBytes);
      if (stopped === undefined && !signalledHere) stopped = await this.#stoppedOutside(containers, exits, outside);
      const hosts: EndedHost[] = [];
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
          exit: {
            host: setup.host,
            exitCode: state.ExitCode ?? exits[i] ?? -1,
            oomKilled: state.OOMKilled === true,
            outOfSpace: volumes[i]?.full === true,
            logStream: `${job.jobName}/${setup.host}-${Math.floor(startedAt.getTime() / 1000)}`,
            lastLogLines: logs[i]!.tail,
          },
          setup,
          logBytes: (await stat(hostLogFile(setup))).size,
        });
      }
      return new DockerJobOutcome({ stepName: job.stepName, hosts, stopped, firstFailedHost, outputBytes, startedAt, endedAt: new Date() });
    } finally {
      engine.stop();
      outside.close();
      clearTimeout(timer);
      job.signal.removeEventListener("abort", onAbort);
      job.killSignal.removeEventListener("abort", onKill);
      await sizeWatch?.stop();
    }
  }

  /**
   * Whether a container that failed was stopped from outside stepbox: sent a signal through the engine
   * that stepbox did not send, or left running when the engine itself went away.
   */
  async #stoppedOutside(containers: readonly Docker.Container[], exits: readonly number[], outside: OutsideStops): Promise<StopReason | undefined> {
    for (const [i, c] of containers.entries()) {
      if (exits[i] === 0) continue;
      if ((await outside.signalled(c.id)) !== undefined || outside.engineLeft) return "StoppedOutside";
    }
    return undefined;
  }
}

/**
 * Starts containers made ahead whose runner waits for its start marker (see StepContainers.startEarly);
 * ones that cannot start are removed, and the step makes its own when it runs.
 */
async function startEarly(made: StepContainers): Promise<StepContainers> {
  if (!made.canStartEarly) return made;
  try {
    await made.startEarly();
    return made;
  } catch (error) {
    await made.removeAll();
    throw error;
  }
}
