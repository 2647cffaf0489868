import { inspect } from "node:util";
import { CycleError, DuplicateStepNameError, ValidationError } from "../errors.js";
import { isDelayedReturn, type DelayedReturn } from "../dsl/delayed-return.js";
import { ConditionStep } from "../dsl/control-steps.js";
import { isPipelineStep, type PipelineStep, type StepReference } from "../dsl/function-step.js";
import { placeSteps } from "./place-steps.js";
import { nameSteps } from "./step-names.js";

/**
 * A pipeline's steps, checked: unique names, no cycles, in a stable topological order. Its steps are
 * the pipeline's own copies of the steps it was built from, named as this pipeline names them.
 */
export interface PipelineGraph {
  /** Every step, in topological order (ties broken by discovery order, so it is deterministic). */
  readonly steps: readonly PipelineStep[];
  /** The names each step must wait for. */
  readonly upstream: StepLinks;
  /** The names that wait for each step. */
  readonly downstream: StepLinks;
  /** For each condition step, the steps of each branch. */
  readonly branches: ReadonlyMap<string, { readonly ifSteps: readonly string[]; readonly elseSteps: readonly string[] }>;
  step(name: string): PipelineStep | undefined;
  /** The name this pipeline gives a step it holds (or the step behind a DelayedReturn); undefined for any other. */
  nameOf(ref: PipelineStep | DelayedReturn): string | undefined;
}

/**
 * Each step's upstream (or downstream) steps, by its name. Looked up through the graph's one index of
 * names rather than held in a map of their own: a pipeline may have a million steps.
 */
export interface StepLinks {
  get(name: string): readonly string[] | undefined;
}

/**
 * Finds every step reachable from the listed ones (through data and explicit dependencies), names
 * them, and checks the result. All errors are raised here, before anything runs.
 */
/** The list of a step with no upstream or no downstream steps, shared: a pipeline may hold a million. */
const NONE: readonly string[] = Object.freeze([]);

export function compilePipeline(pipelineName: string, roots: readonly unknown[]): PipelineGraph {
  // Steps are numbered in discovery order; edges and the walks below use those numbers. Names come
  // after discovery (the pipeline names its calls), so discovery goes by identity.
  const indexOf = new Map<PipelineStep, number>();
  const discovered: PipelineStep[] = [];
  const pendingNames: Array<{ from: number; name: string }> = [];
  const pendingBranchNames: Array<{ condition: number; name: string; which: string }> = [];

  const toStep = (ref: unknown, where: string): PipelineStep | undefined => {
    if (isDelayedReturn(ref)) return ref.step;
    if (isPipelineStep(ref)) return ref;
    if (typeof ref === "string") return undefined;
    throw new ValidationError(`pipeline "${pipelineName}": ${where} ${inspect(ref)} is not a step`, {
      code: "INVALID_PIPELINE",
      hint: "list the DelayedReturns your step calls returned, e.g. new Pipeline({ name, steps: [evaluate(model)] })",
    });
  };

  /** The number of a step, discovering it when it is new. */
  const visit = (candidate: PipelineStep): number => {
    const known = indexOf.get(candidate);
    if (known !== undefined) return known;
    indexOf.set(candidate, discovered.length);
    return discovered.push(candidate) - 1;
  };

  if (roots.length === 0) {
    throw new ValidationError(`pipeline "${pipelineName}" has no steps`, {
      code: "INVALID_PIPELINE",
      hint: "pass the outputs of your last steps: new Pipeline({ name, steps: [train(data)] })",
    });
  }
  for (const root of roots) {
    const found = toStep(root, "steps entry");
    if (!found) {
      throw new ValidationError(`pipeline "${pipelineName}": steps must be steps or DelayedReturns, got the string "${String(root)}"`, {
        code: "INVALID_PIPELINE",
      });
    }
    visit(found);
  }
  /** The upstream steps of each step, by number, in the order found (repeats removed later). */
  const edges: number[][] = [];
  const gated: Array<{ condition: number; step: number }> = [];
  const branchTargets: Array<{ condition: number; ifSteps: Array<number | string>; elseSteps: Array<number | string> }> = [];
  // Breadth-first over `discovered` as it grows: a cursor, not queue.shift(), which moves the whole
  // array on every call and made compiling quadratic in the number of steps.
  for (let next = 0; next < discovered.length; next++) {
    const current = discovered[next]!;
    const ups: number[] = [];
    for (const ref of current.upstream() as StepReference[]) {
      const up = toStep(ref, `a dependency of step "${current.name}",`);
      if (up) ups.push(visit(up));
      else pendingNames.push({ from: next, name: ref as string });
    }
    edges.push(ups);
    if (current instanceof ConditionStep) {
      const branch = (refs: readonly StepReference[], which: string): Array<number | string> =>
        refs.map((ref) => {
          const target = toStep(ref, `a step of the ${which} of condition "${current.name}",`);
          if (!target) {
            pendingBranchNames.push({ condition: next, name: ref as string, which });
            return ref as string;
          }
          const index = visit(target);
          gated.push({ condition: next, step: index });
          return index;
        });
      branchTargets.push({ condition: next, ifSteps: branch(current.ifSteps, "ifSteps"), elseSteps: branch(current.elseSteps, "elseSteps") });
    }
  }

  const names = nameSteps(discovered);
  const nameAt = discovered.map((s) => names.get(s)!);
  const byName = new Map<string, number>();
  for (let i = 0; i < nameAt.length; i++) {
    if (byName.has(nameAt[i]!)) throw new DuplicateStepNameError(nameAt[i]!);
    byName.set(nameAt[i]!, i);
  }

  for (const { condition, name, which } of pendingBranchNames) {
    const target = byName.get(name);
    if (target === undefined) {
      throw new ValidationError(`the ${which} of condition "${nameAt[condition]!}" name "${name}", which is not a step of pipeline "${pipelineName}"`, {
        code: "INVALID_PIPELINE",
        hint: "list the branch's steps themselves (their DelayedReturns) in ifSteps/elseSteps",
      });
    }
    gated.push({ condition, step: target });
  }
  for (const { condition, step } of gated) edges[step]!.push(condition);
  for (const { from, name } of pendingNames) {
    const target = byName.get(name);
    if (target === undefined) {
      throw new ValidationError(`step "${nameAt[from]!}" depends on "${name}", which is not a step of pipeline "${pipelineName}"`, {
        code: "INVALID_PIPELINE",
        hint: `its steps are: ${nameAt.join(", ")}`,
      });
    }
    edges[from]!.push(target);
  }

  const nameOfTarget = (target: number | string): string => (typeof target === "string" ? target : nameAt[target]!);
  const branches = new Map<string, { ifSteps: string[]; elseSteps: string[] }>();
  for (const { condition, ifSteps, elseSteps } of branchTargets) {
    branches.set(nameAt[condition]!, { ifSteps: ifSteps.map(nameOfTarget), elseSteps: elseSteps.map(nameOfTarget) });
  }

  // Each step's upstream steps once, first mention first: `seenBy[u] === s` says s already lists u.
  const seenBy = new Int32Array(discovered.length).fill(-1);
  const upstreamIndices: number[][] = [];
  const downstreamNames: Array<string[] | undefined> = new Array(discovered.length);
  const upstreamNames: Array<readonly string[]> = [];
  for (let s = 0; s < discovered.length; s++) {
    const unique: number[] = [];
    for (const u of edges[s]!) {
      if (seenBy[u] === s) continue;
      seenBy[u] = s;
      unique.push(u);
      (downstreamNames[u] ??= []).push(nameAt[s]!);
    }
    upstreamIndices.push(unique);
    upstreamNames.push(unique.length === 0 ? NONE : unique.map((u) => nameAt[u]!));
  }

  const order = topologicalOrder(upstreamIndices, nameAt);
  const placed = placeSteps(
    order.map((i) => discovered[i]!),
    { names, branches },
  );
  const placedAt = discovered.map((s) => placed.get(s)!);
  return pipelineGraph(
    order.map((i) => placedAt[i]!),
    {
      upstream: linksByName(byName, upstreamNames),
      downstream: linksByName(byName, downstreamNames),
      branches,
      names,
      step: stepByName(byName, placedAt),
    },
  );
}

