/**
 * Pipeline values inside an arguments payload. A step's arguments may hold a step's output, a
 * parameter, an execution variable or a Join, which are only known when the pipeline runs. The
 * payload is written when the pipeline is defined, so each of them is written as a reference record
 * (`serialize(args, "arguments", { reference })` in codec.ts) that says where its value comes from,
 * and the side that runs the step replaces every record by its value (`deserialize(bytes, { resolve })`)
 * once it has fetched them.
 *
 * A record names the `--property_references` entry of the definition that carries its value to the
 * job (`referenceName`): `Parameters.X`, `Execution.X`, `Steps.<step>.OutputDataConfig.S3OutputPath`
 * (under which the producer's `payload.bin` lies), or, for any other expression, its JSON text.
 *
 * Node builtins only: this module is bundled into the runner inside every step container.
 */
import { inspect } from "node:util";
import { SerializationError, StepboxError } from "../errors.js";

/** JSON as a definition holds it (the same shape as `Json` in src/definition/model.ts, which this leaf may not import). */
export type ReferenceJson = string | number | boolean | null | readonly ReferenceJson[] | { readonly [key: string]: ReferenceJson };

export type ReferenceParameterType = "String" | "Integer" | "Float" | "Boolean";

/**
 * Where a pipeline value inside a payload comes from.
 * - `Value`: a definition expression evaluated when the step starts (`{"Get": "Parameters.X"}`,
 *   `{"Get": "Execution.PipelineExecutionId"}`, a `Std:Join`). For a parameter, `parameterType` says
 *   how to read its value back when it arrives as a string (SageMaker passes ContainerArguments as strings).
 * - `StepResult`: the output of an upstream function step, then `path` selected inside it
 *   (`[1, "k"]` for `r.get(1).get("k")`).
 */
export type PipelineReference =
  | { readonly kind: "Value"; readonly expression: ReferenceJson; readonly parameterType?: ReferenceParameterType }
  | { readonly kind: "StepResult"; readonly step: string; readonly path: readonly (string | number)[] };

const PARAMETER_TYPES: readonly string[] = ["String", "Integer", "Float", "Boolean"];

/** The `--property_references` entry a reference reads its value from. */
export function referenceName(reference: PipelineReference): string {
  if (reference.kind === "StepResult") return stepResultName(reference.step);
  const { expression } = reference;
  if (isGet(expression)) return expression.Get;
  return JSON.stringify(expression);
}

/** The property a function step's result is read under: the producer's `OutputDataConfig.S3OutputPath`. */
export function stepResultName(step: string): string {
  return `Steps.${step}.OutputDataConfig.S3OutputPath`;
}

function isGet(value: ReferenceJson): value is { readonly Get: string } {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    typeof (value as { Get?: unknown }).Get === "string"
  );
}

/** A value JSON carries exactly: null, booleans, finite numbers, strings, and arrays and plain objects of them. */
export function isJson(value: unknown, depth = 0): value is ReferenceJson {
  if (depth > 64) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJson(item, depth + 1));
  if (typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && Object.values(value).every((item) => isJson(item, depth + 1));
}

/**
 * A fresh, frozen record of what the `reference` callback returned, checked: the record a payload
 * holds is the codec's own, never an object the caller keeps and may change.
 */
export function referenceRecord(given: unknown, path: string): PipelineReference {
  const bad = (why: string): never => {
    throw new SerializationError(path, `a pipeline value whose reference ${why} (got ${inspect(given, { depth: 3, breakLength: Infinity })})`, {
      hint: 'the reference callback must return { kind: "Value", expression } or { kind: "StepResult", step, path }',
    });
  };
  if (typeof given !== "object" || given === null) return bad("is not an object");
  const r = given as Record<string, unknown>;
  if (r.kind === "Value") {
    if (!isJson(r.expression)) return bad("has an expression that is not JSON");
    if (r.parameterType !== undefined && !PARAMETER_TYPES.includes(r.parameterType as string)) return bad("has an unknown parameterType");
    const expression = structuredClone(r.expression);
    return Object.freeze(
      r.parameterType === undefined
        ? { kind: "Value" as const, expression }
        : { kind: "Value" as const, expression, parameterType: r.parameterType as ReferenceParameterType },
    );
  }
  if (r.kind === "StepResult") {
    if (typeof r.step !== "string" || r.step === "") return bad("names no step");
    const keys = r.path;
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string" || (typeof k === "number" && Number.isInteger(k)))) {
      return bad("has a path that is not a list of strings and integers");
    }
    return Object.freeze({ kind: "StepResult" as const, step: r.step, path: Object.freeze([...(keys as (string | number)[])]) });
  }
  return bad('has a kind other than "Value" or "StepResult"');
}

/** Selects a StepResult reference's path inside the producer's output, as `DelayedReturn.get()` chains describe it. */
export function selectReferencePath(output: unknown, reference: Extract<PipelineReference, { kind: "StepResult" }>): unknown {
  let current = output;
  for (const key of reference.path) {
    if (current instanceof Map) {
      current = current.get(key);
    } else if (current !== null && typeof current === "object" && key in current) {
      current = (current as Record<string | number, unknown>)[key];
    } else {
      throw new StepboxError(
        "INVALID_ARGUMENT",
        `the output of step "${reference.step}" has no ${JSON.stringify(key)} at ${reference.step}${reference.path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("")}`,
        {
          hint: `check what step "${reference.step}" returns`,
        },
      );
    }
  }
  return current;
}

/** Refusal of a payload that holds references when the reader gave no way to resolve them. */
export function unresolvedReferencesError(references: readonly PipelineReference[]): StepboxError {
  const names = [...new Set(references.map(referenceName))];
  return new StepboxError("SERIALIZATION", `the payload holds ${references.length} pipeline reference(s) (${names.join(", ")}) and no resolve was given`, {
    hint: "read them with payloadReferences(bytes), fetch their values, then deserialize(bytes, { resolve })",
  });
}
