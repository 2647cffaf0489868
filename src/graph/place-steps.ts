import { DelayedReturn, isDelayedReturn } from "../dsl/delayed-return.js";
import { ConditionStep, FailStep } from "../dsl/control-steps.js";
import { FunctionStep, type PipelineStep, type StepReference } from "../dsl/function-step.js";
import { Join, isJoin } from "../dsl/join.js";
import { replacePipelineValues, type PipelineValue } from "../dsl/pipeline-value.js";
import { projectRelativePaths } from "../dsl/module-path.js";

/** What placing a pipeline's steps needs to know about the pipeline. */
export interface Placement {
  /** The pipeline's name for each step it holds. */
  readonly names: ReadonlyMap<PipelineStep, string>;
  /** For each condition step (by name), the names of the steps of each branch. */
  readonly branches: ReadonlyMap<string, { readonly ifSteps: readonly string[]; readonly elseSteps: readonly string[] }>;
}

/**
 * The pipeline's own copy of each step: named as the pipeline names it, its dependencies written as
 * those names, and every DelayedReturn in its arguments, conditions and messages pointing at the
 * pipeline's copy of the step that produces it. The engine and the definition read only these
 * copies, so a step call shared by two pipelines runs under each pipeline's name. `steps` must be
 * in topological order: a step's producers are placed before it.
 */
export function placeSteps(steps: readonly PipelineStep[], placement: Placement): Map<PipelineStep, PipelineStep> {
  const placed = new Map<PipelineStep, PipelineStep>();
  const modulePath = projectRelativePaths();
  const nameOf = (ref: StepReference): string => (typeof ref === "string" ? ref : placement.names.get(isDelayedReturn(ref) ? ref.step : ref)!);
  const rebind = (value: unknown): unknown => replacePipelineValues(value, rebindOne);
  const rebindOne = (value: PipelineValue): unknown => {
    if (isDelayedReturn(value)) return new DelayedReturn(placed.get(value.step) as FunctionStep, value.path);
    if (isJoin(value)) return new Join({ on: value.on, values: value.values.map(rebind) });
    return value;
  };

  for (const s of steps) {
    const name = placement.names.get(s)!;
    if (s instanceof FunctionStep) {
      const { definition } = s;
      const description = definition.options.description ?? (definition.sourceFile ? modulePath(definition.sourceFile) : definition.baseName);
      placed.set(s, new FunctionStep(definition, s.args.map(rebind), { name, description, dependsOn: s.dependsOn.map(nameOf) }));
    } else if (s instanceof ConditionStep) {
      const branches = placement.branches.get(name)!;
      placed.set(
        s,
        new ConditionStep({
          name,
          displayName: s.displayName,
          description: s.description,
          dependsOn: s.dependsOn.map(nameOf),
          conditions: s.conditions.map((c) => c.mapOperands(rebind)),
          ifSteps: branches.ifSteps,
          elseSteps: branches.elseSteps,
        }),
      );
    } else if (s instanceof FailStep) {
      placed.set(
        s,
        new FailStep({
          name,
          displayName: s.displayName,
          description: s.description,
          dependsOn: s.dependsOn.map(nameOf),
          errorMessage: rebind(s.errorMessage),
        }),
      );
    } else {
      placed.set(s, s);
    }
  }
  return placed;
}
