/**
 * Reads a SageMaker pipeline definition (Version 2020-12-01) from any source (this library, the
 * Python SDK, a CreatePipeline request) and checks it into a `DefinitionGraph`: every step with its
 * upstream steps, branches flattened, in a stable topological order. Every problem is a
 * `DefinitionError` that names its place as a JSON path and the fix.
 *
 * What it holds a definition to (the SDK and the service, not the out-of-date published schema):
 * step names `^[A-Za-z0-9\-_]{1,64}$`, unique across the whole definition, branch steps included;
 * branch steps as full step objects (the SDK's shape) or as names of top-level steps; DependsOn, every
 * `Get` and `Std:JsonGet` naming a step, parameter or execution variable that exists; parameters of
 * the four types with defaults of their type; no cycle; at most 1,048,576 characters. Step types:
 * Training, Condition and Fail, the ones the local engine runs.
 */
import { DefinitionError } from "../errors.js";
import { EXECUTION_VARIABLES, asExpression, parseGet, parseJsonPath, stepsReadBy } from "./expressions.js";
import type {
  ComparisonType,
  DefinedCondition,
  DefinedParameter,
  DefinedRetryPolicy,
  DefinedStep,
  DefinitionGraph,
  Json,
  JsonObject,
  ParameterType,
} from "./model.js";

export const DEFINITION_VERSION = "2020-12-01";
const STEP_NAME = /^[A-Za-z0-9\-_]{1,64}$/;
const SUPPORTED_TYPES = ["Training", "Condition", "Fail"] as const;
const PARAMETER_TYPES: readonly ParameterType[] = ["String", "Integer", "Float", "Boolean"];
const COMPARISONS: readonly ComparisonType[] = ["Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo"];

/**
 * Reads and checks a definition's JSON text, of any length: the local engine runs pipelines larger
 * than CreatePipeline's 1,048,576 characters (stepbox serve refuses those, as SageMaker does).
 */
export function readDefinition(text: string): DefinitionGraph {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new DefinitionError("", `it is not JSON: ${(error as Error).message}`, {
      hint: "pass the text of the definition as pipeline.definition() or the SDK's Pipeline.definition() writes it",
      cause: error,
    });
  }
  return new DefinitionReader().read(document);
}

/** A step as found, before its references are checked. */
interface FoundStep {
  readonly path: string;
  readonly name: string;
  readonly raw: JsonObject;
  /** The JSON its expressions are in: Arguments (Training), the Conditions (Condition), ErrorMessage (Fail). */
  readonly reads: Json;
  /** Branch members written as names, resolved once every step is found. */
  readonly branchNames?: { readonly ifSteps: readonly NameAt[]; readonly elseSteps: readonly NameAt[] };
  readonly step: DefinedStep;
}

interface NameAt {
  readonly name: string;
  readonly path: string;
}

class DefinitionReader {
  /** Each step's place in the definition, in order of appearance (a condition before its branch steps). */
  private readonly pathOf = new Map<string, string>();
  private readonly found = new Map<string, FoundStep>();
  private readonly topLevel = new Set<string>();
  private parameters: DefinedParameter[] = [];

  read(document: unknown): DefinitionGraph {
    const root = object(document, "", undefined, "the definition is a JSON object with Version, Parameters and Steps");
    if (root.Version !== DEFINITION_VERSION) {
      throw new DefinitionError("Version", `is ${JSON.stringify(root.Version)}, not "${DEFINITION_VERSION}"`, {
        hint: `set "Version": "${DEFINITION_VERSION}", the one version of SageMaker's definition format`,
      });
    }
    this.parameters = readParameters(root.Parameters);
    if (!Array.isArray(root.Steps)) {
      throw new DefinitionError("Steps", `is ${describe(root.Steps)}, not a list of steps`, {
        hint: 'give the definition "Steps": [...], a list of step objects with Name, Type and Arguments',
      });
    }
    root.Steps.forEach((raw: Json, i: number) => {
      const step = this.readStep(raw, `Steps[${i}]`);
      this.topLevel.add(step.name);
    });
    if (root.PipelineExperimentConfig !== undefined && root.PipelineExperimentConfig !== null) {
      this.checkExpressions(root.PipelineExperimentConfig, "PipelineExperimentConfig", undefined);
    }
    const branches = this.resolveBranches();
    for (const found of this.found.values()) this.checkReferences(found);
    return this.graph(branches);
  }

