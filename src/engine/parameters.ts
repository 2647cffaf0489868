import { ValidationError } from "../errors.js";
import type { DefinedParameter } from "../definition/model.js";
import { ConditionStep, FailStep } from "../dsl/control-steps.js";
import { FunctionStep, type PipelineStep } from "../dsl/function-step.js";
import { type Parameter, isParameter, parameterFromDefinition } from "../dsl/parameters.js";
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
 * The values an execution runs with: those given, else the defaults. An unknown name, a missing value
 * or a value of the wrong type is an error before anything is recorded; `where` names the call.
 */
export function resolveParameterValues(
  pipeline: string,
  listed: readonly Parameter[],
  given: Readonly<Record<string, unknown>> = {},
  where = "start()",
): Map<string, unknown> {
  if (given === null || typeof given !== "object" || Array.isArray(given)) {
    throw new ValidationError(`${where}: parameters must be an object of name: value`, { hint: "pipeline.start({ parameters: { epochs: 20 } })" });
  }
  const byName = new Map(listed.map((p) => [p.name, p]));
  for (const name of Object.keys(given)) {
    if (!byName.has(name)) {
      throw new ValidationError(`${where}: pipeline "${pipeline}" has no parameter "${name}"`, {
        hint: byName.size > 0 ? `its parameters are: ${[...byName.keys()].join(", ")}` : "it declares no parameters",
      });
    }
  }
  const values = new Map<string, unknown>();
  for (const p of listed) {
    const value = Object.hasOwn(given, p.name) ? given[p.name] : p.defaultValue;
    if (value === undefined) {
      throw new ValidationError(`${where}: parameter "${p.name}" has no value and no default`, { hint: `give ${p.name} a value` });
    }
    const problem = p.problem(value);
    if (problem) throw new ValidationError(`${where}: parameter "${p.name}" (${p.type}) ${problem}`, { hint: `give a value of type ${p.type}` });
    values.set(p.name, value);
  }
  return values;
}

/**
 * A value given as text (SageMaker's API passes every parameter value as a string), read as its
 * parameter's type; text that is no such value stays text, for the parameter's check to name.
 */
function fromText(type: DefinedParameter["Type"], value: string): unknown {
  switch (type) {
    case "Integer":
    case "Float": {
      const n = Number(value);
      return value.trim() !== "" && Number.isFinite(n) ? n : value;
    }
    case "Boolean":
      return /^true$/i.test(value) ? true : /^false$/i.test(value) ? false : value;
    default:
      return value;
  }
}

/**
 * The values an execution of a recorded definition runs with: those given (as text, as the API sends
 * them, or typed), else the definition's defaults, each read as its declared type and checked as the
 * parameter classes check a pipeline's own.
 */
export function definedParameterValues(
  pipeline: string,
  declared: readonly DefinedParameter[],
  given: Readonly<Record<string, unknown>> = {},
): Map<string, unknown> {
  const types = new Map(declared.map((p) => [p.Name, p.Type]));
  const typed = Object.fromEntries(
    Object.entries(given).map(([name, value]) => {
      const type = types.get(name);
      return [name, typeof value === "string" && type !== undefined ? fromText(type, value) : value];
    }),
  );
  return resolveParameterValues(pipeline, declared.map(parameterFromDefinition), typed, "StartPipelineExecution");
}
