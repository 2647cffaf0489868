import { describe, expect, it } from "vitest";
import { ConditionEquals, ConditionStep, getStep, step, type DelayedReturn } from "stepbox";
import { StepSchedule, type StepEnd } from "../../src/engine/schedule.js";
import { compilePipeline, type PipelineGraph } from "../../src/graph/compile.js";

const source = step(function source() {
  return 1;
});
const next = step(function next(x: number) {
  return x + 1;
});
const both = step(function both(a: number, b: number) {
  return a + b;
});

/** Runs the graph to the end, one ready step at a time; `endOf` says how each step ends. Returns the steps run, in order. */
function runToEnd(graph: PipelineGraph, endOf: (name: string, schedule: StepSchedule) => StepEnd = () => "Succeeded"): string[] {
  const schedule = new StepSchedule(graph);
  const ready = schedule.start();
  const ran: string[] = [];
  while (ready.length > 0) {
    const name = ready.shift()!;
    ran.push(name);
    ready.push(...schedule.settle(name, endOf(name, schedule)));
  }
  return ran;
}

/** The names a compiled pipeline gives step calls. */
const namesIn = (graph: PipelineGraph, ...outputs: DelayedReturn[]): string[] => outputs.map((o) => graph.nameOf(o)!);

describe("StepSchedule", () => {
  it("starts the steps that wait for nothing, and a step once all its upstream steps succeeded", () => {
    const a = source();
    const b = source();
    const c = both(a, b);
    const d = next(c);
    const graph = compilePipeline("p", [d]);
    const [na, nb, nc, nd] = namesIn(graph, a, b, c, d);
    const schedule = new StepSchedule(graph);
    expect(new Set(schedule.start())).toEqual(new Set([na, nb]));
    expect(schedule.settle(na!, "Succeeded")).toEqual([]);
    expect(schedule.settle(nb!, "Succeeded")).toEqual([nc]);
    expect(schedule.settle(nc!, "Succeeded")).toEqual([nd]);
    expect(schedule.settle(nd!, "Succeeded")).toEqual([]);
  });

  it("releases nothing after a step that failed or stopped", () => {
    const a = source();
    const b = next(a);
    const graph = compilePipeline("p", [b]);
    for (const end of ["Failed", "Stopped"] as const) {
      const schedule = new StepSchedule(graph);
      expect(schedule.settle(schedule.start()[0]!, end)).toEqual([]);
    }
  });

  it("skips a blocked branch and everything downstream of it, and runs what waits only for the branch taken", () => {
    const a = source();
    const ifStep = next(a);
    const elseStep = next(a);
    const afterElse = next(elseStep);
    const condition = new ConditionStep({ name: "check", conditions: [new ConditionEquals({ left: a, right: 1 })], ifSteps: [ifStep], elseSteps: [elseStep] });
    const graph = compilePipeline("p", [condition, next(ifStep), afterElse]);
    const ran = runToEnd(graph, (name, schedule) => {
      if (name === "check") schedule.block(namesIn(graph, elseStep));
      return "Succeeded";
    });
    const [ifName, elseName, afterElseName] = namesIn(graph, ifStep, elseStep, afterElse);
    expect(ran).toContain(ifName);
    expect(ran).not.toContain(elseName);
    expect(ran).not.toContain(afterElseName);
    expect(ran).toHaveLength(graph.steps.length - 2);
  });

  it("skips a chain of 100,000 blocked steps without overflowing the stack", () => {
    const first = source();
    const blocked = next(first);
    let last = blocked;
    for (let i = 0; i < 100_000; i++) last = next(last);
    const graph = compilePipeline("p", [last]);
    const schedule = new StepSchedule(graph);
    schedule.block(namesIn(graph, blocked));
    expect(schedule.settle(graph.nameOf(first)!, "Succeeded")).toEqual([]);
  });
});

describe("compilePipeline at scale", () => {
  it("orders a chain of 100,000 steps without overflowing the stack", () => {
    const first = source();
    let last = next(first);
    for (let i = 0; i < 100_000; i++) last = next(last);
    const graph = compilePipeline("p", [last]);
    expect(graph.steps).toHaveLength(100_002);
    expect(graph.steps[0]!.name).toBe(graph.nameOf(first));
    expect(graph.steps.at(-1)!.name).toBe(graph.nameOf(last));
  });

  it("lists an upstream step once however often a step uses it, in first-use order", () => {
    const a = source();
    const b = source();
    const c = both({ x: [b, a, b] } as never, a);
    // By name too: the pipeline names the second call of `source` "source-2".
    getStep(c).addDependsOn([a, "source-2"]);
    const graph = compilePipeline("p", [c]);
    const [na, nb, nc] = namesIn(graph, a, b, c);
    expect(nb).toBe("source-2");
    expect(graph.upstream.get(nc!)).toEqual([nb, na]);
    expect(graph.downstream.get(na!)).toEqual([nc]);
    const ran = runToEnd(graph);
    expect(new Set(ran)).toEqual(new Set([na, nb, nc]));
    expect(ran.at(-1)).toBe(nc);
  });
});
