import { ValidationError } from "../errors.js";
import { dagFromDefinition } from "./dag.js";
import { layoutDag } from "./dag-layout.js";
import { dagSvg } from "./dag-svg.js";
import { dagDot, dagMermaid } from "./dag-text.js";

export type GraphFormat = "mermaid" | "dot" | "svg";

export const GRAPH_FORMATS: readonly GraphFormat[] = ["mermaid", "dot", "svg"];

/**
 * Draws a pipeline's DAG from its definition JSON (`pipeline.definition()`): edges from data flow
 * (solid), explicit `dependsOn` (dashed) and condition branches (labelled `if`/`else`). With
 * `statuses` (step name to status, as an execution's records have them) each step is coloured by
 * its status.
 */
export function renderGraph(definition: string, format: GraphFormat, statuses?: ReadonlyMap<string, string>): string {
  const dag = dagFromDefinition(definition);
  switch (format) {
    case "mermaid":
      return dagMermaid(dag, statuses);
    case "dot":
      return dagDot(dag, statuses);
    case "svg":
      return `${dagSvg(layoutDag(dag), { statuses })}\n`;
    default:
      throw new ValidationError(`renderGraph(): unknown format ${JSON.stringify(format)}`, { hint: `use one of: ${GRAPH_FORMATS.join(", ")}` });
  }
}