  private readStep(value: Json, path: string): FoundStep {
    const raw = object(value, path, undefined, "a step is an object with Name, Type and Arguments");
    const name = raw.Name;
    if (typeof name !== "string" || !STEP_NAME.test(name)) {
      throw new DefinitionError(`${path}.Name`, `${describe(name)} is not a step name`, {
        hint: "name the step with 1 to 64 letters, digits, '-' and '_'",
      });
    }
    const first = this.pathOf.get(name);
    if (first !== undefined) {
      throw new DefinitionError(path, `the name "${name}" is already the name of ${first}`, {
        step: name,
        hint: "give each step, branch steps included, a name of its own",
      });
    }
    const type = raw.Type;
    if (typeof type !== "string" || !(SUPPORTED_TYPES as readonly string[]).includes(type)) {
      throw new DefinitionError(`${path}.Type`, `${describe(type)} is a step type stepbox cannot run`, {
        step: name,
        hint: `stepbox runs ${SUPPORTED_TYPES.join(", ")} steps (a function step is a Training step); run this pipeline on SageMaker, or replace the step`,
      });
    }
    const base = {
      name,
      dependsOn: stringList(raw.DependsOn, `${path}.DependsOn`, name),
      ...optionalString(raw, "DisplayName", "displayName", path, name),
      ...optionalString(raw, "Description", "description", path, name),
    };
    // Named before its branches are read: the order of appearance puts a condition before its branch steps.
    this.pathOf.set(name, path);
    let found: FoundStep;
    if (type === "Training") {
      const args = object(raw.Arguments, `${path}.Arguments`, name, "a Training step's Arguments is a CreateTrainingJob request");
      found = {
        path,
        name,
        raw,
        reads: args,
        step: {
          ...base,
          type: "Training",
          arguments: args,
          retryPolicies: readRetryPolicies(raw.RetryPolicies, `${path}.RetryPolicies`, name),
          ...readCacheConfig(raw.CacheConfig, `${path}.CacheConfig`, name),
        },
      };
    } else if (type === "Fail") {
      const args = raw.Arguments === undefined ? {} : object(raw.Arguments, `${path}.Arguments`, name, "a Fail step's Arguments is {ErrorMessage}");
      const errorMessage = args.ErrorMessage ?? "";
      found = { path, name, raw, reads: errorMessage, step: { ...base, type: "Fail", errorMessage } };
    } else {
      found = this.readConditionStep(raw, path, name, base);
    }
    this.found.set(name, found);
    return found;
  }

  private readConditionStep(
    raw: JsonObject,
    path: string,
    name: string,
    base: Pick<DefinedStep, "name" | "dependsOn" | "displayName" | "description">,
  ): FoundStep {
    const args = object(raw.Arguments, `${path}.Arguments`, name, "a Condition step's Arguments is {Conditions, IfSteps, ElseSteps}");
    if (!Array.isArray(args.Conditions) || args.Conditions.length === 0) {
      throw new DefinitionError(`${path}.Arguments.Conditions`, `is ${describe(args.Conditions)}, not a list of conditions`, {
        step: name,
        hint: 'give the Condition step "Conditions": [{"Type": "GreaterThan", "LeftValue": ..., "RightValue": ...}, ...]',
      });
    }
    const conditions = args.Conditions.map((c: Json, i: number) => readCondition(c, `${path}.Arguments.Conditions[${i}]`, name));
    const branch = (key: "IfSteps" | "ElseSteps"): { names: NameAt[] } => {
      const list = args[key];
      if (list === undefined || list === null) return { names: [] };
      if (!Array.isArray(list)) {
        throw new DefinitionError(`${path}.Arguments.${key}`, `is ${describe(list)}, not a list of steps`, {
          step: name,
          hint: `give ${key} a list of step objects (or names of top-level steps)`,
        });
      }
      const names = list.map((item: Json, i: number): NameAt => {
        const at = `${path}.Arguments.${key}[${i}]`;
        if (typeof item === "string") return { name: item, path: at };
        return { name: this.readStep(item, at).name, path: at };
      });
      return { names };
    };
    const ifSteps = branch("IfSteps").names;
    const elseSteps = branch("ElseSteps").names;
    return {
      path,
      name,
      raw,
      reads: args.Conditions,
      branchNames: { ifSteps, elseSteps },
      step: {
        ...base,
        type: "Condition",
        conditions,
        ifSteps: ifSteps.map((s) => s.name),
        elseSteps: elseSteps.map((s) => s.name),
      },
    };
  }

