import { ValidationError } from "../errors.js";
import type { Dag, DagEdge, DagNode } from "./dag.js";

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface PlacedNode extends DagNode {
  /** The column, left to right: the longest chain of steps before this one. */
  readonly layer: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** The name, shortened with an ellipsis when it is longer than a box holds. */
  readonly label: string;
}

export interface PlacedEdge extends DagEdge {
  /** From the right side of `from` to the left side of `to`, through the columns in between. */
  readonly points: readonly Point[];
}

/** Where each step and edge of a DAG goes, left to right, in SVG user units. */
export interface DagLayout {
  readonly nodes: readonly PlacedNode[];
  readonly edges: readonly PlacedEdge[];
  readonly width: number;
  readonly height: number;
}

const NODE_HEIGHT = 52;
/** How far a condition's pointed sides reach in from its box. */
export const CONDITION_TIP = 14;
const CHAR_WIDTH = 7.4; // the average advance of 13px sans-serif: boxes fit their names without measuring
const MIN_WIDTH = 130;
const MAX_WIDTH = 250;
const PADDING_X = 32;
const GAP_X = 72;
const GAP_Y = 22;
const LANE_HEIGHT = 10; // the room an edge that passes through a column takes
const MARGIN = 16;
const SWEEPS = 8;

/** One slot in a column: a step, or a point where a long edge crosses a column it skips. */
interface Slot {
  readonly id: number;
  readonly node?: DagNode;
  readonly height: number;
  readonly width: number;
  readonly ups: number[];
  readonly downs: number[];
}

/**
 * A layered drawing: columns by longest path, so every edge points right; long edges get a slot in
 * each column they pass, so they route around boxes and take part in ordering; rows ordered by
 * barycenter sweeps, keeping the order with the fewest crossings.
 */
export function layoutDag(dag: Dag): DagLayout {
  const layerOf = longestPathLayers(dag);
  const slots: Slot[] = [];
  const columns: number[][] = [];
  const place = (slot: Slot, layer: number): void => {
    slots.push(slot);
    (columns[layer] ??= []).push(slot.id);
  };
  const slotOf = new Map<string, number>();
  for (const node of dag.nodes) {
    const label = shorten(node.name);
    // A condition's pointed sides take room from its label.
    const sides = node.type === "Condition" ? CONDITION_TIP * 2 : 0;
    const width = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, Math.ceil(label.length * CHAR_WIDTH) + PADDING_X)) + sides;
    slotOf.set(node.name, slots.length);
    place({ id: slots.length, node, width, height: NODE_HEIGHT, ups: [], downs: [] }, layerOf.get(node.name)!);
  }
  const routes = dag.edges.map((edge) => {
    const route = [slotOf.get(edge.from)!];
    for (let layer = layerOf.get(edge.from)! + 1; layer < layerOf.get(edge.to)!; layer++) {
      route.push(slots.length);
      place({ id: slots.length, width: 0, height: LANE_HEIGHT, ups: [], downs: [] }, layer);
    }
    route.push(slotOf.get(edge.to)!);
    for (let i = 1; i < route.length; i++) {
      slots[route[i - 1]!]!.downs.push(route[i]!);
      slots[route[i]!]!.ups.push(route[i - 1]!);
    }
    return route;
  });

  const order = orderColumns(columns, slots);
  return coordinates(dag, order, slots, layerOf, slotOf, routes);
}

/** Each step's column: one more than the furthest of its upstream steps. Throws on a cycle. */
function longestPathLayers(dag: Dag): Map<string, number> {
  const waiting = new Map(dag.nodes.map((n) => [n.name, 0]));
  const downstream = new Map<string, string[]>(dag.nodes.map((n) => [n.name, []]));
  for (const e of dag.edges) {
    waiting.set(e.to, waiting.get(e.to)! + 1);
    downstream.get(e.from)!.push(e.to);
  }
  const layer = new Map<string, number>();
  const ready = dag.nodes.filter((n) => waiting.get(n.name) === 0).map((n) => n.name);
  for (let name = ready.shift(); name !== undefined; name = ready.shift()) {
    layer.set(name, layer.get(name) ?? 0);
    for (const next of downstream.get(name)!) {
      layer.set(next, Math.max(layer.get(next) ?? 0, layer.get(name)! + 1));
      waiting.set(next, waiting.get(next)! - 1);
      if (waiting.get(next) === 0) ready.push(next);
    }
  }
  if (layer.size < dag.nodes.length) {
    const stuck = dag.nodes.filter((n) => !layer.has(n.name) || waiting.get(n.name)! > 0).map((n) => n.name);
    throw new ValidationError(`the pipeline definition cannot be drawn: its steps form a cycle among ${stuck.join(", ")}`, {
      hint: "pass a definition that pipeline.definition() produced; it refuses cycles",
    });
  }
  return layer;
}

