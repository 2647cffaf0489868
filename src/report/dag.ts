import { ValidationError } from "../errors.js";

/** Why one step waits for another: it reads its output, it was told to, or a condition chose it. */
export type DagEdgeKind = "data" | "order" | "if" | "else";

export interface DagNode {
  readonly name: string;
  /** The definition's step type: "Training" for a function step, "Condition", "Fail". */
  readonly type: string;
}

export interface DagEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: DagEdgeKind;
}

/** The steps of a pipeline definition and the edges between them, in the definition's order. */
export interface Dag {
  readonly nodes: readonly DagNode[];
  readonly edges: readonly DagEdge[];
}

interface DefinitionStep {
  Name: string;
  Type?: string;
  DependsOn?: string[];
  Arguments?: { IfSteps?: string[]; ElseSteps?: string[] };
}

const notADefinition = (why: string): ValidationError =>
  new ValidationError(`the pipeline definition cannot be drawn: ${why}`, {
    hint: "pass the JSON that pipeline.definition() returns (or the PipelineDefinition of <pipeline>/pipeline.json)",
  });

/**
 * Reads the graph out of a definition JSON. Edges come from each step's `DependsOn` (which holds
 * both data flow and explicit dependencies) and from conditions' `IfSteps`/`ElseSteps`; a
 * dependency whose output the step's arguments `Get` is drawn as data flow, any other as order.
 */
export function dagFromDefinition(definition: string): Dag {
  let doc: unknown;
  try {
    doc = JSON.parse(definition);
  } catch (cause) {
    throw new ValidationError("the pipeline definition is not valid JSON", { cause, hint: "pass the JSON that pipeline.definition() returns" });
  }
  const steps = (doc as { Steps?: unknown } | null)?.Steps;
  if (!Array.isArray(steps)) throw notADefinition('it has no "Steps" list');
  const defined = steps.map((s: unknown, i) => checkStep(s, i));
  const names = new Set(defined.map((s) => s.Name));
  if (names.size !== defined.length) throw notADefinition("two steps share a name");

  const edges = new Map<string, DagEdge>();
  const add = (from: string, to: string, kind: DagEdgeKind): void => {
    if (!names.has(from)) throw notADefinition(`step "${to}" depends on "${from}", which is not one of its steps`);
    const key = JSON.stringify([from, to]);
    // A branch label says more than "order", and data flow more than either.
    if (!edges.has(key) || kind === "data") edges.set(key, { from, to, kind });
  };
  for (const s of defined) {
    for (const target of s.Arguments?.IfSteps ?? []) add(s.Name, target, "if");
    for (const target of s.Arguments?.ElseSteps ?? []) add(s.Name, target, "else");
  }
  for (const s of defined) {
    const read = referencedSteps(s.Arguments);
    for (const from of s.DependsOn ?? []) add(from, s.Name, read.has(from) ? "data" : "order");
  }
  for (const e of edges.values()) {
    if (!names.has(e.to)) throw notADefinition(`condition "${e.from}" branches to "${e.to}", which is not one of its steps`);
  }
  return { nodes: defined.map((s) => ({ name: s.Name, type: s.Type ?? "Unknown" })), edges: [...edges.values()] };
}

function checkStep(step: unknown, index: number): DefinitionStep {
  const s = step as Partial<DefinitionStep> | null;
  if (typeof s?.Name !== "string" || s.Name === "") throw notADefinition(`step ${index} has no Name`);
  const isNames = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.every((n) => typeof n === "string"));
  if (!isNames(s.DependsOn) || !isNames(s.Arguments?.IfSteps) || !isNames(s.Arguments?.ElseSteps)) {
    throw notADefinition(`step "${s.Name}" has a DependsOn, IfSteps or ElseSteps that is not a list of names`);
  }
  return s as DefinitionStep;
}

/** The steps whose outputs a value reads: every `{"Get": "Steps.<name>..."}` in it. */
function referencedSteps(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) referencedSteps(v, found);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const ref = k === "Get" && typeof v === "string" ? /^Steps\.([^.[]+)/.exec(v) : null;
      if (ref) found.add(ref[1]!);
      else referencedSteps(v, found);
    }
  }
  return found;
}
