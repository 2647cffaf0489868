import { createHash } from "node:crypto";
import { KNOWN_STATUSES, statusColours } from "./status-colours.js";

/** The class that colours a badge by status; the CSP allows no style attributes, so colours are classes. */
export function statusClass(status: string): string {
  return KNOWN_STATUSES.includes(status) ? `s-${status}` : "s-other";
}

const STATUS_CSS = [...KNOWN_STATUSES, "other"]
  .map((status) => {
    const c = statusColours(status === "other" ? "" : status);
    return `.s-${status} { background: ${c.fill}; border-color: ${c.stroke}; color: ${c.text}; }`;
  })
  .join("\n");

/** The report's only stylesheet. */
export const REPORT_CSS = `${STATUS_CSS}
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --panel: #ffffff; --bg: #f1f5f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .sub { color: var(--muted); font-size: 13px; word-break: break-all; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin-top: 16px; }
section h2 { margin: 0 0 12px; font-size: 16px; }
.facts { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 14px; }
.fact { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; min-width: 120px; }
.fact b { display: block; font-size: 16px; }
.fact span { color: var(--muted); font-size: 12px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid; white-space: nowrap; }
.tag { display: inline-block; padding: 0 7px; border-radius: 4px; font-size: 11px; background: #eef2ff; color: #3730a3; margin-left: 4px; }
.notice { border-left: 4px solid #d97706; background: #fffbeb; padding: 8px 12px; border-radius: 6px; margin-top: 12px; }
.failure { border-left: 4px solid #dc2626; background: #fef2f2; padding: 10px 12px; border-radius: 6px; margin: 8px 0; white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.graph { overflow-x: auto; }
.graph svg { display: block; margin: 0 auto; }
.legend { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 8px; color: var(--muted); font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; border: 1px solid; vertical-align: -2px; margin-right: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.reason { max-width: 360px; word-break: break-word; }
a { color: #1d4ed8; text-decoration: none; }
a:hover { text-decoration: underline; }
details.step { border: 1px solid var(--line); border-radius: 8px; margin-top: 10px; }
details.step > summary { cursor: pointer; padding: 10px 12px; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
details.step > summary .name { font-weight: 600; }
details.step > summary .meta { color: var(--muted); font-size: 12px; }
details.step > .body { padding: 0 12px 12px; }
details.step:target { outline: 2px solid #2563eb; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; font-size: 13px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; word-break: break-all; }
details.log, details.more { margin-top: 8px; }
details.log > summary, details.more > summary { cursor: pointer; font-size: 12.5px; color: #334155; }
pre { margin: 6px 0 0; padding: 10px 12px; background: #0f172a; color: #e2e8f0; border-radius: 6px; overflow: auto; max-height: 420px; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-all; }
pre.stack { background: #1e293b; }
.muted { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 20px; text-align: center; }
`;

/** Opens the step a link (from the graph, the timeline or the table) points at. */
export const REPORT_SCRIPT = `
function openTarget() {
  var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
  if (target && target.tagName === "DETAILS") target.open = true;
}
window.addEventListener("hashchange", openTarget);
openTarget();
`;

function sha256(text: string): string {
  return `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
}

/**
 * Nothing may load from anywhere, and only the report's own style and script may run, so even
 * markup that slipped past escaping could neither run nor reach the network.
 */
export const REPORT_CSP = `default-src 'none'; style-src ${sha256(REPORT_CSS)}; script-src ${sha256(REPORT_SCRIPT)}; img-src data:; base-uri 'none'; form-action 'none'`;
