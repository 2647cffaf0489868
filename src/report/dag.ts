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
  Arguments?: { IfSteps?: BranchEntry[]; ElseSteps?: BranchEntry[] };
}

/** A branch's step: nested whole, as SageMaker's definitions hold it, or (in definitions stepbox wrote before) by name. */
type BranchEntry = DefinitionStep | string;

const branchName = (entry: BranchEntry): string => (typeof entry === "string" ? entry : entry.Name);

const notADefinition = (why: string): ValidationError =>
  new ValidationError(`the pipeline definition cannot be drawn: ${why}`, {
    hint: "pass the JSON that pipeline.definition() returns (or the PipelineDefinition of <pipeline>/pipeline.json)",
  });

/**
 * Reads the graph out of a definition JSON. Edges come from each step's `DependsOn` (which holds
 * both data flow and explicit dependencies) and from conditions' `IfSteps`/`ElseSteps` (whose steps
 * are nested in them, and drawn as steps of their own); a
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
  const defined = flattenSteps(steps);
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
    for (const target of s.Arguments?.IfSteps ?? []) add(s.Name, branchName(target), "if");
    for (const target of s.Arguments?.ElseSteps ?? []) add(s.Name, branchName(target), "else");
  }
  for (const s of defined) {
    // A condition's own operands, not the arguments of the steps nested in its branches.
    const read = referencedSteps({ ...s.Arguments, IfSteps: undefined, ElseSteps: undefined });
    for (const from of s.DependsOn ?? []) add(from, s.Name, read.has(from) ? "data" : "order");
  }
  for (const e of edges.values()) {
    if (!names.has(e.to)) throw notADefinition(`condition "${e.from}" branches to "${e.to}", which is not one of its steps`);
  }
  return { nodes: defined.map((s) => ({ name: s.Name, type: s.Type ?? "Unknown" })), edges: [...edges.values()] };
}

/** Every step, the ones nested in a condition's branches after the step that holds them. */
function flattenSteps(steps: readonly unknown[], where = "step"): DefinitionStep[] {
  return steps.flatMap((step, index) => {
    const s = checkStep(step, `${where} ${index}`);
    const nested = [...(s.Arguments?.IfSteps ?? []), ...(s.Arguments?.ElseSteps ?? [])].filter((entry) => typeof entry !== "string");
    return [s, ...flattenSteps(nested, `a branch step of "${s.Name}", number`)];
  });
}

function checkStep(step: unknown, which: string): DefinitionStep {
  const s = step as Partial<DefinitionStep> | null;
  if (typeof s?.Name !== "string" || s.Name === "") throw notADefinition(`${which} has no Name`);
  const isNames = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.every((n) => typeof n === "string"));
  const isBranch = (v: unknown): boolean =>
    v === undefined || (Array.isArray(v) && v.every((n) => typeof n === "string" || (typeof n === "object" && n !== null)));
  if (!isNames(s.DependsOn) || !isBranch(s.Arguments?.IfSteps) || !isBranch(s.Arguments?.ElseSteps)) {
    throw notADefinition(`step "${s.Name}" has a DependsOn that is not a list of names, or IfSteps or ElseSteps that are not lists of steps`);
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
