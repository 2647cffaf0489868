import type { JobPlan, PreparedJob, StepRuntime } from "../runtime/step-runtime.js";
import type { StepGraph } from "./schedule.js";

/**
 * Containers made ahead for one step, once its plan is known: the plan is worked out while earlier
 * steps run, and a discard that comes first means nothing is made.
 */
class AheadJob {
  readonly ready: Promise<PreparedJob | undefined>;
  #discarded = false;
  #prepared: PreparedJob | undefined;

  constructor(plan: Promise<JobPlan | undefined>, runtime: StepRuntime) {
    this.ready = plan.then(
      (p) => {
        if (!p || this.#discarded) return undefined;
        this.#prepared = runtime.prepare(p);
        return this.#prepared;
      },
      // The step itself reports what is wrong with it when it runs.
      () => undefined,
    );
  }

  discard(): void {
    this.#discarded = true;
    this.#prepared?.discard();
  }
}

/**
 * Has the runtime create the containers of the steps that can start next while earlier steps run, so
 * that starting a step costs a start, not a create. A step can start next once it is queued, or once
 * every step it waits for has ended or is running. At most `limit` steps hold containers made ahead
 * and not yet taken, the first candidates first; whatever is not taken is discarded (a branch not
 * taken, a failure, a stop), and `close` waits until the runtime has removed it all.
 */
export class StepLookahead {
  readonly #graph: StepGraph;
  readonly #runtime: StepRuntime;
  readonly #executionId: string;
  readonly #limit: number;
  /** The plan of a step's first attempt, or undefined for a step that runs no containers or cannot be planned ahead. */
  readonly #plan: (name: string) => Promise<JobPlan | undefined>;
  readonly #running = new Set<string>();
  readonly #ended = new Set<string>();
  /** Steps that can start next and have no containers yet, in the order they became so. */
  readonly #candidates = new Set<string>();
  readonly #prepared = new Map<string, AheadJob>();
  /** Steps never to prepare again: planned once (taken or not), ended, or not plannable. */
  readonly #done = new Set<string>();
  #closed = false;

  constructor(graph: StepGraph, runtime: StepRuntime, executionId: string, limit: number, plan: (name: string) => Promise<JobPlan | undefined>) {
    this.#graph = graph;
    this.#runtime = runtime;
    this.#executionId = executionId;
    this.#limit = limit;
    this.#plan = plan;
  }

  /** The step waits in the queue for a slot. */
  queued(name: string): void {
    this.#offer(name);
    this.#fill();
  }

  /** The step starts: the steps that wait only on it and on steps that ended or run can start next. */
  started(name: string): void {
    this.#running.add(name);
    for (const next of this.#graph.downstream.get(name) ?? []) {
      const upstream = this.#graph.upstream.get(next) ?? [];
      if (upstream.every((u) => this.#running.has(u) || this.#ended.has(u))) this.#offer(next);
    }
    this.#fill();
  }

  /** The containers made ahead for the step's first attempt, when there are. */
  async take(name: string): Promise<PreparedJob | undefined> {
    const ahead = this.#prepared.get(name);
    this.#prepared.delete(name);
    this.#done.add(name);
    this.#candidates.delete(name);
    this.#fill();
    return ahead?.ready;
  }

  /** The step ended (ran, was skipped or never started): what was made for it and not taken goes. */
  ended(name: string): void {
    this.#running.delete(name);
    this.#ended.add(name);
    this.#done.add(name);
    this.#candidates.delete(name);
    this.#prepared.get(name)?.discard();
    this.#prepared.delete(name);
    this.#fill();
  }

  /** Nothing more starts: discards what was not taken and waits until every container of the execution is removed. */
  close(): Promise<void> {
    this.#closed = true;
    for (const prepared of this.#prepared.values()) prepared.discard();
    this.#prepared.clear();
    return this.#runtime.drain(this.#executionId);
  }

  #offer(name: string): void {
    if (!this.#done.has(name) && !this.#prepared.has(name)) this.#candidates.add(name);
  }

  #fill(): void {
    for (const name of this.#candidates) {
      if (this.#closed || this.#prepared.size >= this.#limit) return;
      this.#candidates.delete(name);
      this.#prepared.set(name, new AheadJob(this.#plan(name), this.#runtime));
    }
  }
}