  /** Checks that branch members named by a string are top-level steps, and that no step is in two branches. */
  private resolveBranches(): Map<string, { ifSteps: readonly string[]; elseSteps: readonly string[] }> {
    const branches = new Map<string, { ifSteps: readonly string[]; elseSteps: readonly string[] }>();
    const gatedAt = new Map<string, string>();
    for (const found of this.found.values()) {
      if (found.branchNames === undefined) continue;
      for (const member of [...found.branchNames.ifSteps, ...found.branchNames.elseSteps]) {
        if (!this.found.has(member.name)) {
          throw new DefinitionError(member.path, `names "${member.name}", which is not a step of this definition`, {
            step: found.name,
            hint: `name one of its top-level steps (${[...this.topLevel].join(", ")}) or write the step object here`,
          });
        }
        if (member.name === found.name) {
          throw new DefinitionError(member.path, "names the Condition step itself", {
            step: found.name,
            hint: "list the steps that run after the condition, not the condition",
          });
        }
        const earlier = gatedAt.get(member.name);
        if (earlier !== undefined) {
          throw new DefinitionError(member.path, `puts "${member.name}" in a branch where ${earlier} already put it`, {
            step: found.name,
            hint: "put each step in one branch of one Condition step",
          });
        }
        gatedAt.set(member.name, member.path);
      }
      branches.set(found.name, { ifSteps: found.branchNames.ifSteps.map((s) => s.name), elseSteps: found.branchNames.elseSteps.map((s) => s.name) });
    }
    return branches;
  }

  private checkReferences(found: FoundStep): void {
    found.step.dependsOn.forEach((upstream, i) => {
      if (!this.found.has(upstream)) {
        throw new DefinitionError(`${found.path}.DependsOn[${i}]`, `names "${upstream}", which is not a step of this definition`, {
          step: found.name,
          hint: `name one of its steps: ${[...this.found.keys()].join(", ")}`,
        });
      }
    });
    const where =
      found.step.type === "Training"
        ? `${found.path}.Arguments`
        : found.step.type === "Fail"
          ? `${found.path}.Arguments.ErrorMessage`
          : `${found.path}.Arguments.Conditions`;
    this.checkExpressions(found.reads, where, found.name);
  }

