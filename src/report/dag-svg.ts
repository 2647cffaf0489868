import { CONDITION_TIP, type DagLayout, type PlacedNode, type Point } from "./dag-layout.js";
import { escapeMarkup } from "./escape.js";
import { statusColours } from "./status-colours.js";

export interface DagSvgOptions {
  /** Each step's status; a step without one is drawn neutral. */
  readonly statuses?: ReadonlyMap<string, string> | undefined;
  /** The second line of each step's box; the status (else the step type) when absent. */
  readonly captions?: ReadonlyMap<string, string>;
  /** Where clicking a step goes (an `#anchor` in the report). */
  readonly links?: ReadonlyMap<string, string>;
}

const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
const EDGE = "#64748b";

/** Names a reader knows; "Training" is what the definition calls a function step. */
export function typeLabel(type: string): string {
  return type === "Training" ? "function step" : type === "Condition" ? "condition" : type === "Fail" ? "fail step" : type;
}

/**
 * A standalone SVG of a laid-out DAG: presentation attributes only (no stylesheet), so it looks
 * the same as a file and inside the report's page, whose CSS cannot reach into it.
 */
export function dagSvg(layout: DagLayout, options: DagSvgOptions = {}): string {
  const w = Math.ceil(layout.width);
  const h = Math.ceil(layout.height);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="dag" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" font-family="${escapeMarkup(FONT)}" role="img" aria-label="pipeline graph with ${layout.nodes.length} steps">`,
    `<defs><marker id="stepbox-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${EDGE}"/></marker></defs>`,
  ];
  for (const edge of layout.edges) {
    const dash = edge.kind === "order" ? ` stroke-dasharray="5 4"` : "";
    parts.push(
      `<path class="edge" data-from="${escapeMarkup(edge.from)}" data-to="${escapeMarkup(edge.to)}" data-kind="${edge.kind}" d="${edgePath(edge.points)}" fill="none" stroke="${EDGE}" stroke-width="1.5"${dash} marker-end="url(#stepbox-arrow)"/>`,
    );
    if (edge.kind === "if" || edge.kind === "else") {
      // At the arrow's end: branches leave one point, but arrive at different steps.
      const end = edge.points.at(-1)!;
      parts.push(`<text x="${end.x - 12}" y="${end.y - 8}" font-size="11" fill="${EDGE}" text-anchor="end">${edge.kind}</text>`);
    }
  }
  for (const node of layout.nodes) parts.push(nodeSvg(node, options));
  parts.push("</svg>");
  return parts.join("\n");
}

function nodeSvg(node: PlacedNode, options: DagSvgOptions): string {
  const status = options.statuses?.get(node.name);
  const colours = statusColours(status);
  const caption = options.captions?.get(node.name) ?? status ?? typeLabel(node.type);
  const cx = node.x + node.width / 2;
  const statusAttribute = status === undefined ? "" : ` data-status="${escapeMarkup(status)}"`;
  const box = `<g class="step" data-step="${escapeMarkup(node.name)}"${statusAttribute} data-layer="${node.layer}">
<title>${escapeMarkup(`${node.name} (${typeLabel(node.type)})${status === undefined ? "" : `: ${status}`}`)}</title>
${shape(node, colours.fill, colours.stroke)}
<text x="${cx}" y="${node.y + 22}" text-anchor="middle" font-size="13" font-weight="600" fill="${colours.text}">${escapeMarkup(node.label)}</text>
<text x="${cx}" y="${node.y + 40}" text-anchor="middle" font-size="11" fill="${colours.text}" opacity="0.85">${escapeMarkup(caption)}</text>
</g>`;
  const link = options.links?.get(node.name);
  return link === undefined ? box : `<a href="${escapeMarkup(link)}">${box}</a>`;
}

/** A function step is a rounded box; a condition has pointed sides, as a decision does. */
function shape(node: PlacedNode, fill: string, stroke: string): string {
  const { x, y, width: w, height: h } = node;
  const paint = `fill="${fill}" stroke="${stroke}" stroke-width="1.8"`;
  if (node.type === "Condition") {
    const tip = CONDITION_TIP;
    const corners = [
      [x + tip, y],
      [x + w - tip, y],
      [x + w, y + h / 2],
      [x + w - tip, y + h],
      [x + tip, y + h],
      [x, y + h / 2],
    ];
    return `<polygon points="${corners.map(([px, py]) => `${px},${py}`).join(" ")}" ${paint}/>`;
  }
  const double =
    node.type === "Fail" ? `<rect x="${x + 3}" y="${y + 3}" width="${w - 6}" height="${h - 6}" rx="6" fill="none" stroke="${stroke}" stroke-width="1"/>` : "";
  return `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="9" ${paint}/>${double}`;
}

/** Straight across the columns an edge passes, curved between them. */
function edgePath(points: readonly Point[]): string {
  const [first, ...rest] = points;
  let d = `M${first!.x},${first!.y}`;
  let previous = first!;
  rest.forEach((p, i) => {
    // Even-numbered hops leave a box or a column; odd ones cross a column it skips, as a straight line.
    if (i % 2 === 1) {
      d += ` L${p.x},${p.y}`;
    } else {
      const bend = (p.x - previous.x) / 2;
      d += ` C${previous.x + bend},${previous.y} ${p.x - bend},${p.y} ${p.x},${p.y}`;
    }
    previous = p;
  });
  return d;
}
