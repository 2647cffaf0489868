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

const names = (...outputs: DelayedReturn[]): string[] => outputs.map((o) => getStep(o).name);

describe("StepSchedule", () => {
  it("starts the steps that wait for nothing, and a step once all its upstream steps succeeded", () => {
    const a = source();
    const b = source();
    const c = both(a, b);
    const d = next(c);
    const schedule = new StepSchedule(compilePipeline("p", [d]));
    expect(new Set(schedule.start())).toEqual(new Set(names(a, b)));
    expect(schedule.settle(getStep(a).name, "Succeeded")).toEqual([]);
    expect(schedule.settle(getStep(b).name, "Succeeded")).toEqual(names(c));
    expect(schedule.settle(getStep(c).name, "Succeeded")).toEqual(names(d));
    expect(schedule.settle(getStep(d).name, "Succeeded")).toEqual([]);
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
      if (name === "check") schedule.block(names(elseStep));
      return "Succeeded";
    });
    expect(ran).toContain(getStep(ifStep).name);
    expect(ran).not.toContain(getStep(elseStep).name);
    expect(ran).not.toContain(getStep(afterElse).name);
    expect(ran).toHaveLength(graph.steps.length - 2);
  });

  it("skips a chain of 100,000 blocked steps without overflowing the stack", () => {
    const first = source();
    const blocked = next(first);
    let last = blocked;
    for (let i = 0; i < 100_000; i++) last = next(last);
    const schedule = new StepSchedule(compilePipeline("p", [last]));
    schedule.block([getStep(blocked).name]);
    expect(schedule.settle(getStep(first).name, "Succeeded")).toEqual([]);
  });
});

describe("compilePipeline at scale", () => {
  it("orders a chain of 100,000 steps without overflowing the stack", () => {
    const first = source();
    let last = next(first);
    for (let i = 0; i < 100_000; i++) last = next(last);
    const graph = compilePipeline("p", [last]);
    expect(graph.steps).toHaveLength(100_002);
    expect(graph.steps[0]).toBe(getStep(first));
    expect(graph.steps.at(-1)).toBe(getStep(last));
  });

  it("lists an upstream step once however often a step uses it, in first-use order", () => {
    const a = source();
    const b = source();
    const c = both({ x: [b, a, b] } as never, a);
    getStep(c).addDependsOn([a, getStep(b).name]);
    const graph = compilePipeline("p", [c]);
    expect(graph.upstream.get(getStep(c).name)).toEqual(names(b, a));
    expect(graph.downstream.get(getStep(a).name)).toEqual(names(c));
    const ran = runToEnd(graph);
    expect(new Set(ran)).toEqual(new Set(names(a, b, c)));
    expect(ran.at(-1)).toBe(getStep(c).name);
  });
});