  /** Checks every expression inside a value: its shape and the names it reads. */
  private checkExpressions(value: Json, path: string, step: string | undefined): void {
    if (value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      (value as readonly Json[]).forEach((item, i) => {
        this.checkExpressions(item, `${path}[${i}]`, step);
      });
      return;
    }
    const expression = asExpression(value);
    if (expression === undefined) {
      for (const [key, item] of Object.entries(value as JsonObject)) this.checkExpressions(item, `${path}.${key}`, step);
      return;
    }
    if ("Get" in expression) {
      this.checkGet(expression.Get, `${path}.Get`, step);
      return;
    }
    if ("Std:Join" in expression) {
      const join = object(expression["Std:Join"], `${path}.Std:Join`, step, 'Std:Join is {"On": "<separator>", "Values": [...]}');
      if (typeof join.On !== "string" || !Array.isArray(join.Values)) {
        throw new DefinitionError(`${path}.Std:Join`, "needs On, a string, and Values, a list", {
          step,
          hint: 'write {"Std:Join": {"On": "/", "Values": ["s3://bucket", {"Get": "Execution.PipelineExecutionId"}]}}',
        });
      }
      this.checkExpressions(join.Values, `${path}.Std:Join.Values`, step);
      return;
    }
    const at = `${path}.Std:JsonGet`;
    const jsonGet = object(expression["Std:JsonGet"], at, step, 'Std:JsonGet is {"S3Uri": ..., "Path": "..."}');
    if (jsonGet.PropertyFile !== undefined) {
      throw new DefinitionError(`${at}.PropertyFile`, "reads a property file, which only Processing steps write", {
        step,
        hint: "read a JSON file by its S3Uri instead; stepbox runs no Processing steps",
      });
    }
    if (jsonGet.S3Uri === undefined || jsonGet.S3Uri === null) {
      throw new DefinitionError(at, "has no S3Uri", {
        step,
        hint: 'give it "S3Uri": the JSON file to read, a string or a Std:Join',
      });
    }
    if (typeof jsonGet.Path !== "string") {
      throw new DefinitionError(`${at}.Path`, `is ${describe(jsonGet.Path)}, not a string`, {
        step,
        hint: "write the Path as Result[1]['key'], Result.key or Result[\"key\"]",
      });
    }
    try {
      parseJsonPath(jsonGet.Path);
    } catch (error) {
      throw new DefinitionError(`${at}.Path`, `"${jsonGet.Path}" is not a JSON path: ${(error as Error).message}`, {
        step,
        hint: "write the Path as Result[1]['key'], Result.key or Result[\"key\"]",
      });
    }
    if (jsonGet.StepName !== undefined && (typeof jsonGet.StepName !== "string" || !this.found.has(jsonGet.StepName))) {
      throw new DefinitionError(`${at}.StepName`, `${describe(jsonGet.StepName)} is not a step of this definition`, {
        step,
        hint: `name one of its steps: ${[...this.found.keys()].join(", ")}`,
      });
    }
    this.checkExpressions(jsonGet.S3Uri, `${at}.S3Uri`, step);
  }

  private checkGet(reference: Json, path: string, step: string | undefined): void {
    const target = typeof reference === "string" ? parseGet(reference) : undefined;
    if (target === undefined) {
      throw new DefinitionError(path, `${describe(reference)} names nothing a Get can read`, {
        step,
        hint: "a Get names Parameters.<name>, Execution.<name> or Steps.<step>.<property>",
      });
    }
    if (target.kind === "parameter") {
      if (!this.parameters.some((p) => p.Name === target.name)) {
        const declared = this.parameters.map((p) => p.Name);
        throw new DefinitionError(path, `reads parameter "${target.name}", which the definition does not declare`, {
          step,
          hint:
            declared.length > 0
              ? `declare it in Parameters or read one of: ${declared.join(", ")}`
              : `declare it in Parameters: {"Name": "${target.name}", "Type": "String"}`,
        });
      }
    } else if (target.kind === "execution") {
      if (!EXECUTION_VARIABLES.includes(target.name)) {
        throw new DefinitionError(path, `reads execution variable "${target.name}", which SageMaker does not have`, {
          step,
          hint: `read one of: ${EXECUTION_VARIABLES.join(", ")}`,
        });
      }
    } else if (!this.found.has(target.step)) {
      throw new DefinitionError(path, `reads step "${target.step}", which is not a step of this definition`, {
        step,
        hint: `name one of its steps: ${[...this.found.keys()].join(", ")}`,
      });
    }
  }

  private graph(branches: Map<string, { ifSteps: readonly string[]; elseSteps: readonly string[] }>): DefinitionGraph {
    const appearance = [...this.pathOf.keys()];
    const gate = new Map<string, string>();
    for (const [condition, branch] of branches) {
      for (const member of [...branch.ifSteps, ...branch.elseSteps]) gate.set(member, condition);
    }
    const upstream = new Map<string, readonly string[]>();
    for (const found of this.found.values()) {
      const names: string[] = [];
      const listed = new Set<string>();
      const add = (name: string): void => {
        if (!listed.has(name)) {
          listed.add(name);
          names.push(name);
        }
      };
      found.step.dependsOn.forEach(add);
      stepsReadBy(found.reads).forEach(add);
      const condition = gate.get(found.name);
      if (condition !== undefined) add(condition);
      upstream.set(found.name, names);
    }
    const order = topologicalOrder(appearance, upstream, (name) => this.pathOf.get(name) ?? name);
    const downstream = new Map<string, string[]>(order.map((name) => [name, []]));
    for (const name of order) {
      for (const up of upstream.get(name) ?? []) downstream.get(up)?.push(name);
    }
    const steps = order.map((name) => (this.found.get(name) as FoundStep).step);
    const byName = new Map(steps.map((s) => [s.name, s]));
    return {
      parameters: this.parameters,
      steps,
      upstream: new Map(order.map((name) => [name, upstream.get(name) ?? []])),
      downstream,
      branches,
      step: (name) => byName.get(name),
    };
  }
}

