import { describe, expect, it } from "vitest";
import { CycleError, DuplicateStepNameError, Pipeline, LocalPipelineSession, getStep, step } from "stepbox";
import { compilePipeline } from "../../src/graph/compile.js";

const one = step(function one() {
  return 1;
});
const plus = step(function plus(a: number, b: number) {
  return a + b;
});

describe("compilePipeline", () => {
  it("finds upstream steps from the last outputs and orders them", () => {
    const a = one();
    const b = plus(a, 1);
    const c = plus(a, b);
    const graph = compilePipeline("p", [c]);
    expect(graph.steps.map((s) => s.name)).toEqual(["one", "plus", "plus-2"]);
    expect([a, b, c].map((r) => graph.nameOf(r))).toEqual(["one", "plus", "plus-2"]);
    expect(graph.upstream.get("plus-2")).toEqual(["one", "plus"]);
  });

  it("finds DelayedReturns nested in arrays and objects", () => {
    const a = one();
    const b = plus({ nested: [a.get("x")] } as never, 2);
    expect(compilePipeline("p", [b]).upstream.get(getStep(b).name)).toEqual([getStep(a).name]);
  });

  it("resolves dependencies given by name", () => {
    const a = one();
    const b = plus(1, 2);
    getStep(b).addDependsOn([getStep(a).name]);
    const graph = compilePipeline("p", [b, a]);
    expect(graph.upstream.get(getStep(b).name)).toEqual([getStep(a).name]);
  });

  it("reports a cycle by the names in it", () => {
    const a = one();
    const b = plus(a, 1);
    const c = plus(b, 1);
    getStep(a).addDependsOn([c]);
    const error = (() => {
      try {
        compilePipeline("p", [c]);
      } catch (e) {
        return e;
      }
    })() as CycleError;
    expect(error).toBeInstanceOf(CycleError);
    expect(new Set(error.cycle)).toEqual(new Set(["one", "plus", "plus-2"]));
  });

  it("refuses two steps with one name", () => {
    const x = step(function x() {}, { name: "same" });
    const y = step(function y() {}, { name: "same" });
    expect(() => compilePipeline("p", [x(), y()])).toThrow(DuplicateStepNameError);
  });

  it("needs addDependsOn to take a list", () => {
    expect(() => getStep(one()).addDependsOn(getStep(one()) as never)).toThrow(/takes a list/);
  });

  it("refuses to destructure or stringify a DelayedReturn", () => {
    const r = one();
    expect(() => {
      const [first] = r as unknown as number[];
      return first;
    }).toThrow(/use r\.get\(0\)/);
    expect(() => `${String(r)}`).toThrow(/only known when the pipeline runs/);
  });
});

describe("Pipeline.definition", () => {
  it("is the same bytes every time and says how steps connect", () => {
    const session = new LocalPipelineSession({ artifactRoot: "/tmp/stepbox-unused", secret: "s" });
    const a = one();
    const b = plus(a.get("value"), new Date(0) as never);
    const pipeline = new Pipeline({ name: "defined", steps: [b], session });
    const first = pipeline.definition();
    expect(pipeline.definition()).toBe(first);
    const doc = JSON.parse(first) as {
      Version: string;
      Steps: Array<{ Name: string; Type: string; DependsOn: string[]; Arguments: { AlgorithmSpecification: { ContainerArguments: unknown[] } } }>;
    };
    expect(doc.Version).toBe("2020-12-01");
    const last = doc.Steps.find((s) => s.Name === getStep(b).name)!;
    expect(last.Type).toBe("Training");
    expect(last.DependsOn).toEqual([getStep(a).name]);
    // The output is read through its producer's S3OutputPath; the Date travels in the arguments payload.
    const args = last.Arguments.AlgorithmSpecification.ContainerArguments;
    expect(args.slice(args.indexOf("--property_references") + 1).filter((x) => typeof x === "string")).toEqual([
      "Execution.PipelineExecutionId",
      `Steps.${getStep(a).name}.OutputDataConfig.S3OutputPath`,
    ]);
  });
});
