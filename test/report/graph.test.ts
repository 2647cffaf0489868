import { describe, expect, it } from "vitest";
import { ConditionGreaterThanOrEqualTo, ConditionStep, FailStep, Pipeline, ValidationError, getStep } from "stepbox";
import { renderGraph } from "stepbox/report";
import { dagFromDefinition } from "../../src/report/dag.js";
import { layoutDag, type DagLayout } from "../../src/report/dag-layout.js";
import { augment, clean, load, notify, register, train } from "../fixtures/report/steps.js";

/**
 * load → clean, augment (in parallel) → train → a condition that registers the model or fails,
 * and a notify step that runs after train only because it was told to (dependsOn).
 */
function modelPipeline(): Pipeline {
  const rows = load();
  const model = train(clean(rows, 10), augment(rows, 10));
  const done = notify();
  getStep(done).addDependsOn([model]);
  const gate = new ConditionStep({
    name: "accurate-enough",
    conditions: [new ConditionGreaterThanOrEqualTo({ left: model.get("accuracy"), right: 0.5 })],
    ifSteps: [register(model)],
    elseSteps: [new FailStep({ name: "too-inaccurate", errorMessage: "accuracy is below 0.5" })],
  });
  return new Pipeline({ name: "report-graph", steps: [gate, done] });
}

const MODEL = modelPipeline().definition();

const EXPECTED_EDGES = [
  "load -> clean data",
  "load -> augment data",
  "clean -> train data",
  "augment -> train data",
  "train -> notify order",
  "train -> accurate-enough data",
  "accurate-enough -> register if",
  "train -> register data",
  "accurate-enough -> too-inaccurate else",
].sort();

/** A definition written by hand, as a tampered or foreign store could hold: the functions must cope. */
function handWritten(steps: Array<{ Name: string; Type?: string; DependsOn?: string[] }>): string {
  return JSON.stringify({ Version: "2020-12-01", Steps: steps.map((s) => ({ Type: "Training", DependsOn: [], ...s })) });
}

/** Pairs of edges between neighbouring columns that cross, measured on the drawing. */
function drawnCrossings(layout: DagLayout): number {
  const segments = layout.edges.flatMap((e) => e.points.slice(1).map((p, i) => [e.points[i]!, p] as const)).filter(([a, b]) => a.x !== b.x);
  let count = 0;
  for (const [i, [a1, b1]] of segments.entries()) {
    for (const [a2, b2] of segments.slice(i + 1)) {
      const sameGap = a1.x === a2.x && b1.x === b2.x;
      if (sameGap && (a1.y - a2.y) * (b1.y - b2.y) < 0) count++;
    }
  }
  return count;
}

describe("the DAG read from a definition", () => {
  it("has every step and an edge for data flow, dependsOn and each condition branch", () => {
    const dag = dagFromDefinition(MODEL);
    expect(dag.nodes.map((n) => n.name).sort()).toEqual(["accurate-enough", "augment", "clean", "load", "notify", "register", "too-inaccurate", "train"]);
    expect(dag.nodes.find((n) => n.name === "accurate-enough")?.type).toBe("Condition");
    expect(dag.nodes.find((n) => n.name === "too-inaccurate")?.type).toBe("Fail");
    expect(dag.edges.map((e) => `${e.from} -> ${e.to} ${e.kind}`).sort()).toEqual(EXPECTED_EDGES);
  });

  it("reads the branches of a definition stepbox wrote before they held their steps, by name", () => {
    const older = JSON.stringify({
      Version: "2020-12-01",
      Steps: [
        { Name: "train", Type: "Training", DependsOn: [] },
        { Name: "gate", Type: "Condition", DependsOn: ["train"], Arguments: { IfSteps: ["register"], ElseSteps: [] } },
        { Name: "register", Type: "Training", DependsOn: ["gate"] },
      ],
    });
    expect(
      dagFromDefinition(older)
        .edges.map((e) => `${e.from} -> ${e.to} ${e.kind}`)
        .sort(),
    ).toEqual(["gate -> register if", "train -> gate order"]);
  });

  it("refuses what is not a definition, saying what to pass", () => {
    expect(() => renderGraph("{not json", "svg")).toThrow(ValidationError);
    expect(() => renderGraph("{}", "dot")).toThrow(/no "Steps" list[\s\S]*pipeline\.definition\(\)/);
    expect(() => renderGraph(handWritten([{ Name: "a", DependsOn: ["ghost"] }]), "mermaid")).toThrow(/"a" depends on "ghost"/);
    expect(() =>
      renderGraph(
        handWritten([
          { Name: "a", DependsOn: ["b"] },
          { Name: "b", DependsOn: ["a"] },
        ]),
        "svg",
      ),
    ).toThrow(/cycle among a, b/);
    expect(() => renderGraph(handWritten([{ Name: "a" }]), "png" as never)).toThrow(/unknown format "png"[\s\S]*mermaid, dot, svg/);
  });
});