/** Barycenter sweeps down and up the columns; returns the order with the fewest crossings seen. */
function orderColumns(columns: number[][], slots: readonly Slot[]): number[][] {
  let current = columns.map((c) => [...c]);
  let best = current;
  let fewest = crossings(current, slots);
  for (let sweep = 0; sweep < SWEEPS && fewest > 0; sweep++) {
    const down = sweep % 2 === 0;
    const next = current.map((c) => [...c]);
    const indices = next.map((_, i) => i);
    for (const l of down ? indices.slice(1) : indices.slice(0, -1).reverse()) {
      const neighbour = new Map(next[down ? l - 1 : l + 1]!.map((id, i) => [id, i]));
      const column = next[l]!;
      const key = new Map(
        column.map((id, i) => {
          const linked = (down ? slots[id]!.ups : slots[id]!.downs).map((n) => neighbour.get(n)!);
          // A slot with nothing on that side keeps its place.
          return [id, linked.length > 0 ? linked.reduce((a, b) => a + b, 0) / linked.length : i];
        }),
      );
      column.sort((a, b) => key.get(a)! - key.get(b)!);
    }
    const count = crossings(next, slots);
    if (count < fewest) [best, fewest] = [next, count];
    current = next;
  }
  return best;
}

/** How many pairs of edge segments between neighbouring columns cross. */
function crossings(columns: readonly (readonly number[])[], slots: readonly Slot[]): number {
  let count = 0;
  for (let l = 0; l + 1 < columns.length; l++) {
    const here = new Map(columns[l]!.map((id, i) => [id, i]));
    const there = new Map(columns[l + 1]!.map((id, i) => [id, i]));
    const segments = columns[l]!.flatMap((id) => slots[id]!.downs.map((d) => [here.get(id)!, there.get(d)!] as const));
    for (let i = 0; i < segments.length; i++) {
      for (let j = i + 1; j < segments.length; j++) {
        const [a1, b1] = segments[i]!;
        const [a2, b2] = segments[j]!;
        if ((a1 - a2) * (b1 - b2) < 0) count++;
      }
    }
  }
  return count;
}

function coordinates(
  dag: Dag,
  order: readonly (readonly number[])[],
  slots: readonly Slot[],
  layerOf: ReadonlyMap<string, number>,
  slotOf: ReadonlyMap<string, number>,
  routes: readonly number[][],
): DagLayout {
  const columnWidth = order.map((c) => Math.max(0, ...c.map((id) => slots[id]!.width)));
  const columnHeight = order.map((c) => c.reduce((sum, id) => sum + slots[id]!.height, 0) + GAP_Y * Math.max(0, c.length - 1));
  const height = Math.max(NODE_HEIGHT, ...columnHeight);
  const columnX: number[] = [];
  let x = MARGIN;
  for (const w of columnWidth) {
    columnX.push(x);
    x += w + GAP_X;
  }
  // Each column is centred on the tallest, so a chain runs along one line.
  const centreY = new Map<number, number>();
  order.forEach((column, l) => {
    let y = MARGIN + (height - columnHeight[l]!) / 2;
    for (const id of column) {
      centreY.set(id, y + slots[id]!.height / 2);
      y += slots[id]!.height + GAP_Y;
    }
  });
  const nodes = dag.nodes.map((node): PlacedNode => {
    const slot = slots[slotOf.get(node.name)!]!;
    const layer = layerOf.get(node.name)!;
    return {
      ...node,
      layer,
      x: columnX[layer]! + (columnWidth[layer]! - slot.width) / 2,
      y: centreY.get(slot.id)! - slot.height / 2,
      width: slot.width,
      height: slot.height,
      label: shorten(node.name),
    };
  });
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const edges = dag.edges.map((edge, i): PlacedEdge => {
    const from = byName.get(edge.from)!;
    const to = byName.get(edge.to)!;
    const through = routes[i]!.slice(1, -1).flatMap((id, k) => {
      const l = from.layer + 1 + k;
      const y = centreY.get(id)!;
      return [
        { x: columnX[l]!, y },
        { x: columnX[l]! + columnWidth[l]!, y },
      ];
    });
    return { ...edge, points: [{ x: from.x + from.width, y: from.y + from.height / 2 }, ...through, { x: to.x, y: to.y + to.height / 2 }] };
  });
  return { nodes, edges, width: Math.max(x - GAP_X + MARGIN, MARGIN * 2), height: height + MARGIN * 2 };
}

const MAX_LABEL = Math.floor((MAX_WIDTH - PADDING_X) / CHAR_WIDTH);

function shorten(name: string): string {
  return name.length <= MAX_LABEL ? name : `${name.slice(0, MAX_LABEL - 1)}…`;
}