/**
 * Kahn's algorithm that always takes, of the steps whose upstream steps are placed, the one that
 * appears first in the definition: the same definition gives the same order every time. The ready
 * steps wait in a heap by their place of appearance, so the order costs O((steps + edges) log steps).
 */
function topologicalOrder(appearance: readonly string[], upstream: ReadonlyMap<string, readonly string[]>, pathOf: (name: string) => string): string[] {
  const indexOf = new Map(appearance.map((name, i) => [name, i]));
  const waiting = new Int32Array(appearance.length);
  const downstream: number[][] = appearance.map(() => []);
  appearance.forEach((name, i) => {
    for (const up of upstream.get(name) ?? []) {
      const u = indexOf.get(up);
      if (u === undefined) continue;
      waiting[i]!++;
      downstream[u]!.push(i);
    }
  });
  const ready = new MinHeap();
  waiting.forEach((count, i) => {
    if (count === 0) ready.push(i);
  });
  const order: string[] = [];
  for (let next = ready.pop(); next !== undefined; next = ready.pop()) {
    order.push(appearance[next] as string);
    for (const d of downstream[next]!) if (--waiting[d]! === 0) ready.push(d);
  }
  if (order.length < appearance.length) {
    const placed = new Set(order);
    const cycle = findCycle(
      appearance.filter((name) => !placed.has(name)),
      upstream,
    );
    throw new DefinitionError(pathOf(cycle[0] as string), `its steps form a cycle: ${cycle.join(" -> ")}`, {
      step: cycle[0],
      hint: "remove one of the dependencies in that loop (a DependsOn, a Get or Std:JsonGet of a step, a branch)",
    });
  }
  return order;
}

/** A binary min-heap of numbers: the ready steps, smallest place of appearance first. */
class MinHeap {
  readonly #items: number[] = [];

  push(value: number): void {
    const items = this.#items;
    items.push(value);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= value) break;
      items[i] = items[parent]!;
      items[parent] = value;
      i = parent;
    }
  }

  pop(): number | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && items[left]! < items[smallest]!) smallest = left;
      if (right < items.length && items[right]! < items[smallest]!) smallest = right;
      if (smallest === i) break;
      [items[i], items[smallest]] = [items[smallest]!, items[i]!];
      i = smallest;
    }
    return top;
  }
}

/** A cycle among the given steps (each waits for another of them), as names, first repeated at the end. */
function findCycle(remaining: readonly string[], upstream: ReadonlyMap<string, readonly string[]>): string[] {
  const left = new Set(remaining);
  // Every remaining step waits for a remaining step; walking upstream must revisit one.
  let current = remaining[0] as string;
  const seen: string[] = [];
  while (!seen.includes(current)) {
    seen.push(current);
    current = (upstream.get(current) ?? []).find((up) => left.has(up)) as string;
  }
  // `seen` walked upstream: reverse it so the arrows point from a step to the one that waits for it.
  const loop = seen.slice(seen.indexOf(current)).reverse();
  // Start at the step that appears first in the definition, so one cycle is always told the same way.
  const start = loop.indexOf(remaining.find((name) => loop.includes(name)) as string);
  const told = [...loop.slice(start), ...loop.slice(0, start)];
  return [...told, told[0] as string];
}

