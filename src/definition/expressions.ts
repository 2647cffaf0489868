/**
 * The expressions of a SageMaker pipeline definition, evaluated while an execution runs: `Get`
 * (a parameter, an execution variable, a step's property), `Std:Join`, `Std:JsonGet`, and the
 * conditions of a Condition step. Pure apart from the calls into the `ExpressionScope` it is given,
 * which says where values come from.
 *
 * Semantics, where SageMaker's documentation is silent (the SDK's local mode,
 * `sagemaker/local/pipeline.py`, is the reference, with the differences named here):
 * - `Std:Join` joins its values as strings: a string as it is, a number as JavaScript's `String(n)`
 *   (`10`, `0.01`; a whole Float prints `1`, where the service may print `1.0`), a boolean as
 *   `true`/`false`. Any other value (null, an object, a list) is an error, not `"null"` or `[object Object]`.
 * - Comparisons (`GreaterThan`...) take two numbers or two strings (strings in code-unit order);
 *   anything else is an error, as in the SDK's local mode (Python's TypeError).
 * - `Equals` is true when both sides are the same JSON value (lists and objects compared by content);
 *   two values of different kinds (a number and a string, a boolean and a number) are an error, as in
 *   the SDK's local mode. Unlike that mode, an Integer and a Float are one kind: `1` equals `1.0`.
 * - `In` is true when one of `Values` equals `QueryValue` (values of another kind never do, no error).
 * - The conditions of a Condition step are ANDed; `Or` is true when one of its conditions is, `Not`
 *   negates its `Expression`.
 */
import { ExpressionError } from "../errors.js";
import type { DefinedCondition, Expression, Json } from "./model.js";

/** Where the values of an execution come from. Each method may return a promise. */
export interface ExpressionScope {
  /** The value of parameter `name` for this execution (the given one, else its default). */
  parameter(name: string): unknown;
  /** `PipelineExecutionId`, `PipelineExecutionArn`, `PipelineName`, `PipelineArn`, `StartDateTime`, `CurrentDateTime`. */
  executionVariable(name: string): unknown;
  /** A property of a step that ran, e.g. `("train", "OutputDataConfig.S3OutputPath")`. */
  stepProperty(step: string, property: string): unknown;
  /** The JSON document at `s3Uri`, parsed. */
  readJson(s3Uri: string): Promise<unknown>;
}

/** The execution variables SageMaker defines (`{"Get": "Execution.<name>"}`). */
export const EXECUTION_VARIABLES: readonly string[] = [
  "PipelineExecutionId",
  "PipelineExecutionArn",
  "PipelineName",
  "PipelineArn",
  "StartDateTime",
  "CurrentDateTime",
];

/** What a `Get` names, parsed from its string. */
export type GetTarget =
  | { readonly kind: "parameter"; readonly name: string }
  | { readonly kind: "execution"; readonly name: string }
  | { readonly kind: "step"; readonly step: string; readonly property: string };

/**
 * Parses the string of a `Get`: `Parameters.X`, `Execution.X` or `Steps.<name>.<property>` (a step
 * name has no dot, so the property is everything after the second dot). Undefined for anything else.
 */
export function parseGet(reference: string): GetTarget | undefined {
  const dot = reference.indexOf(".");
  if (dot < 0) return undefined;
  const head = reference.slice(0, dot);
  const rest = reference.slice(dot + 1);
  if (rest === "") return undefined;
  if (head === "Parameters") return { kind: "parameter", name: rest };
  if (head === "Execution") return { kind: "execution", name: rest };
  if (head === "Steps") {
    const next = rest.indexOf(".");
    if (next <= 0 || next === rest.length - 1) return undefined;
    return { kind: "step", step: rest.slice(0, next), property: rest.slice(next + 1) };
  }
  return undefined;
}

/**
 * The value as an expression, when it is one: a JSON object whose only key is `Get`, `Std:Join` or
 * `Std:JsonGet`. The shape of its operand is not checked here (the reader checks it).
 */
export function asExpression(value: Json): Expression | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const key = keys[0];
  return key === "Get" || key === "Std:Join" || key === "Std:JsonGet" ? (value as Expression) : undefined;
}

/** One step of a JsonGet path: a key of an object or an index of a list (negative: from the end). */
export type JsonPathSegment = { readonly key: string } | { readonly index: number };

/**
 * Parses a `Std:JsonGet` Path: `Result[1]['k']`, `Result.k`, `Result["k"]`, `mse`, with an optional
 * leading `$`. Throws a plain Error that says what is wrong; callers wrap it in their error.
 */
