/**
 * The layers' import rules, checked on the sources: imports point one way (dsl → graph → engine →
 * runtime and store; session on top, then report, testing and cli; container is what runs inside a step;
 * naming, SageMaker's names and ARNs, is a leaf any layer may use), and no module imports itself back
 * through others. biome.jsonc enforces finer rules per folder; this test also sees cycles.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "..", "..", "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Relative imports of each module, as paths relative to src/ ("engine/execution-run.ts"). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.{1,2}\/[^"]+)";/gms)]
      .filter((m) => !/^(?:import|export)\s+type\s/.test(m[0]))
      .map((m) => relative(SRC, resolve(dirname(file), m[1]!)).replace(/\.js$/, ".ts"));
    graph.set(relative(SRC, file), targets);
  }
  return graph;
}

const layer = (path: string): string => (path.includes("/") ? path.split("/")[0]! : path);

/** What each layer may import (besides itself and errors.ts). */
const ALLOWED: Record<string, readonly string[]> = {
  naming: [],
  dsl: ["container", "naming"],
  graph: ["dsl", "naming"],
  definition: ["dsl", "graph", "serialization", "naming"],
  container: ["dsl", "serialization"],
  serialization: [],
  store: ["naming"],
  logging: [],
  runtime: ["container", "dsl", "naming", "serialization"],
  engine: ["dsl", "graph", "definition", "runtime", "store", "serialization", "container", "logging", "naming"],
  cloud: ["dsl", "graph", "definition", "runtime", "store", "serialization", "logging", "naming"],
  session: ["dsl", "graph", "definition", "engine", "runtime", "store", "serialization", "logging", "naming", "cloud"],
  report: ["dsl", "graph", "store", "session", "naming"],
  testing: ["dsl", "graph", "definition", "engine", "runtime", "store", "serialization", "logging", "session", "container", "naming"],
  cli: ["dsl", "graph", "definition", "engine", "runtime", "store", "serialization", "logging", "session", "report", "serve", "naming", "cloud"],
  serve: ["dsl", "graph", "definition", "engine", "runtime", "store", "serialization", "logging", "session", "naming"],
  // The two modules at the top of src/: the package's entry, which re-exports the public API, and the
  // errors every layer may throw, which import nothing.
  "index.ts": ["dsl", "session", "runtime", "store", "cloud"],
  "errors.ts": [],
};

describe("the layers", () => {
  const graph = importGraph();

  it("are all known: a new folder or top-level module under src/ needs its rule here", () => {
    const unknown = [...new Set([...graph.keys()].map(layer))].filter((l) => !Object.hasOwn(ALLOWED, l));
    expect(unknown).toEqual([]);
  });

  it("import only the layers below them", () => {
    // The parse must see the engine's real imports, or the rules below check nothing.
    expect(graph.get("engine/execution-run.ts")).toContain("engine/training-step-executor.ts");
    expect([...graph.values()].flat().length).toBeGreaterThan(60);
    const wrong: string[] = [];
    for (const [from, targets] of graph) {
      const own = layer(from);
      const allowed = ALLOWED[own] ?? [];
      for (const to of targets) {
        const theirs = layer(to);
        if (theirs !== own && to !== "errors.ts" && !allowed.includes(theirs)) wrong.push(`${from} -> ${to}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("have no import cycles", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const path: string[] = [];
    const visit = (node: string): void => {
      if (state.get(node) === "done") return;
      if (state.get(node) === "open") {
        cycles.push([...path.slice(path.indexOf(node)), node].join(" -> "));
        return;
      }
      state.set(node, "open");
      path.push(node);
      for (const next of graph.get(node) ?? []) visit(next);
      path.pop();
      state.set(node, "done");
    };
    for (const node of graph.keys()) visit(node);
    expect(cycles).toEqual([]);
  });
});