function readParameters(value: Json | undefined): DefinedParameter[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw new DefinitionError("Parameters", `is ${describe(value)}, not a list`, {
      hint: 'write "Parameters": [{"Name": "Epochs", "Type": "Integer", "DefaultValue": 10}, ...]',
    });
  }
  const seen = new Set<string>();
  return value.map((item: Json, i: number): DefinedParameter => {
    const path = `Parameters[${i}]`;
    const raw = object(item, path, undefined, "a parameter is {Name, Type, DefaultValue}");
    if (typeof raw.Name !== "string" || raw.Name === "") {
      throw new DefinitionError(`${path}.Name`, `${describe(raw.Name)} is not a parameter name`, {
        hint: "give each parameter a Name",
      });
    }
    const name = raw.Name;
    if (seen.has(name)) {
      throw new DefinitionError(`${path}.Name`, `a parameter named "${name}" is already declared`, {
        hint: "declare each parameter once",
      });
    }
    seen.add(name);
    const type = raw.Type;
    if (typeof type !== "string" || !(PARAMETER_TYPES as readonly string[]).includes(type)) {
      throw new DefinitionError(`${path}.Type`, `${describe(type)} is not a parameter type (parameter "${name}")`, {
        hint: `use one of: ${PARAMETER_TYPES.join(", ")}`,
      });
    }
    const parameterType = type as ParameterType;
    const parameter: { -readonly [K in keyof DefinedParameter]: DefinedParameter[K] } = { Name: name, Type: parameterType };
    if (raw.DefaultValue !== undefined && raw.DefaultValue !== null) {
      if (!ofParameterType(raw.DefaultValue, parameterType)) {
        throw new DefinitionError(`${path}.DefaultValue`, `${describe(raw.DefaultValue)} is not a ${type} (parameter "${name}")`, {
          hint: `give a ${type} parameter a default of its type${type === "Integer" ? ", a whole number" : ""}, unquoted unless it is a String`,
        });
      }
      parameter.DefaultValue = raw.DefaultValue as string | number | boolean;
    }
    if (raw.EnumValues !== undefined && raw.EnumValues !== null) {
      if (!Array.isArray(raw.EnumValues) || !raw.EnumValues.every((v: Json) => ofParameterType(v, parameterType))) {
        throw new DefinitionError(`${path}.EnumValues`, `is not a list of ${type} values (parameter "${name}")`, {
          hint: `list the values a ${type} parameter may take, each of its type`,
        });
      }
      parameter.EnumValues = raw.EnumValues as (string | number)[];
    }
    return parameter;
  });
}

function ofParameterType(value: Json, type: ParameterType): boolean {
  switch (type) {
    case "String":
      return typeof value === "string";
    case "Integer":
      return typeof value === "number" && Number.isInteger(value);
    case "Float":
      return typeof value === "number" && Number.isFinite(value);
    case "Boolean":
      return typeof value === "boolean";
  }
}

function readCondition(value: Json, path: string, step: string): DefinedCondition {
  const raw = object(value, path, step, 'a condition is {"Type": "Equals", "LeftValue": ..., "RightValue": ...} or In, Not, Or');
  const type = raw.Type;
  if (typeof type === "string" && (COMPARISONS as readonly string[]).includes(type)) {
    for (const key of ["LeftValue", "RightValue"] as const) {
      if (raw[key] === undefined) {
        throw new DefinitionError(path, `a ${type} condition has no ${key}`, {
          step,
          hint: `give it both LeftValue and RightValue`,
        });
      }
    }
    return { Type: type as ComparisonType, LeftValue: raw.LeftValue as Json, RightValue: raw.RightValue as Json };
  }
  if (type === "In") {
    if (raw.QueryValue === undefined || !Array.isArray(raw.Values)) {
      throw new DefinitionError(path, "an In condition needs QueryValue and Values, a list", {
        step,
        hint: 'write {"Type": "In", "QueryValue": ..., "Values": [...]}',
      });
    }
    return { Type: "In", QueryValue: raw.QueryValue, Values: raw.Values };
  }
  if (type === "Not") {
    const key = raw.Expression !== undefined ? "Expression" : raw.Condition !== undefined ? "Condition" : undefined;
    if (key === undefined) {
      throw new DefinitionError(path, "a Not condition has no Expression, the condition it negates", {
        step,
        hint: 'write {"Type": "Not", "Expression": {<condition>}}',
      });
    }
    return { Type: "Not", Expression: readCondition(raw[key] as Json, `${path}.${key}`, step) };
  }
  if (type === "Or") {
    if (!Array.isArray(raw.Conditions) || raw.Conditions.length === 0) {
      throw new DefinitionError(path, "an Or condition needs Conditions, a list of conditions", {
        step,
        hint: 'write {"Type": "Or", "Conditions": [{<condition>}, ...]}',
      });
    }
    return {
      Type: "Or",
      Conditions: raw.Conditions.map((c: Json, i: number) => readCondition(c, `${path}.Conditions[${i}]`, step)),
    };
  }
  throw new DefinitionError(`${path}.Type`, `${describe(type)} is not a condition type`, {
    step,
    hint: `use one of: ${[...COMPARISONS, "In", "Not", "Or"].join(", ")}`,
  });
}

