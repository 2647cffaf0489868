import { inspect } from "node:util";
import { CycleError, DuplicateStepNameError, ValidationError } from "../errors.js";
import { isDelayedReturn } from "../dsl/delayed-return.js";
import { ConditionStep } from "../dsl/control-steps.js";
import { isPipelineStep, type PipelineStep, type StepReference } from "../dsl/function-step.js";

/** A pipeline's steps, checked: unique names, no cycles, in a stable topological order. */
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
}

/**
 * Finds every step reachable from the listed ones (through data and explicit dependencies), and
 * checks the result. All errors are raised here, before anything runs.
 */
export function compilePipeline(pipelineName: string, roots: readonly unknown[]): PipelineGraph {
  const byName = new Map<string, PipelineStep>();
  const discovered: PipelineStep[] = [];
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
    const known = byName.get(candidate.name);
    if (known === candidate) return;
    if (known) throw new DuplicateStepNameError(candidate.name);
    byName.set(candidate.name, candidate);
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
  const branches = new Map<string, { ifSteps: string[]; elseSteps: string[] }>();
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
      const branch = (refs: readonly StepReference[], which: string): string[] =>
        refs.map((ref) => {
          const target = toStep(ref, `a step of the ${which} of condition "${current.name}",`);
          if (!target) {
            pendingBranchNames.push({ condition: current, name: ref as string, which });
            return ref as string;
          }
          visit(target);
          gated.push({ condition: current, step: target });
          return target.name;
        });
      branches.set(current.name, { ifSteps: branch(current.ifSteps, "ifSteps"), elseSteps: branch(current.elseSteps, "elseSteps") });
    }
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
      throw new ValidationError(`step "${from.name}" depends on "${name}", which is not a step of pipeline "${pipelineName}"`, {
        code: "INVALID_PIPELINE",
        hint: `its steps are: ${[...byName.keys()].join(", ")}`,
      });
    }
    edges.get(from)!.push(target);
  }

  const upstream = new Map<string, string[]>();
  const downstream = new Map<string, string[]>();
  for (const s of discovered) downstream.set(s.name, []);
  for (const s of discovered) {
    const names = [...new Set(edges.get(s)!.map((u) => u.name))];
    upstream.set(s.name, names);
    for (const u of names) downstream.get(u)!.push(s.name);
  }
  const order = topologicalOrder(discovered, upstream);
  return {
    steps: order,
    upstream,
    downstream,
    branches,
    step: (name) => byName.get(name),
  };
}

/** Depth-first order that puts every step after its upstream steps; reports a cycle by its names. */
function topologicalOrder(steps: readonly PipelineStep[], upstream: ReadonlyMap<string, readonly string[]>): PipelineStep[] {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const state = new Map<string, "visiting" | "done">();
  const order: PipelineStep[] = [];
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
    order.push(byName.get(name)!);
  };
  // Discovery starts from the leaves; visiting in reverse keeps source steps early and stable.
  for (const s of [...steps].reverse()) visit(s.name);
  return order;
}