/** Each step's list by its name, through the discovery's numbers; made apart from compilePipeline for the reason below. */
function linksByName(byName: ReadonlyMap<string, number>, lists: readonly (readonly string[] | undefined)[]): StepLinks {
  return {
    get: (name) => {
      const at = byName.get(name);
      // A step with none has no list of its own.
      return at === undefined ? undefined : (lists[at] ?? NONE);
    },
  };
}

/** Looks a step up by its name through the discovery's numbers; made apart from compilePipeline for the reason below. */
function stepByName(byName: ReadonlyMap<string, number>, stepAt: readonly PipelineStep[]): (name: string) => PipelineStep | undefined {
  return (name) => {
    const at = byName.get(name);
    return at === undefined ? undefined : stepAt[at];
  };
}

/**
 * The compiled graph. Built apart from compilePipeline's scope, so that the graph holds only what it
 * answers from, not the discovery's own maps and lists (a closure there would keep them all alive).
 */
function pipelineGraph(
  steps: readonly PipelineStep[],
  parts: Pick<PipelineGraph, "upstream" | "downstream" | "branches" | "step"> & { names: ReadonlyMap<PipelineStep, string> },
): PipelineGraph {
  const { upstream, downstream, branches, names, step } = parts;
  return {
    steps,
    upstream,
    downstream,
    branches,
    step,
    nameOf: (ref) => {
      const s = isDelayedReturn(ref) ? ref.step : ref;
      // An original the pipeline was built from, or one of the graph's own copies, named as placed.
      return names.get(s) ?? (step(s.name) === s ? s.name : undefined);
    },
  };
}

/**
 * Depth-first order (step numbers) that puts every step after its upstream steps; reports a cycle by
 * its names. The walk keeps its own stack (the path from the step it started at), so a chain of a
 * million steps does not overflow the call stack.
 */
function topologicalOrder(upstream: readonly (readonly number[])[], names: readonly string[]): number[] {
  const VISITING = 1;
  const DONE = 2;
  const state = new Uint8Array(upstream.length);
  /** For each step on the path, how many of its upstream steps the walk has entered. */
  const entered = new Int32Array(upstream.length);
  const order: number[] = [];
  const path: number[] = [];
  // Discovery starts from the leaves; visiting in reverse keeps source steps early and stable.
  for (let root = upstream.length - 1; root >= 0; root--) {
    if (state[root] !== 0) continue;
    state[root] = VISITING;
    path.push(root);
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const ups = upstream[top]!;
      if (entered[top] === ups.length) {
        path.pop();
        state[top] = DONE;
        order.push(top);
        continue;
      }
      const up = ups[entered[top]!]!;
      entered[top]!++;
      if (state[up] === VISITING) {
        throw new CycleError([...path.slice(path.indexOf(up)), up].map((i) => names[i]!));
      }
      if (state[up] === 0) {
        state[up] = VISITING;
        path.push(up);
      }
    }
  }
  return order;
}