export function parseJsonPath(path: string): JsonPathSegment[] {
  const segments: JsonPathSegment[] = [];
  let i = 0;
  if (path.startsWith("$")) {
    i = 1;
    if (path.startsWith("$.")) i = 2;
  }
  const identifier = (): string => {
    const start = i;
    while (i < path.length && path[i] !== "." && path[i] !== "[") i++;
    if (i === start) throw new Error(`a name is missing at character ${start + 1}`);
    const name = path.slice(start, i);
    if (name.includes("]")) throw new Error(`"]" without "[" in "${name}"`);
    return name;
  };
  if (path.length === i) throw new Error("the path is empty");
  if (path[i] !== "[") segments.push({ key: identifier() });
  while (i < path.length) {
    const c = path[i];
    if (c === ".") {
      i++;
      segments.push({ key: identifier() });
    } else if (c === "[") {
      i++;
      const quote = path[i];
      if (quote === "'" || quote === '"') {
        i++;
        let key = "";
        while (i < path.length && path[i] !== quote) {
          if (path[i] === "\\" && i + 1 < path.length) i++;
          key += path[i];
          i++;
        }
        if (path[i] !== quote || path[i + 1] !== "]") throw new Error(`unclosed [${quote}...${quote}] at character ${i + 1}`);
        i += 2;
        segments.push({ key });
      } else {
        const end = path.indexOf("]", i);
        const text = end < 0 ? "" : path.slice(i, end);
        if (!/^-?\d+$/.test(text)) {
          throw new Error(`[${text}] is not an index (a whole number) or a quoted key at character ${i}`);
        }
        i = end + 1;
        segments.push({ index: Number(text) });
      }
    } else {
      throw new Error(`unexpected "${c}" at character ${i + 1}`);
    }
  }
  return segments;
}

/** The value at the path inside a JSON document; undefined when it is not there. */
function atPath(document: unknown, segments: readonly JsonPathSegment[]): unknown {
  let value = document;
  for (const segment of segments) {
    if ("key" in segment) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
      if (!Object.hasOwn(value, segment.key)) return undefined;
      value = (value as Record<string, unknown>)[segment.key];
    } else {
      if (!Array.isArray(value)) return undefined;
      const index = segment.index < 0 ? value.length + segment.index : segment.index;
      if (index < 0 || index >= value.length) return undefined;
      value = value[index];
    }
  }
  return value;
}

/**
 * The value with each expression in it replaced by what it evaluates to, walking lists and objects.
 * Values that are not expressions are returned as they are (copied).
 */
export async function evaluate(value: Json, scope: ExpressionScope): Promise<unknown> {
  const expression = asExpression(value);
  if (expression !== undefined) return evaluateExpression(expression, scope);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value as readonly Json[]) out.push(await evaluate(item, scope));
    return out;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = await evaluate(item, scope);
    return out;
  }
  return value;
}

async function evaluateExpression(expression: Expression, scope: ExpressionScope): Promise<unknown> {
  if ("Get" in expression) {
    const target = parseGet(expression.Get);
    if (target === undefined) {
      throw new ExpressionError(`{"Get": ${JSON.stringify(expression.Get)}} names nothing`, {
        hint: "a Get names Parameters.<name>, Execution.<name> or Steps.<step>.<property>",
      });
    }
    if (target.kind === "parameter") return await scope.parameter(target.name);
    if (target.kind === "execution") return await scope.executionVariable(target.name);
    return await scope.stepProperty(target.step, target.property);
  }
  if ("Std:Join" in expression) {
    const { On, Values } = expression["Std:Join"];
    const parts: string[] = [];
    for (const item of Values) parts.push(joinPart(await evaluate(item, scope), item));
    return parts.join(On);
  }
  return evaluateJsonGet(expression["Std:JsonGet"], scope);
}

function joinPart(value: unknown, source: Json): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new ExpressionError(`Std:Join cannot join ${describe(value)} (from ${JSON.stringify(source)}): it joins strings, numbers and booleans`, {
    hint: "join values that are strings, numbers or booleans; read a single field with Std:JsonGet's Path",
  });
}

