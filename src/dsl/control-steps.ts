import { inspect } from "node:util";
import { ValidationError } from "../errors.js";
import { isDelayedReturn } from "./delayed-return.js";
import { Condition } from "./conditions.js";
import { isPipelineStep, type PipelineStep, type StepReference } from "./function-step.js";
import { forEachPipelineValue } from "./pipeline-value.js";
import { assertValidStepName } from "./step-options.js";

interface ControlStepOptions {
  name: string;
  displayName?: string;
  description?: string;
  /** Steps (or their outputs, or their names) this step must run after. */
  dependsOn?: readonly StepReference[];
}

/** The steps whose outputs the values use. */
function producers(values: readonly unknown[]): PipelineStep[] {
  const found = new Set<PipelineStep>();
  forEachPipelineValue(values, (value) => {
    if (isDelayedReturn(value)) found.add(value.step);
  });
  return [...found];
}

function checkReferences(owner: string, what: string, refs: unknown): StepReference[] {
  if (refs === undefined) return [];
  if (!Array.isArray(refs)) throw new ValidationError(`${owner}: ${what} must be a list`, { hint: `${what}: [step1, step2]` });
  for (const ref of refs) {
    if (!(typeof ref === "string" || isDelayedReturn(ref) || isPipelineStep(ref))) {
      throw new ValidationError(`${owner}: ${what} holds ${inspect(ref)}, which is not a step`, { hint: "list steps, DelayedReturns or step names" });
    }
  }
  return [...refs] as StepReference[];
}

abstract class ControlStep implements PipelineStep {
  readonly name: string;
  readonly displayName: string;
  readonly description: string;
  readonly dependsOn: readonly StepReference[];

  constructor(kind: string, options: ControlStepOptions) {
    if (!options || typeof options.name !== "string") {
      throw new ValidationError(`${kind} needs a name`, { code: "INVALID_STEP_OPTION", hint: `new ${kind}({ name: "check-accuracy", ... })` });
    }
    assertValidStepName(options.name, kind);
    this.name = options.name;
    this.displayName = options.displayName ?? options.name;
    this.description = options.description ?? kind;
    this.dependsOn = checkReferences(`${kind} "${options.name}"`, "dependsOn", options.dependsOn);
  }

  abstract upstream(): StepReference[];
}

/**
 * Runs `ifSteps` when every condition holds, `elseSteps` otherwise. The branch not taken, and
 * every step downstream of it, never runs.
 */
export class ConditionStep extends ControlStep {
  readonly kind = "condition" as const;
  readonly conditions: readonly Condition[];
  readonly ifSteps: readonly StepReference[];
  readonly elseSteps: readonly StepReference[];

  constructor(options: ControlStepOptions & { conditions: readonly Condition[]; ifSteps?: readonly StepReference[]; elseSteps?: readonly StepReference[] }) {
    super("ConditionStep", options);
    const owner = `ConditionStep "${options.name}"`;
    if (!Array.isArray(options.conditions) || options.conditions.length === 0 || !options.conditions.every((c) => c instanceof Condition)) {
      throw new ValidationError(`${owner}: conditions must be a list of at least one condition`, {
        hint: 'conditions: [new ConditionGreaterThan({ left: report.get("accuracy"), right: 0.9 })]',
      });
    }
    this.conditions = [...options.conditions];
    this.ifSteps = checkReferences(owner, "ifSteps", options.ifSteps);
    this.elseSteps = checkReferences(owner, "elseSteps", options.elseSteps);
  }

  upstream(): StepReference[] {
    return [...producers(this.conditions.flatMap((c) => c.operands())), ...this.dependsOn];
  }
}

/** Ends the execution as Failed with its message, which may join parameters and step outputs. */
export class FailStep extends ControlStep {
  readonly kind = "fail" as const;
  readonly errorMessage: unknown;

  constructor(options: ControlStepOptions & { errorMessage?: unknown }) {
    super("FailStep", options);
    this.errorMessage = options.errorMessage ?? "";
  }

  upstream(): StepReference[] {
    return [...producers([this.errorMessage]), ...this.dependsOn];
  }
}
