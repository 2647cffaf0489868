import { inspect } from "node:util";
import { ValidationError } from "../errors.js";
import type { DefinedParameter } from "../definition/model.js";
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

/** A value given as text (SageMaker's API passes every parameter value as a string), read as its parameter's type. */
function fromText(parameter: DefinedParameter, value: string): unknown {
  switch (parameter.Type) {
    case "Integer":
    case "Float":
      return value.trim() === "" ? Number.NaN : Number(value);
    case "Boolean":
      return /^true$/i.test(value) ? true : /^false$/i.test(value) ? false : value;
    default:
      return value;
  }
}

function definedProblem(parameter: DefinedParameter, value: unknown): string | undefined {
  switch (parameter.Type) {
    case "String":
      if (typeof value !== "string") return `must be a string, got ${inspect(value)}`;
      if (parameter.EnumValues && !parameter.EnumValues.includes(value)) {
        return `must be one of ${parameter.EnumValues.map((v) => JSON.stringify(v)).join(", ")}, got ${JSON.stringify(value)}`;
      }
      return undefined;
    case "Integer":
      return typeof value === "number" && Number.isSafeInteger(value) ? undefined : `must be an integer, got ${inspect(value)}`;
    case "Float":
      return typeof value === "number" && Number.isFinite(value) ? undefined : `must be a finite number, got ${inspect(value)}`;
    case "Boolean":
      return typeof value === "boolean" ? undefined : `must be true or false, got ${inspect(value)}`;
  }
}

/**
 * The values an execution of a definition runs with: those given (as text, as the API sends them, or
 * typed), else the definition's defaults, each read as its declared type. Checked before anything runs.
 */
export function definedParameterValues(
  pipeline: string,
  declared: readonly DefinedParameter[],
  given: Readonly<Record<string, unknown>> = {},
): Map<string, unknown> {
  const byName = new Map(declared.map((p) => [p.Name, p]));
  for (const name of Object.keys(given)) {
    if (!byName.has(name)) {
      throw new ValidationError(`pipeline "${pipeline}" has no parameter "${name}"`, {
        hint: byName.size > 0 ? `its parameters are: ${[...byName.keys()].join(", ")}` : "its definition declares no parameters",
      });
    }
  }
  const values = new Map<string, unknown>();
  for (const p of declared) {
    const raw = Object.hasOwn(given, p.Name) ? given[p.Name] : p.DefaultValue;
    if (raw === undefined) throw new ValidationError(`parameter "${p.Name}" has no value and no default`, { hint: `give a value for ${p.Name}` });
    const value = typeof raw === "string" ? fromText(p, raw) : raw;
    // A value given as text is named as it was given, not as what it failed to read as.
    const problem = definedProblem(p, value)?.replace(/, got .*$/, `, got ${inspect(raw)}`);
    if (problem) throw new ValidationError(`parameter "${p.Name}" (${p.Type}) ${problem}`, { hint: `give a value of type ${p.Type}` });
    values.set(p.Name, value);
  }
  return values;
}
