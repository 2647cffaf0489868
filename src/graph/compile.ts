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
  readonly upstream: ReadonlyMap<string, readonly string[]>;
  /** The names that wait for each step. */
  readonly downstream: ReadonlyMap<string, readonly string[]>;
  /** For each condition step, the steps of each branch. */
  readonly branches: ReadonlyMap<string, { readonly ifSteps: readonly string[]; readonly elseSteps: readonly string[] }>;
  step(name: string): PipelineStep | undefined;
  /** The name this pipeline gives a step it holds (or the step behind a DelayedReturn); undefined for any other. */
  nameOf(ref: PipelineStep | DelayedReturn): string | undefined;
}

/**
 * Finds every step reachable from the listed ones (through data and explicit dependencies), names
 * them, and checks the result. All errors are raised here, before anything runs.
 */
export function compilePipeline(pipelineName: string, roots: readonly unknown[]): PipelineGraph {
  const discovered: PipelineStep[] = [];
  const known = new Set<PipelineStep>();
  const pendingNames: Array<{ from: PipelineStep; name: string }> = [];
  const pendingBranchNames: Array<{ condition: PipelineStep; name: string; which: string }> = [];

  const toStep = (ref: unknown, where: string): PipelineStep | undefined => {
    if (isDelayedReturn(ref)) return ref.step;
    if (isPipelineStep(ref)) return ref;
    if (typeof ref === "string") return undefined;
    throw new ValidationError(`pipeline "${pipelineName}": ${where} ${inspect(ref)} is not a step`, {
      code: "INVALID_PIPELINE",
      hint: "list the DelayedReturns your step calls returned, e.g. new Pipeline({ name, steps: [evaluate(model)] })",
    });
  };

  const queue: PipelineStep[] = [];
  const visit = (candidate: PipelineStep): void => {
    if (known.has(candidate)) return;
    known.add(candidate);
    discovered.push(candidate);
    queue.push(candidate);
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
  const edges = new Map<PipelineStep, PipelineStep[]>();
  const gated: Array<{ condition: PipelineStep; step: PipelineStep }> = [];
  const branchTargets = new Map<ConditionStep, { ifSteps: Array<PipelineStep | string>; elseSteps: Array<PipelineStep | string> }>();
  while (queue.length > 0) {
    const current = queue.shift()!;
    const ups: PipelineStep[] = [];
    for (const ref of current.upstream() as StepReference[]) {
      const up = toStep(ref, `a dependency of step "${current.name}",`);
      if (up) {
        visit(up);
        ups.push(up);
      } else {
        pendingNames.push({ from: current, name: ref as string });
      }
    }
    edges.set(current, ups);
    if (current instanceof ConditionStep) {
      const branch = (refs: readonly StepReference[], which: string): Array<PipelineStep | string> =>
        refs.map((ref) => {
          const target = toStep(ref, `a step of the ${which} of condition "${current.name}",`);
          if (!target) {
            pendingBranchNames.push({ condition: current, name: ref as string, which });
            return ref as string;
          }
          visit(target);
          gated.push({ condition: current, step: target });
          return target;
        });
      branchTargets.set(current, { ifSteps: branch(current.ifSteps, "ifSteps"), elseSteps: branch(current.elseSteps, "elseSteps") });
    }
  }

  const names = nameSteps(discovered);
  const byName = new Map<string, PipelineStep>();
  for (const s of discovered) {
    const name = names.get(s)!;
    if (byName.has(name)) throw new DuplicateStepNameError(name);
    byName.set(name, s);
  }

  for (const { condition, name, which } of pendingBranchNames) {
    const target = byName.get(name);
    if (!target) {
      throw new ValidationError(`the ${which} of condition "${condition.name}" name "${name}", which is not a step of pipeline "${pipelineName}"`, {
        code: "INVALID_PIPELINE",
        hint: "list the branch's steps themselves (their DelayedReturns) in ifSteps/elseSteps",
      });
    }
    gated.push({ condition, step: target });
  }
  for (const { condition, step } of gated) edges.get(step)!.push(condition);
  for (const { from, name } of pendingNames) {
    const target = byName.get(name);
    if (!target) {
      throw new ValidationError(`step "${names.get(from)!}" depends on "${name}", which is not a step of pipeline "${pipelineName}"`, {
        code: "INVALID_PIPELINE",
        hint: `its steps are: ${[...byName.keys()].join(", ")}`,
      });
    }
    edges.get(from)!.push(target);
  }

  const nameOfTarget = (target: PipelineStep | string): string => (typeof target === "string" ? target : names.get(target)!);
  const branches = new Map<string, { ifSteps: string[]; elseSteps: string[] }>();
  for (const [condition, targets] of branchTargets) {
    branches.set(names.get(condition)!, { ifSteps: targets.ifSteps.map(nameOfTarget), elseSteps: targets.elseSteps.map(nameOfTarget) });
  }
  const upstream = new Map<string, string[]>();
  const downstream = new Map<string, string[]>();
  for (const s of discovered) downstream.set(names.get(s)!, []);
  for (const s of discovered) {
    const ups = [...new Set(edges.get(s)!.map((u) => names.get(u)!))];
    upstream.set(names.get(s)!, ups);
    for (const u of ups) downstream.get(u)!.push(names.get(s)!);
  }

  const order = topologicalOrder(discovered.map((s) => names.get(s)!), upstream);
  const placed = placeSteps(order.map((name) => byName.get(name)!), { names, branches });
  const placedByName = new Map([...placed].map(([original, copy]) => [names.get(original)!, copy]));
  for (const [original, copy] of placed) names.set(copy, names.get(original)!);
  return {
    steps: order.map((name) => placedByName.get(name)!),
    upstream,
    downstream,
    branches,
    step: (name) => placedByName.get(name),
    nameOf: (ref) => names.get(isDelayedReturn(ref) ? ref.step : ref),
  };
}

/** Depth-first order that puts every step after its upstream steps; reports a cycle by its names. */
function topologicalOrder(discovered: readonly string[], upstream: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, "visiting" | "done">();
  const order: string[] = [];
  const path: string[] = [];
  const visit = (name: string): void => {
    const seen = state.get(name);
    if (seen === "done") return;
    if (seen === "visiting") {
      const start = path.indexOf(name);
      throw new CycleError([...path.slice(start), name]);
    }
    state.set(name, "visiting");
    path.push(name);
    for (const up of upstream.get(name) ?? []) visit(up);
    path.pop();
    state.set(name, "done");
    order.push(name);
  };
  // Discovery starts from the leaves; visiting in reverse keeps source steps early and stable.
  for (const name of [...discovered].reverse()) visit(name);
  return order;
}