async function evaluateJsonGet(jsonGet: { readonly S3Uri: Json; readonly Path: string; readonly StepName?: string }, scope: ExpressionScope): Promise<unknown> {
  const step = jsonGet.StepName ?? stepsReadBy(jsonGet.S3Uri)[0];
  const of = step === undefined ? "" : ` of step "${step}"`;
  const uri = await evaluate(jsonGet.S3Uri, scope);
  if (typeof uri !== "string") {
    throw new ExpressionError(`Std:JsonGet${of}: its S3Uri is ${describe(uri)}, not a string`, {
      hint: "give S3Uri a string, a Get or a Std:Join that makes one",
    });
  }
  let segments: JsonPathSegment[];
  try {
    segments = parseJsonPath(jsonGet.Path);
  } catch (error) {
    throw new ExpressionError(`Std:JsonGet${of}: Path "${jsonGet.Path}" cannot be read: ${(error as Error).message}`, {
      hint: "write the Path as Result[1]['key'], Result.key or Result[\"key\"]",
    });
  }
  const document = await scope.readJson(uri);
  const value = atPath(document, segments);
  if (value === undefined) {
    throw new ExpressionError(`Std:JsonGet${of}: ${uri} has nothing at Path "${jsonGet.Path}"`, {
      hint: "check that the step returns a value at that path (an index inside its list, a key of its object)",
    });
  }
  return value;
}

/** Whether the condition holds, with SageMaker's semantics (see the top of this file). */
export async function evaluateCondition(condition: DefinedCondition, scope: ExpressionScope): Promise<boolean> {
  switch (condition.Type) {
    case "Not":
      return !(await evaluateCondition(condition.Expression, scope));
    case "Or":
      for (const inner of condition.Conditions) {
        if (await evaluateCondition(inner, scope)) return true;
      }
      return false;
    case "In": {
      const query = await evaluate(condition.QueryValue, scope);
      for (const item of condition.Values) {
        if (sameJson(query, await evaluate(item, scope))) return true;
      }
      return false;
    }
    default: {
      const left = await evaluate(condition.LeftValue, scope);
      const right = await evaluate(condition.RightValue, scope);
      return compare(condition.Type, left, right);
    }
  }
}

function compare(type: Exclude<DefinedCondition["Type"], "Not" | "Or" | "In">, left: unknown, right: unknown): boolean {
  if (type === "Equals") {
    if (kind(left) !== kind(right)) {
      throw new ExpressionError(`Equals cannot compare ${describe(left)} with ${describe(right)}: they are values of different kinds`, {
        hint: "compare values of one kind (a number with a number, a string with a string)",
      });
    }
    return sameJson(left, right);
  }
  const comparable = (typeof left === "number" && typeof right === "number") || (typeof left === "string" && typeof right === "string");
  if (!comparable) {
    throw new ExpressionError(`${type} cannot compare ${describe(left)} with ${describe(right)}`, {
      hint: "compare two numbers or two strings",
    });
  }
  const l = left as number | string;
  const r = right as number | string;
  switch (type) {
    case "GreaterThan":
      return l > r;
    case "GreaterThanOrEqualTo":
      return l >= r;
    case "LessThan":
      return l < r;
    case "LessThanOrEqualTo":
      return l <= r;
  }
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  return typeof value;
}

function describe(value: unknown): string {
  const k = kind(value);
  if (k === "undefined") return "no value";
  const text = JSON.stringify(value);
  const shown = text !== undefined && text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return `the ${k === "object" ? "object" : k} ${shown}`;
}

/** Whether two JSON values are equal by content. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (kind(a) !== kind(b) || a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => sameJson(item, other[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((k) => Object.hasOwn(y, k) && sameJson(x[k], y[k]));
}

/**
 * The names of the steps a value reads, in order of appearance, each once: every
 * `{"Get": "Steps.<name>..."}` anywhere in it, and every `Std:JsonGet`'s StepName.
 */
export function stepsReadBy(value: Json): string[] {
  const names: string[] = [];
  const add = (name: string): void => {
    if (!names.includes(name)) names.push(name);
  };
  const walk = (item: Json): void => {
    if (item === null || typeof item !== "object") return;
    if (Array.isArray(item)) {
      for (const inner of item as readonly Json[]) walk(inner);
      return;
    }
    const expression = asExpression(item);
    if (expression !== undefined && "Get" in expression) {
      if (typeof expression.Get === "string") {
        const target = parseGet(expression.Get);
        if (target?.kind === "step") add(target.step);
      }
      return;
    }
    if (expression !== undefined && "Std:JsonGet" in expression) {
      const jsonGet = expression["Std:JsonGet"] as unknown;
      if (jsonGet !== null && typeof jsonGet === "object" && "StepName" in jsonGet) {
        const stepName = (jsonGet as { StepName: unknown }).StepName;
        if (typeof stepName === "string") add(stepName);
      }
    }
    for (const inner of Object.values(item as { readonly [key: string]: Json })) walk(inner);
  };
  walk(value);
  return names;
}