function readRetryPolicies(value: Json | undefined, path: string, step: string): DefinedRetryPolicy[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw new DefinitionError(path, `is ${describe(value)}, not a list of retry policies`, {
      step,
      hint: 'write "RetryPolicies": [{"ExceptionType": ["Step.SERVICE_FAULT"], "IntervalSeconds": 10, "BackoffRate": 2, "MaxAttempts": 3}]',
    });
  }
  return value.map((item: Json, i: number): DefinedRetryPolicy => {
    const at = `${path}[${i}]`;
    const raw = object(item, at, step, "a retry policy is {ExceptionType, IntervalSeconds, BackoffRate, MaxAttempts | ExpireAfterMin}");
    // The published schema has ExceptionType as one string; the SDK and the service use a list.
    const types = typeof raw.ExceptionType === "string" ? [raw.ExceptionType] : raw.ExceptionType;
    if (!Array.isArray(types) || types.length === 0 || !types.every((t: Json) => typeof t === "string")) {
      throw new DefinitionError(`${at}.ExceptionType`, `is ${describe(raw.ExceptionType)}, not a list of exception types`, {
        step,
        hint: 'write "ExceptionType": ["Step.SERVICE_FAULT", "SageMaker.CAPACITY_ERROR", ...]',
      });
    }
    const policy: { -readonly [K in keyof DefinedRetryPolicy]: DefinedRetryPolicy[K] } = { ExceptionType: types as string[] };
    for (const key of ["IntervalSeconds", "BackoffRate", "MaxAttempts", "ExpireAfterMin"] as const) {
      const number = raw[key];
      if (number === undefined || number === null) continue;
      if (typeof number !== "number" || !Number.isFinite(number) || number < 0) {
        throw new DefinitionError(`${at}.${key}`, `${describe(number)} is not a number of 0 or more`, {
          step,
          hint: `give ${key} a number`,
        });
      }
      policy[key] = number;
    }
    return policy;
  });
}

function readCacheConfig(value: Json | undefined, path: string, step: string): { cacheConfig?: { readonly Enabled: boolean; readonly ExpireAfter?: string } } {
  if (value === undefined || value === null) return {};
  const raw = object(value, path, step, 'CacheConfig is {"Enabled": true, "ExpireAfter": "P30D"}');
  if (typeof raw.Enabled !== "boolean" || (raw.ExpireAfter !== undefined && typeof raw.ExpireAfter !== "string")) {
    throw new DefinitionError(path, "needs Enabled, a boolean, and ExpireAfter, when given, an ISO 8601 duration string", {
      step,
      hint: 'write "CacheConfig": {"Enabled": true, "ExpireAfter": "P30D"}',
    });
  }
  return {
    cacheConfig: typeof raw.ExpireAfter === "string" ? { Enabled: raw.Enabled, ExpireAfter: raw.ExpireAfter } : { Enabled: raw.Enabled },
  };
}

function object(value: unknown, path: string, step: string | undefined, shape: string): JsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new DefinitionError(path, `is ${describe(value)}, not an object`, { step, hint: shape });
  }
  return value as JsonObject;
}

function stringList(value: Json | undefined, path: string, step: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item: Json) => typeof item === "string")) {
    throw new DefinitionError(path, `is ${describe(value)}, not a list of step names`, {
      step,
      hint: 'write "DependsOn": ["<step name>", ...]',
    });
  }
  return value as string[];
}

function optionalString<K extends string>(raw: JsonObject, key: string, as: K, path: string, step: string): { [P in K]?: string } {
  const value = raw[key];
  if (value === undefined || value === null) return {};
  if (typeof value !== "string") {
    throw new DefinitionError(`${path}.${key}`, `is ${describe(value)}, not a string`, { step, hint: `give ${key} a string` });
  }
  return { [as]: value } as { [P in K]?: string };
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
