import { inspect } from "node:util";
import { ValidationError } from "../errors.js";
import { type DelayedReturn, isDelayedReturn } from "./delayed-return.js";
import { forEachPipelineValue } from "./pipeline-value.js";
import type { StepOptions } from "./step-options.js";

/** What `step(fn, options)` records about a function: one per `step()` call. */
export interface StepDefinition {
  /**
   * Identifies the definition: `<module identity>#<name>#<n>` (see `moduleIdentity`), the same on the
   * host and in the container, and without a host path, as the step reads it in its environment.
   */
  readonly key: string;
  /** The name the step's calls are named after. */
  readonly baseName: string;
  readonly fn: (...args: never[]) => unknown;
  readonly options: StepOptions;
  /**
   * Absolute path of the module that called `step()`; its bundle is what runs in the container.
   * Undefined inside the container, where the bundle tells no host path.
   */
  readonly sourceFile: string | undefined;
}

/** A step of a pipeline, as the graph sees it: a name and the steps it must follow. */
export interface PipelineStep {
  readonly name: string;
  readonly displayName: string;
  readonly description: string;
  /** Steps (or their outputs, or their names) this step must run after. */
  upstream(): StepReference[];
}

export type StepReference = PipelineStep | DelayedReturn | string;

/** Where a pipeline put a step call: the name it has there, and its dependencies as names of that pipeline's steps. */
export interface StepPlacement {
  readonly name: string;
  readonly description: string;
  readonly dependsOn: readonly string[];
}

let callsMade = 0;

/** The explicit dependencies of the many calls that have none. */
const NO_DEPENDENCIES: readonly StepReference[] = Object.freeze([]);

/**
 * One call of a step function: a node of the pipeline's graph, SageMaker's `_FunctionStep`.
 *
 * A call is named by the pipeline it is part of (the second call of a step function there is
 * `<name>-2`), so one call can sit in two pipelines under two names. Compiling a pipeline places a
 * copy of each call in it; until then `name` is the step function's own name.
 */
export class FunctionStep implements PipelineStep {
  readonly kind = "function" as const;
  /** The step function's name; in the copy a pipeline places, the name this call has in that pipeline. */
  readonly name: string;
  readonly displayName: string;
  readonly description: string;
  readonly definition: StepDefinition;
  /** The call's arguments, with DelayedReturns still in place. */
  readonly args: readonly unknown[];
  /** Counts the step calls this process made, from 1: a pipeline names repeated calls of a step function in this order. */
  readonly callNumber: number;
  /** Made on the first explicit dependency: most calls have none, and a pipeline may hold a million. */
  #dependsOn: StepReference[] | undefined;

  constructor(definition: StepDefinition, args: readonly unknown[], placement?: StepPlacement) {
    this.definition = definition;
    this.args = args;
    this.callNumber = ++callsMade;
    this.name = placement?.name ?? definition.baseName;
    this.displayName = definition.options.displayName ?? defaultDisplayName(definition);
    this.description = placement?.description ?? definition.options.description ?? definition.baseName;
    if (placement && placement.dependsOn.length > 0) this.#dependsOn = [...placement.dependsOn];
  }

  get options(): StepOptions {
    return this.definition.options;
  }

  /** Makes this step run after the given steps, which need not pass it any data. */
  addDependsOn(steps: readonly StepReference[]): void {
    if (!Array.isArray(steps)) {
      throw new ValidationError(`addDependsOn() on step "${this.name}" takes a list, got ${inspect(steps)}`, {
        hint: "wrap it in brackets: addDependsOn([otherStep])",
      });
    }
    for (const ref of steps) {
      if (!(typeof ref === "string" || isDelayedReturn(ref) || isPipelineStep(ref))) {
        throw new ValidationError(`addDependsOn() on step "${this.name}": ${inspect(ref)} is not a step`, {
          hint: "pass steps, DelayedReturns or step names",
        });
      }
      (this.#dependsOn ??= []).push(ref);
    }
  }

  /** The explicit dependencies added with `addDependsOn`. */
  get dependsOn(): readonly StepReference[] {
    return this.#dependsOn ? [...this.#dependsOn] : NO_DEPENDENCIES;
  }

  /** The steps whose outputs the arguments use. */
  dataDependencies(): FunctionStep[] {
    const found: FunctionStep[] = [];
    // A set only once there are two: most calls take one upstream output, or none.
    let seen: Set<FunctionStep> | undefined;
    forEachPipelineValue(this.args, (value) => {
      if (!isDelayedReturn(value)) return;
      if (found.length === 0) {
        found.push(value.step);
        return;
      }
      seen ??= new Set(found);
      if (seen.has(value.step)) return;
      seen.add(value.step);
      found.push(value.step);
    });
    return found;
  }

  upstream(): StepReference[] {
    const data = this.dataDependencies();
    return this.#dependsOn ? [...data, ...this.#dependsOn] : data;
  }

  [inspect.custom](): string {
    return `FunctionStep(${this.name})`;
  }
}

/** Each definition's default display name, made once: a pipeline makes a copy of every call it holds. */
const displayNames = new WeakMap<StepDefinition, string>();

function defaultDisplayName(definition: StepDefinition): string {
  let name = displayNames.get(definition);
  if (name === undefined) {
    const file = definition.sourceFile?.split("/").pop();
    name = file ? `${file.replace(/\.[cm]?[jt]sx?$/, "")}.${definition.baseName}` : definition.baseName;
    displayNames.set(definition, name);
  }
  return name;
}

export function isPipelineStep(value: unknown): value is PipelineStep {
  return (
    typeof value === "object" && value !== null && typeof (value as PipelineStep).name === "string" && typeof (value as PipelineStep).upstream === "function"
  );
}