describe("Mermaid", () => {
  it("draws nodes by type, solid data edges, dashed dependsOn and labelled branches", () => {
    const text = renderGraph(MODEL, "mermaid");
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("flowchart LR");
    const ids = new Map(lines.flatMap((l) => [...l.matchAll(/^ {2}(s\d+)[({[]+"([^"]+)"/g)].map((m) => [m[2]!, m[1]!] as const)));
    expect(ids.size).toBe(8);
    expect(lines).toContain(`  ${ids.get("accurate-enough")}{{"accurate-enough"}}`);
    expect(lines).toContain(`  ${ids.get("too-inaccurate")}[["too-inaccurate"]]`);
    expect(lines).toContain(`  ${ids.get("load")}("load")`);
    expect(lines).toContain(`  ${ids.get("load")} --> ${ids.get("clean")}`);
    expect(lines).toContain(`  ${ids.get("train")} -.-> ${ids.get("notify")}`);
    expect(lines).toContain(`  ${ids.get("accurate-enough")} -->|if| ${ids.get("register")}`);
    expect(lines).toContain(`  ${ids.get("accurate-enough")} -->|else| ${ids.get("too-inaccurate")}`);
    expect(lines.filter((l) => l.includes("-->") || l.includes("-.->"))).toHaveLength(9);
    expect(text).not.toContain("classDef");
  });

  it("colours steps by status, with a neutral class for a status it does not know", () => {
    const statuses = new Map([
      ["load", "Succeeded"],
      ["train", "Failed"],
      ["clean", "<b>odd</b>"],
    ]);
    const text = renderGraph(MODEL, "mermaid", statuses);
    expect(text).toMatch(/^ {2}class s\d+ Succeeded$/m);
    expect(text).toMatch(/^ {2}class s\d+ Failed$/m);
    expect(text).toMatch(/^ {2}class s\d+ other$/m);
    expect(text).toContain("classDef Failed fill:#fee2e2,stroke:#dc2626");
    expect(text).not.toContain("<b>");
  });

  it("writes a hostile name as entities, so it stays one label", () => {
    const text = renderGraph(handWritten([{ Name: 'x"]; click s0 "javascript:alert(1)" <end>' }]), "mermaid");
    const node = text.split("\n")[1]!;
    expect(node).toBe('  s0("x#34;#93;#59; click s0 #34;javascript:alert(1)#34; #60;end#62;")');
  });
});

describe("DOT", () => {
  it("draws the same edges, dashed for dependsOn and labelled for branches", () => {
    const text = renderGraph(MODEL, "dot");
    expect(text).toMatch(/^digraph pipeline \{\n {2}rankdir=LR;/);
    expect(text).toContain('  "load" -> "clean";');
    expect(text).toContain('  "train" -> "notify" [style=dashed];');
    expect(text).toContain('  "accurate-enough" -> "register" [label="if"];');
    expect(text).toContain('  "accurate-enough" -> "too-inaccurate" [label="else"];');
    expect(text.match(/ -> /g)).toHaveLength(9);
    expect(text).toMatch(/"accurate-enough" \[label="accurate-enough", shape=hexagon/);
    expect(text.trimEnd().endsWith("}")).toBe(true);
  });

  it("colours by status and quotes hostile names", () => {
    const text = renderGraph(handWritten([{ Name: 'a"b\\n' }, { Name: "c", DependsOn: ['a"b\\n'] }]), "dot", new Map([["c", "Failed"]]));
    expect(text).toContain('  "a\\"b\\\\n" -> "c" [style=dashed];'); // no Get of its output: an order edge
    expect(text).toContain('"c" [label="c", fillcolor="#fee2e2", color="#dc2626"');
  });
});

describe("SVG", () => {
  const svgNodes = (svg: string) =>
    [...svg.matchAll(/<g class="step" data-step="([^"]+)"(?: data-status="([^"]+)")? data-layer="(\d+)">/g)].map((m) => ({
      name: m[1]!,
      status: m[2],
      layer: Number(m[3]),
    }));

  it("puts each step in the column of its longest upstream chain", () => {
    const svg = renderGraph(MODEL, "svg");
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    const layers = Object.fromEntries(svgNodes(svg).map((n) => [n.name, n.layer]));
    expect(layers).toEqual({ load: 0, clean: 1, augment: 1, train: 2, notify: 3, "accurate-enough": 3, register: 4, "too-inaccurate": 4 });
    expect(svg.match(/<path class="edge"/g)).toHaveLength(9);
    expect(svg).toMatch(
      /data-from="train" data-to="notify" data-kind="order" d="[^"]+" fill="none" stroke="#64748b" stroke-width="1.5" stroke-dasharray="5 4"/,
    );
    expect(svg).toContain(">if</text>");
    expect(svg).toContain(">else</text>");
    expect(svg).toContain("<polygon"); // the condition
  });

  it("colours steps by status and says which", () => {
    const svg = renderGraph(
      MODEL,
      "svg",
      new Map([
        ["train", "Failed"],
        ["load", "Succeeded"],
      ]),
    );
    const statuses = Object.fromEntries(svgNodes(svg).map((n) => [n.name, n.status]));
    expect(statuses).toMatchObject({ train: "Failed", load: "Succeeded", clean: undefined });
    expect(svg).toMatch(/data-step="train" data-status="Failed"[\s\S]*?fill="#fee2e2" stroke="#dc2626"/);
  });

  it("escapes names and statuses", () => {
    const hostile = '<script>alert("x")</script>&';
    const svg = renderGraph(handWritten([{ Name: hostile }]), "svg", new Map([[hostile, '"><img src=x>']]));
    expect(svg).not.toContain("<script");
    expect(svg).not.toContain("<img");
    expect(svg).toContain("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;");
  });

  it("lays out without overlaps, every edge pointing right, long edges routed through the columns they skip", () => {
    const layout = layoutDag(dagFromDefinition(MODEL));
    for (const [i, a] of layout.nodes.entries()) {
      for (const b of layout.nodes.slice(i + 1)) {
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect(apart, `${a.name} and ${b.name} overlap`).toBe(true);
      }
    }
    for (const e of layout.edges) expect(e.points[0]!.x).toBeLessThan(e.points.at(-1)!.x);
    const long = layout.edges.find((e) => e.from === "train" && e.to === "register")!;
    expect(long.points).toHaveLength(4); // out of train, across column 3, into register
    const column3 = layout.nodes.filter((n) => n.layer === 3);
    const lane = long.points[1]!.y;
    for (const n of column3) expect(lane < n.y || lane > n.y + n.height, `the long edge runs through ${n.name}`).toBe(true);
    expect(drawnCrossings(layout)).toBe(0);
  });

  it("reorders rows to remove crossings the definition's order would draw", () => {
    // In this order a1 → b2 and a2 → b1 would cross; swapping one column undoes it.
    const definition = handWritten([{ Name: "a1" }, { Name: "a2" }, { Name: "b1", DependsOn: ["a2"] }, { Name: "b2", DependsOn: ["a1"] }]);
    const layout = layoutDag(dagFromDefinition(definition));
    expect(drawnCrossings(layout)).toBe(0);
  });

  it("shortens a long name in its box but keeps it whole in the tooltip", () => {
    const name = `step-${"x".repeat(58)}`;
    const svg = renderGraph(handWritten([{ Name: name }]), "svg");
    expect(svg).toContain(`<title>${name} (function step)</title>`);
    expect(svg).toMatch(/font-weight="600" fill="#0f172a">step-x+…<\/text>/);
  });
});
