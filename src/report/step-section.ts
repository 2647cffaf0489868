import { parseExecutionArn } from "../naming/sagemaker-arns.js";
import type { StepRecord } from "../store/records.js";
import { escapeMarkup as e } from "./escape.js";
import { statusClass } from "./page-assets.js";
import { typeLabel } from "./dag-svg.js";
import { LOG_TAIL_BYTES, type StepLog, type StepReport } from "./run-report.js";
import { displayStatus } from "../store/step-state.js";
import { statusText } from "./status-colours.js";
import { elapsed, formatDuration, formatTime } from "./time-format.js";

/** How the report refers to a step in links: by position, so no step name ever becomes an id. */
export const stepAnchor = (index: number): string => `step-${index}`;

/** A status badge. */
export function badge(status: string): string {
  return `<span class="badge ${statusClass(status)}">${e(statusText(status))}</span>`;
}

/** Where a step's result came from when it did not run here. */
export function reuseNote(record: StepRecord | undefined): string | undefined {
  if (record?.CacheHitResult) return `cache hit: result of ${executionOf(record.CacheHitResult.SourcePipelineExecutionArn)}`;
  if (record?.SelectiveExecutionResult) return `reused from ${executionOf(record.SelectiveExecutionResult.SourcePipelineExecutionArn)}`;
  return undefined;
}

function executionOf(arn: string): string {
  return `execution ${parseExecutionArn(arn).executionId}`;
}

/** One step's collapsible details: outcome, failure, attempts, training-job transitions, logs. */
export function stepSection(step: StepReport, index: number, type: string, now: string, executionEnded: boolean): string {
  const r = step.record;
  const status = displayStatus(r, executionEnded);
  const duration = r ? formatDuration(elapsed(r.StartTime, r.EndTime, now) ?? Number.NaN) : "–";
  const note = reuseNote(r);
  const summary = [
    `<span class="name">${e(step.name)}</span>`,
    badge(status),
    `<span class="meta">${e(typeLabel(type))} · ${e(duration)}${r && r.AttemptCount > 1 ? ` · ${r.AttemptCount} attempts` : ""}</span>`,
    note ? `<span class="tag">${e(note)}</span>` : "",
  ].join(" ");
  const body = r ? recordBody(r, step.logs) : `<p class="muted">This step never started: the execution ended, or has not reached it yet.</p>`;
  const open = status === "Failed" ? " open" : "";
  return `<details class="step" id="${stepAnchor(index)}" data-step="${e(step.name)}" data-status="${e(status)}"${open}><summary>${summary}</summary><div class="body">${body}</div></details>`;
}

function recordBody(r: StepRecord, logs: readonly StepLog[]): string {
  const parts: string[] = [];
  if (r.FailureReason) parts.push(`<div class="failure" data-role="failure-reason">${e(r.FailureReason)}</div>`);
  const facts: Array<[string, string]> = [
    ["started", formatTime(r.StartTime)],
    ["ended", formatTime(r.EndTime)],
  ];
  if (r.StepDisplayName && r.StepDisplayName !== r.StepName) facts.push(["display name", r.StepDisplayName]);
  if (r.StepDescription) facts.push(["description", r.StepDescription]);
  if (r.CacheHitResult) facts.push(["cache", `hit: the result of ${r.CacheHitResult.SourcePipelineExecutionArn}`]);
  if (r.CacheMissReason) facts.push(["cache", `miss: ${r.CacheMissReason}`]);
  if (r.SelectiveExecutionResult) facts.push(["reused from", r.SelectiveExecutionResult.SourcePipelineExecutionArn]);
  if (r.Metadata.Condition) facts.push(["condition outcome", r.Metadata.Condition.Outcome]);
  if (r.Metadata.Fail) facts.push(["fail message", r.Metadata.Fail.ErrorMessage]);
  const job = r.Metadata.TrainingJob;
  if (job) facts.push(["training job", job.TrainingJobName]);
  if (job?.ModelArtifacts) facts.push(["model", job.ModelArtifacts.S3ModelArtifacts]);
  parts.push(`<dl class="kv">${facts.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join("")}</dl>`);
  if (r.Error) {
    const stack = r.Error.stack ?? `${r.Error.name}: ${r.Error.message}`;
    parts.push(
      `<details class="more" open><summary>the function's error${r.Error.code !== undefined ? ` (code ${e(String(r.Error.code))})` : ""}</summary><pre class="stack">${e(stack)}</pre></details>`,
    );
  }
  if (r.Attempts && r.Attempts.length > 1) parts.push(attemptsTable(r.Attempts));
  if (job?.SecondaryStatusTransitions?.length) {
    const rows = job.SecondaryStatusTransitions.map(
      (t) =>
        `<tr><td>${e(t.Status)}</td><td>${e(formatTime(t.StartTime))}</td><td>${t.EndTime ? e(formatDuration(Date.parse(t.EndTime) - Date.parse(t.StartTime))) : "–"}</td><td>${e(t.StatusMessage ?? "")}</td></tr>`,
    );
    parts.push(
      `<details class="more"><summary>training job status transitions</summary><table><tr><th>status</th><th>start</th><th>took</th><th>message</th></tr>${rows.join("")}</table></details>`,
    );
  }
  parts.push(logsHtml(r, logs));
  return parts.join("\n");
}

function attemptsTable(attempts: NonNullable<StepRecord["Attempts"]>): string {
  const rows = attempts.map(
    (a) =>
      `<tr><td>${a.AttemptCount}</td><td>${badge(a.StepStatus)}</td><td>${e(formatTime(a.StartTime))}</td><td>${e(formatDuration(Date.parse(a.EndTime) - Date.parse(a.StartTime)))}</td><td class="reason">${e(a.FailureReason ?? "")}</td></tr>`,
  );
  return `<table class="attempts"><tr><th>attempt</th><th>status</th><th>started</th><th>took</th><th>failure reason</th></tr>${rows.join("")}</table>`;
}

function logsHtml(r: StepRecord, logs: readonly StepLog[]): string {
  if (logs.length === 0)
    return `<p class="muted">No logs${r.CacheHitResult || r.SelectiveExecutionResult ? ": the step did not run in this execution" : ""}.</p>`;
  const attemptOf = new Map((r.Attempts ?? []).flatMap((a) => a.LogStreams.map((s) => [s, a.AttemptCount] as const)));
  // The last stream of a failed step is where its error shows: it starts open.
  return logs
    .map((log, i) => {
      const attempt = attemptOf.get(log.stream);
      const size = `${formatBytes(log.bytes)}${log.truncated ? `, showing the last ${formatBytes(LOG_TAIL_BYTES)}` : ""}`;
      const open = r.StepStatus === "Failed" && i === logs.length - 1 ? " open" : "";
      const label = `log ${e(log.stream)}${attempt !== undefined && (r.Attempts?.length ?? 0) > 1 ? ` · attempt ${attempt}` : ""} <span class="muted">(${size})</span>`;
      const cut = log.truncated ? `[… the first ${formatBytes(log.bytes - Buffer.byteLength(log.text))} are left out; the whole log is in the store …]\n` : "";
      return `<details class="log" data-truncated="${log.truncated}"${open}><summary>${label}</summary><pre>${e(cut + withoutAnsi(log.text))}</pre></details>`;
    })
    .join("\n");
}

/** Colour codes a step printed are noise in a page. */
function withoutAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, "");
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const [value, unit] = n < 1024 * 1024 ? [n / 1024, "KiB"] : [n / 1024 / 1024, "MiB"];
  return `${value.toFixed(1).replace(/\.0$/, "")} ${unit}`;
}
