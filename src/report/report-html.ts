import { dagFromDefinition, type Dag } from "./dag.js";
import { layoutDag } from "./dag-layout.js";
import { dagSvg, typeLabel } from "./dag-svg.js";
import { escapeMarkup as e } from "./escape.js";
import { REPORT_CSP, REPORT_CSS, REPORT_SCRIPT, statusClass } from "./page-assets.js";
import type { RunReport, StepReport } from "./run-report.js";
import { KNOWN_STATUSES, statusText } from "./status-colours.js";
import { badge, reuseNote, stepAnchor, stepSection } from "./step-section.js";
import { elapsed, formatDuration, formatTime } from "./time-format.js";
import { peakConcurrency, timelineSvg, type TimelineRow } from "./timeline-svg.js";
import { executionEnded } from "../store/records.js";
import { displayStatus } from "../store/step-state.js";

/**
 * One self-contained HTML page about an execution: the DAG coloured by status, a timeline of what
 * ran when, failure reasons, cache hits, attempts, parameters and each step's logs. It loads
 * nothing (its CSP forbids it) and escapes every text that came from records or logs.
 */
export function renderReportHtml(report: RunReport): string {
  const x = report.execution;
  const ended = executionEnded(report.execution.PipelineExecutionStatus);
  const status = (s: StepReport): string => displayStatus(s.record, ended);
  const { dag, problem } = drawableDag(report);
  const types = new Map(dag.nodes.map((n) => [n.name, n.type]));
  const rows = timelineRows(report);
  const title = `${x.PipelineName} · ${x.PipelineExecutionId}`;
  const body = [
    header(report, rows),
    x.FailureReason ? `<div class="failure" data-role="execution-failure">${e(x.FailureReason)}</div>` : "",
    report.definitionChanged
      ? `<div class="notice">This execution was recorded before stepbox kept each execution's definition, and the pipeline was changed after it started; the graph shows its current definition, which may differ from what ran.</div>`
      : "",
    graphSection(report, dag, problem),
    `<section id="timeline"><h2>Timeline</h2>${rows.length > 0 ? timelineSvg(rows, Date.parse(x.CreationTime)) : `<p class="muted">No step has started.</p>`}</section>`,
    stepsTable(report, types),
    parametersSection(report),
    `<section id="details"><h2>Steps in detail</h2>${report.steps.map((s, i) => stepSection(s, i, types.get(s.name) ?? "Unknown", report.generatedAt, ended)).join("\n")}</section>`,
    `<footer>stepbox report, read ${e(formatTime(report.generatedAt))}. Times are in UTC. ${report.steps.filter((s) => status(s) === "Failed").length > 0 ? "Failed steps are open below." : ""}</footer>`,
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${e(REPORT_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
${body.filter((part) => part !== "").join("\n")}
</main>
<script>${REPORT_SCRIPT}</script>
</body>
</html>
`;
}

/** The definition's graph plus any step the execution ran that it lacks (an older execution drawn with a newer definition). */
function drawableDag(report: RunReport): { dag: Dag; problem?: string } {
  let dag: Dag;
  let problem: string | undefined;
  try {
    dag = dagFromDefinition(report.definition);
  } catch (error) {
    dag = { nodes: [], edges: [] };
    problem = (error as Error).message;
  }
  const known = new Set(dag.nodes.map((n) => n.name));
  const missing = report.execution.StepNames.filter((n) => !known.has(n)).map((name) => ({ name, type: "Unknown" }));
  return { dag: { nodes: [...dag.nodes, ...missing], edges: dag.edges }, ...(problem !== undefined ? { problem } : {}) };
}

function header(report: RunReport, rows: readonly TimelineRow[]): string {
  const x = report.execution;
  const running = !executionEnded(x.PipelineExecutionStatus);
  const took = elapsed(x.CreationTime, running ? undefined : x.LastModifiedTime, report.generatedAt) ?? Number.NaN;
  const counts = new Map<string, number>();
  for (const s of report.steps) {
    const status = displayStatus(s.record, !running);
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  const tally = [...counts].map(([status, n]) => `${n} ${statusText(status).toLowerCase()}`).join(", ");
  const cacheHits = report.steps.filter((s) => s.record?.CacheHitResult).length;
  const retries = report.steps.reduce((sum, s) => sum + Math.max(0, (s.record?.AttemptCount ?? 1) - 1), 0);
  const fact = (value: string, label: string): string => `<div class="fact"><b>${value}</b><span>${e(label)}</span></div>`;
  return `<header>
<h1>${e(x.PipelineName)} ${badge(x.PipelineExecutionStatus)}</h1>
<div class="sub">execution ${e(x.PipelineExecutionId)} · ${e(x.PipelineExecutionDisplayName)} · started ${e(formatTime(x.CreationTime))}</div>
${x.PipelineExecutionDescription ? `<div class="sub">${e(x.PipelineExecutionDescription)}</div>` : ""}
${x.SelectiveExecutionConfig ? `<div class="sub">reruns ${e(x.SelectiveExecutionConfig.SelectedSteps.map((s) => s.StepName).join(", "))} of ${e(x.SelectiveExecutionConfig.SourcePipelineExecutionArn)}</div>` : ""}
<div class="facts">
${fact(e(formatDuration(took)), running ? "so far" : "took")}
${fact(String(report.steps.length), tally ? `steps: ${tally}` : "steps")}
${fact(String(peakConcurrency(rows)), `at most at once (limit ${x.ParallelismConfiguration.MaxParallelExecutionSteps})`)}
${fact(String(cacheHits), cacheHits === 1 ? "cache hit" : "cache hits")}
${fact(String(retries), retries === 1 ? "retry" : "retries")}
</div>
</header>`;
}

function graphSection(report: RunReport, dag: Dag, problem: string | undefined): string {
  const statuses = new Map(report.steps.map((s) => [s.name, displayStatus(s.record, executionEnded(report.execution.PipelineExecutionStatus))]));
  const captions = new Map(
    report.steps.map((s) => {
      const r = s.record;
      const parts = [statusText(statuses.get(s.name)!)];
      if (r?.StartTime) parts.push(formatDuration(elapsed(r.StartTime, r.EndTime, report.generatedAt) ?? Number.NaN));
      if (r?.CacheHitResult) parts.push("cached");
      if (r?.SelectiveExecutionResult) parts.push("reused");
      if (r && r.AttemptCount > 1) parts.push(`${r.AttemptCount} tries`);
      return [s.name, parts.join(" · ")];
    }),
  );
  const links = new Map(report.steps.map((s, i) => [s.name, `#${stepAnchor(i)}`]));
  const legend = KNOWN_STATUSES.map((s) => `<span><i class="${statusClass(s)}"></i>${e(statusText(s))}</span>`).join("");
  const edges = `<span>── data</span><span>- - - dependsOn</span><span>if / else: condition branches</span>`;
  return `<section id="graph"><h2>Graph</h2>
${problem ? `<div class="notice">${e(problem)}</div>` : ""}
<div class="graph">${dagSvg(layoutDag(dag), { statuses, captions, links })}</div>
<div class="legend">${legend}${edges}</div>
</section>`;
}

/** A row per started step, in start order; attempts are separate bars, so retry waits show as gaps. */
function timelineRows(report: RunReport): TimelineRow[] {
  const started = report.steps
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.record?.StartTime !== undefined)
    .sort((a, b) => Date.parse(a.s.record!.StartTime!) - Date.parse(b.s.record!.StartTime!));
  return started.map(({ s, i }): TimelineRow => {
    const r = s.record!;
    const link = `#${stepAnchor(i)}`;
    // A reused result's times belong to the execution it came from.
    if (r.SelectiveExecutionResult) return { step: s.name, bars: [], note: reuseNote(r)!, link };
    const terminal = r.EndTime !== undefined;
    const bars =
      terminal && r.Attempts && r.Attempts.length > 0
        ? r.Attempts.map((a) => ({
            start: Date.parse(a.StartTime),
            end: Date.parse(a.EndTime),
            status: a.StepStatus,
            title: `${s.name}, attempt ${a.AttemptCount}: ${a.StepStatus}, ${formatDuration(Date.parse(a.EndTime) - Date.parse(a.StartTime))}`,
          }))
        : [
            {
              start: Date.parse(r.StartTime!),
              end: Date.parse(r.EndTime ?? report.generatedAt),
              status: r.StepStatus,
              title: `${s.name}: ${r.StepStatus}, ${formatDuration(elapsed(r.StartTime, r.EndTime, report.generatedAt) ?? Number.NaN)}${r.CacheHitResult ? " (cache hit)" : ""}`,
            },
          ];
    return { step: s.name, bars, link };
  });
}

function stepsTable(report: RunReport, types: ReadonlyMap<string, string>): string {
  const rows = report.steps.map((s, i) => {
    const r = s.record;
    const cache = r?.CacheHitResult ? "hit" : r?.CacheMissReason ? `miss: ${r.CacheMissReason}` : r?.SelectiveExecutionResult ? "reused" : "";
    return `<tr data-step="${e(s.name)}"><td><a href="#${stepAnchor(i)}">${e(s.name)}</a></td><td>${e(typeLabel(types.get(s.name) ?? "Unknown"))}</td><td>${badge(displayStatus(r, executionEnded(report.execution.PipelineExecutionStatus)))}</td><td>${e(formatTime(r?.StartTime))}</td><td>${e(r?.StartTime ? formatDuration(elapsed(r.StartTime, r.EndTime, report.generatedAt) ?? Number.NaN) : "–")}</td><td>${r?.AttemptCount ?? "–"}</td><td>${e(cache)}</td><td class="reason">${e(r?.FailureReason ?? "")}</td></tr>`;
  });
  return `<section id="steps"><h2>Steps</h2><table><tr><th>step</th><th>type</th><th>status</th><th>started</th><th>took</th><th>attempts</th><th>cache</th><th>failure reason</th></tr>${rows.join("")}</table></section>`;
}

function parametersSection(report: RunReport): string {
  const params = report.execution.PipelineParameters;
  const body =
    params.length === 0
      ? `<p class="muted">This pipeline has no parameters.</p>`
      : `<table><tr><th>name</th><th>value</th></tr>${params.map((p) => `<tr><td>${e(p.Name)}</td><td>${e(p.Value)}</td></tr>`).join("")}</table>`;
  return `<section id="parameters"><h2>Parameters</h2>${body}</section>`;
}
