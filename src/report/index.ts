/**
 * Pictures of pipelines and their runs: the DAG as Mermaid, DOT or SVG, and a self-contained HTML
 * report of one execution.
 */
export { renderGraph, GRAPH_FORMATS, type GraphFormat } from "./render-graph.js";
export {
  loadExecutionDefinition,
  loadRunReport,
  LOG_TAIL_BYTES,
  type ExecutionDefinition,
  type RunReport,
  type StepReport,
  type StepLog,
} from "./run-report.js";
export { renderReportHtml } from "./report-html.js";
