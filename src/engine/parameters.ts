import { ValidationError } from "../errors.js";
import { ConditionStep, FailStep } from "../dsl/control-steps.js";
import { FunctionStep, type PipelineStep } from "../dsl/function-step.js";
import { type Parameter, isParameter } from "../dsl/parameters.js";
import { forEachPipelineValue } from "../dsl/pipeline-value.js";
import type { PipelineGraph } from "../graph/compile.js";

/** Checks a pipeline's parameter list: Parameter objects with distinct names. */
export function checkParameterList(pipeline: string, parameters: readonly unknown[]): Parameter[] {
  const seen = new Set<string>();
  return parameters.map((p, i) => {
    if (!isParameter(p)) {
      throw new ValidationError(`pipeline "${pipeline}": parameters[${i}] is not a parameter`, {
        code: "INVALID_PIPELINE",
        hint: 'list ParameterString, ParameterInteger, ParameterFloat or ParameterBoolean objects, e.g. new ParameterInteger({ name: "epochs", defaultValue: 10 })',
      });
    }
    if (seen.has(p.name)) throw new ValidationError(`pipeline "${pipeline}": two parameters are named "${p.name}"`, { code: "INVALID_PIPELINE" });
    seen.add(p.name);
    return p;
  });
}

function valuesOf(step: PipelineStep): unknown[] {
  if (step instanceof FunctionStep) return [...step.args];
  if (step instanceof ConditionStep) return step.conditions.flatMap((c) => c.operands());
  if (step instanceof FailStep) return [step.errorMessage];
  return [];
}

/** Every parameter the steps use must be listed in the pipeline, as SageMaker requires. */
export function checkParametersUsed(pipeline: string, graph: PipelineGraph, listed: readonly Parameter[]): void {
  const names = new Set(listed.map((p) => p.name));
  for (const step of graph.steps) {
    forEachPipelineValue(valuesOf(step), (value) => {
      if (isParameter(value) && !names.has(value.name)) {
        throw new ValidationError(`step "${step.name}" uses parameter "${value.name}", which pipeline "${pipeline}" does not list`, {
          code: "INVALID_PIPELINE",
          hint: `add it: new Pipeline({ ..., parameters: [${value.name}Parameter, ...] })`,
        });
      }
    });
  }
}

/**
 * The values an execution runs with: those given to start(), else the defaults. An unknown name, a
 * missing value or a value of the wrong type is an error before anything is recorded.
 */
export function resolveParameterValues(pipeline: string, listed: readonly Parameter[], given: Readonly<Record<string, unknown>> = {}): Map<string, unknown> {
  if (given === null || typeof given !== "object" || Array.isArray(given)) {
    throw new ValidationError(`start(): parameters must be an object of name: value`, { hint: "pipeline.start({ parameters: { epochs: 20 } })" });
  }
  const byName = new Map(listed.map((p) => [p.name, p]));
  for (const name of Object.keys(given)) {
    if (!byName.has(name)) {
      throw new ValidationError(`start(): pipeline "${pipeline}" has no parameter "${name}"`, {
        hint: byName.size > 0 ? `its parameters are: ${[...byName.keys()].join(", ")}` : "it declares no parameters",
      });
    }
  }
  const values = new Map<string, unknown>();
  for (const p of listed) {
    const value = Object.hasOwn(given, p.name) ? given[p.name] : p.defaultValue;
    if (value === undefined) {
      throw new ValidationError(`start(): parameter "${p.name}" has no value and no default`, { hint: `pipeline.start({ parameters: { ${p.name}: ... } })` });
    }
    const problem = p.problem(value);
    if (problem) throw new ValidationError(`start(): parameter "${p.name}" (${p.type}) ${problem}`, { hint: `give a ${p.type} value` });
    values.set(p.name, value);
  }
  return values;
}
