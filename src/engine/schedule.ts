/** What the scheduler needs of a graph: its steps by name and the edges between them. */
export interface StepGraph {
  readonly steps: readonly { readonly name: string }[];
  readonly upstream: { get(name: string): readonly string[] | undefined };
  readonly downstream: { get(name: string): readonly string[] | undefined };
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
  readonly #names: readonly string[];
  readonly #index = new Map<string, number>();
  /**
   * Each step's downstream steps by number, packed: those of step i are
   * `#targets[#offsets[i]]` to `#targets[#offsets[i + 1] - 1]`. Numbers and two typed arrays rather
   * than a map of name lists: settling costs no lookup by name per edge and leaves nothing to collect.
   */
  readonly #offsets: Int32Array;
  readonly #targets: Int32Array;
  /** Upstream steps each step still waits for. */
  readonly #waiting: Int32Array;
  readonly #blocked: Uint8Array;
  readonly #onSkip: (name: string) => void;

  /** `onSkip` hears of each step skipped instead of run, as it is skipped. */
  constructor(graph: StepGraph, onSkip: (name: string) => void = () => {}) {
    this.#onSkip = onSkip;
    const names = graph.steps.map((s) => s.name);
    this.#names = names;
    for (let i = 0; i < names.length; i++) this.#index.set(names[i]!, i);
    this.#waiting = new Int32Array(names.length);
    this.#blocked = new Uint8Array(names.length);
    this.#offsets = new Int32Array(names.length + 1);
    let edges = 0;
    for (let i = 0; i < names.length; i++) {
      this.#waiting[i] = graph.upstream.get(names[i]!)?.length ?? 0;
      edges += graph.downstream.get(names[i]!)?.length ?? 0;
    }
    this.#targets = new Int32Array(edges);
    let at = 0;
    for (let i = 0; i < names.length; i++) {
      this.#offsets[i] = at;
      for (const next of graph.downstream.get(names[i]!) ?? []) this.#targets[at++] = this.#index.get(next)!;
    }
    this.#offsets[names.length] = at;
  }

  /** The steps that wait for nothing, in the graph's order. */
  start(): string[] {
    return this.#names.filter((_, i) => this.#waiting[i] === 0);
  }

  /** Marks steps that must not run (a condition's branch not taken); they and their downstream are skipped when ready. */
  block(names: Iterable<string>): void {
    for (const name of names) {
      const i = this.#index.get(name);
      if (i !== undefined) this.#blocked[i] = 1;
    }
  }

  /**
   * Records that a step ended and returns the steps that became ready to run, in the graph's
   * downstream order. Steps that became ready while blocked are skipped here, with their downstream.
   */
  settle(name: string, end: StepEnd): string[] {
    const ready: string[] = [];
    const settled = this.#index.get(name);
    if (settled === undefined || (end !== "Succeeded" && end !== "Skipped")) return ready;
    // Steps whose end releases their downstream; a skipped one is stored as -1 - its number.
    const ended: number[] = [end === "Skipped" ? -1 - settled : settled];
    while (ended.length > 0) {
      const entry = ended.pop()!;
      const skipped = entry < 0;
      const current = skipped ? -1 - entry : entry;
      for (let e = this.#offsets[current]!; e < this.#offsets[current + 1]!; e++) {
        const next = this.#targets[e]!;
        if (skipped) this.#blocked[next] = 1;
        if (--this.#waiting[next]! !== 0) continue;
        if (this.#blocked[next] === 1) {
          this.#onSkip(this.#names[next]!);
          ended.push(-1 - next);
        } else {
          ready.push(this.#names[next]!);
        }
      }
    }
    return ready;
  }
}
