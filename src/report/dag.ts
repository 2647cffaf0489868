import { DefinitionError, ValidationError } from "../errors.js";
import { stepsReadBy } from "../definition/expressions.js";
import type { DefinedStep, DefinitionGraph, Json } from "../definition/model.js";
import { readDefinition } from "../definition/read-definition.js";

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

/**
 * Reads the graph out of a definition JSON, as the engine reads it (any SageMaker definition,
 * branch steps nested or named). Edges: a condition to the steps of its branches ("if", "else"); an
 * upstream step whose output the step reads (`Get` or `Std:JsonGet` of `Steps.<name>`) as data flow;
 * any other (DependsOn) as order.
 */
export function dagFromDefinition(definition: string): Dag {
  let graph: DefinitionGraph;
  try {
    graph = readDefinition(definition);
  } catch (error) {
    if (!(error instanceof DefinitionError)) throw error;
    throw new ValidationError(`the pipeline definition cannot be drawn: ${error.detail}`, {
      cause: error,
      hint: "pass the JSON that pipeline.definition() returns (or the PipelineDefinition of <pipeline>/pipeline.json)",
    });
  }
  const edges: DagEdge[] = [];
  const gated = new Map<string, { from: string; kind: DagEdgeKind }>();
  for (const [condition, { ifSteps, elseSteps }] of graph.branches) {
    for (const to of ifSteps) gated.set(to, { from: condition, kind: "if" });
    for (const to of elseSteps) gated.set(to, { from: condition, kind: "else" });
  }
  for (const s of graph.steps) {
    const read = new Set(stepsReadBy(readValue(s)));
    const gate = gated.get(s.name);
    for (const from of graph.upstream.get(s.name) ?? []) {
      if (gate?.from === from) edges.push({ from, to: s.name, kind: gate.kind });
      else edges.push({ from, to: s.name, kind: read.has(from) ? "data" : "order" });
    }
  }
  return { nodes: graph.steps.map((s) => ({ name: s.name, type: s.type })), edges };
}

/** What a step reads other steps' outputs with: its arguments, conditions or message. */
function readValue(step: DefinedStep): Json {
  switch (step.type) {
    case "Training":
      return step.arguments;
    case "Condition":
      return step.conditions as unknown as Json;
    case "Fail":
      return step.errorMessage;
  }
}
