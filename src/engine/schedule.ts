/** What the scheduler needs of a graph: its steps by name and the edges between them. */
export interface StepGraph {
  readonly steps: readonly { readonly name: string }[];
  readonly upstream: ReadonlyMap<string, readonly string[]>;
  readonly downstream: ReadonlyMap<string, readonly string[]>;
}

/** How a step ended, as the scheduler sees it. */
export type StepEnd = "Succeeded" | "Failed" | "Stopped" | "Skipped";

/**
 * Which steps of a graph may start: a step is ready once every upstream step has succeeded or been
 * skipped. A step in a branch not taken (`block`), or downstream of a skipped step, is skipped
 * instead of run, when it would have been ready. A step that failed or stopped releases nothing.
 *
 * Pure bookkeeping, no I/O: each call costs time in the edges it touches, so running a whole graph
 * costs time linear in its steps and edges, and the walk over skipped steps uses a stack of its own,
 * not recursion, so a chain of a million skipped steps does not overflow the call stack.
 */
export class StepSchedule {
  readonly #downstream: StepGraph["downstream"];
  /** Upstream steps each step still waits for. */
  readonly #waiting = new Map<string, number>();
  readonly #blocked = new Set<string>();
  readonly #initial: string[] = [];
  readonly #onSkip: (name: string) => void;

  /** `onSkip` hears of each step skipped instead of run, as it is skipped. */
  constructor(graph: StepGraph, onSkip: (name: string) => void = () => {}) {
    this.#downstream = graph.downstream;
    this.#onSkip = onSkip;
    for (const s of graph.steps) {
      const count = graph.upstream.get(s.name)?.length ?? 0;
      this.#waiting.set(s.name, count);
      if (count === 0) this.#initial.push(s.name);
    }
  }

  /** The steps that wait for nothing, in the graph's order. */
  start(): string[] {
    return [...this.#initial];
  }

  /** Marks steps that must not run (a condition's branch not taken); they and their downstream are skipped when ready. */
  block(names: Iterable<string>): void {
    for (const name of names) this.#blocked.add(name);
  }

  /**
   * Records that a step ended and returns the steps that became ready to run, in the graph's
   * downstream order. Steps that became ready while blocked are skipped here, with their downstream.
   */
  settle(name: string, end: StepEnd): string[] {
    const ready: string[] = [];
    if (end !== "Succeeded" && end !== "Skipped") return ready;
    const ended: Array<{ name: string; skipped: boolean }> = [{ name, skipped: end === "Skipped" }];
    for (let current = ended.pop(); current; current = ended.pop()) {
      for (const next of this.#downstream.get(current.name) ?? []) {
        if (current.skipped) this.#blocked.add(next);
        const left = this.#waiting.get(next)! - 1;
        this.#waiting.set(next, left);
        if (left !== 0) continue;
        if (this.#blocked.has(next)) {
          this.#onSkip(next);
          ended.push({ name: next, skipped: true });
        } else {
          ready.push(next);
        }
      }
    }
    return ready;
  }
}
