import type { Dag } from "./dag.js";
import { KNOWN_STATUSES, NO_STATUS, statusColours } from "./status-colours.js";

/**
 * Mermaid `flowchart LR`. Nodes get ids `s0, s1, ...` because a step may be named like a Mermaid
 * keyword (`end`, `graph`); the name is the label, with every character that Mermaid could read as
 * syntax written as an entity (`#34;`).
 */
export function dagMermaid(dag: Dag, statuses?: ReadonlyMap<string, string>): string {
  const id = new Map(dag.nodes.map((n, i) => [n.name, `s${i}`]));
  const lines = ["flowchart LR"];
  for (const node of dag.nodes) {
    const label = `"${mermaidText(node.name)}"`;
    lines.push(`  ${id.get(node.name)}${node.type === "Condition" ? `{{${label}}}` : node.type === "Fail" ? `[[${label}]]` : `(${label})`}`);
  }
  for (const e of dag.edges) {
    const arrow = e.kind === "order" ? "-.->" : e.kind === "data" ? "-->" : `-->|${e.kind}|`;
    lines.push(`  ${id.get(e.from)} ${arrow} ${id.get(e.to)}`);
  }
  if (statuses) {
    const used = new Set<string>();
    for (const node of dag.nodes) {
      const status = statuses.get(node.name);
      if (status === undefined) continue;
      // Class names are Mermaid syntax: a status from the records that is not one of ours gets "other".
      const cls = KNOWN_STATUSES.includes(status) ? status : "other";
      used.add(cls);
      lines.push(`  class ${id.get(node.name)} ${cls}`);
    }
    for (const cls of used) {
      const c = statusColours(cls === "other" ? "" : cls);
      lines.push(`  classDef ${cls} fill:${c.fill},stroke:${c.stroke},color:${c.text}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function mermaidText(text: string): string {
  return text.replace(/[^A-Za-z0-9 _\-.,:/()]/g, (c) => `#${c.codePointAt(0)};`);
}

/** Graphviz DOT, left to right, coloured like the SVG. */
export function dagDot(dag: Dag, statuses?: ReadonlyMap<string, string>): string {
  const lines = [
    "digraph pipeline {",
    "  rankdir=LR;",
    `  node [shape=box, style="rounded,filled", fontname="Helvetica", fillcolor="${NO_STATUS.fill}", color="${NO_STATUS.stroke}"];`,
    `  edge [color="#64748b", fontname="Helvetica", fontsize=10];`,
  ];
  for (const node of dag.nodes) {
    const attributes = [`label=${dotString(node.name)}`];
    if (node.type === "Condition") attributes.push("shape=hexagon", 'style="filled"');
    if (node.type === "Fail") attributes.push("peripheries=2");
    const status = statuses?.get(node.name);
    if (status !== undefined) {
      const c = statusColours(status);
      attributes.push(`fillcolor="${c.fill}"`, `color="${c.stroke}"`, `fontcolor="${c.text}"`, `tooltip=${dotString(status)}`);
    }
    lines.push(`  ${dotString(node.name)} [${attributes.join(", ")}];`);
  }
  for (const e of dag.edges) {
    const attributes = e.kind === "order" ? " [style=dashed]" : e.kind === "data" ? "" : ` [label="${e.kind}"]`;
    lines.push(`  ${dotString(e.from)} -> ${dotString(e.to)}${attributes};`);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

/** A DOT quoted string. Backslashes are doubled too: Graphviz reads `\n`, `\N` and `\G` in labels. */
function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, "\\n")}"`;
}
