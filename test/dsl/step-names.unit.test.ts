/**
 * A step's name follows from its pipeline alone: the calls of one step function are named in the
 * order they were made, counting only the calls in that pipeline, whatever else the process built.
 */
import { describe, expect, it } from "vitest";
import {
  ConditionGreaterThan,
  ConditionStep,
  DuplicateStepNameError,
  FailStep,
  type FunctionStep,
  Join,
  LocalPipelineSession,
  Pipeline,
  ValidationError,
  getStep,
  step,
  type DelayedReturn,
} from "stepbox";
import { compilePipeline } from "../../src/graph/compile.js";

const train = step(function train(seed: number) {
  return { acc: seed / 10 };
});
const evaluate = step(function evaluate(...models: Array<{ acc: number }>) {
  return Math.max(...models.map((m) => m.acc));
});

const session = new LocalPipelineSession({ artifactRoot: "/tmp/stepbox-unused", secret: "s" });

interface DefinedStep {
  Name: string;
  DependsOn?: string[];
  Arguments: {
    AlgorithmSpecification?: { ContainerArguments: unknown[] };
    Conditions?: unknown[];
    IfSteps?: DefinedStep[];
    ElseSteps?: DefinedStep[];
    ErrorMessage?: unknown;
  };
}
interface Definition {
  /** Every step, the ones nested in a condition's branches included. */
  Steps: DefinedStep[];
}
const flatten = (steps: readonly DefinedStep[]): DefinedStep[] =>
  steps.flatMap((s) => [s, ...flatten(s.Arguments.IfSteps ?? []), ...flatten(s.Arguments.ElseSteps ?? [])]);
const parse = (pipeline: Pipeline): Definition => ({ Steps: flatten((JSON.parse(pipeline.definition()) as Definition).Steps) });
/** The upstream results a function step reads, as its --property_references name them. */
const readResults = (s: DefinedStep): unknown[] =>
  (s.Arguments.AlgorithmSpecification?.ContainerArguments ?? []).filter((x) => typeof x === "string" && x.startsWith("Steps."));
const outputOf = (step: string) => `Steps.${step}.OutputDataConfig.S3OutputPath`;
const jsonGet = (step: string, path: string) => ({
  "Std:JsonGet": { S3Uri: { "Std:Join": { On: "/", Values: [{ Get: outputOf(step) }, "results.json"] } }, Path: path },
});
const stepOf = (definition: Definition, name: string) => definition.Steps.find((s) => s.Name === name)!;

/** A factory, as a user writes one: each call builds the same pipeline from new step calls. */
function buildTwoModels(): { pipeline: Pipeline; first: DelayedReturn; second: DelayedReturn; best: DelayedReturn } {
  const first = train(1);
  const second = train(2);
  const best = evaluate(first, second);
  return { pipeline: new Pipeline({ name: "two-models", steps: [best], session }), first, second, best };
}

describe("step names", () => {
  it("are the same however often, and after whatever else, the pipeline is built", () => {
    const once = buildTwoModels();
    const definition = once.pipeline.definition();
    expect(
      parse(once.pipeline)
        .Steps.map((s) => s.Name)
        .sort(),
    ).toEqual(["evaluate", "train", "train-2"]);
    // Another pipeline from the same step functions, with more calls of them, built in between.
    const others = new Pipeline({ name: "other", steps: [evaluate(train(3), train(4), train(5))], session });
    expect(
      parse(others)
        .Steps.map((s) => s.Name)
        .sort(),
    ).toEqual(["evaluate", "train", "train-2", "train-3"]);
    const again = buildTwoModels();
    expect(again.pipeline.definition()).toBe(definition);
    expect([again.first, again.second, again.best].map((r) => again.pipeline.stepName(r))).toEqual(["train", "train-2", "evaluate"]);
    expect(once.pipeline.definition()).toBe(definition);
  });

  it("give a call shared by two pipelines each pipeline's name, and leave the call itself unchanged", () => {
    const earlier = train(0);
    const shared = train(1);
    const alone = new Pipeline({ name: "alone", steps: [evaluate(shared)], session });
    const both = new Pipeline({ name: "both", steps: [evaluate(earlier, shared)], session });
    expect(alone.stepName(shared)).toBe("train");
    expect(both.stepName(shared)).toBe("train-2");
    expect(readResults(stepOf(parse(alone), "evaluate"))).toEqual([outputOf("train")]);
    expect(readResults(stepOf(parse(both), "evaluate"))).toEqual([outputOf("train"), outputOf("train-2")]);
    expect(stepOf(parse(alone), "evaluate").DependsOn).toEqual(["train"]);
    expect(getStep(shared).name).toBe("train");
    expect(alone.stepName(shared)).toBe("train");
  });

  it("count from an explicit name, which wins over the function's", () => {
    const fit = step(function train() {}, { name: "fit" });
    const pipeline = new Pipeline({ name: "named", steps: [fit(), fit()], session });
    expect(
      parse(pipeline)
        .Steps.map((s) => s.Name)
        .sort(),
    ).toEqual(["fit", "fit-2"]);
  });

  it("refuse two steps that end up with one name, naming it", () => {
    const same1 = step(function a() {}, { name: "same" });
    const same2 = step(function b() {}, { name: "same" });
    expect(() => compilePipeline("p", [same1(), same2()])).toThrow(DuplicateStepNameError);
    const second = step(function c() {}, { name: "train-2" });
    const error = (() => {
      try {
        compilePipeline("p", [train(1), train(2), second()]);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DuplicateStepNameError);
    expect((error as DuplicateStepNameError).stepName).toBe("train-2");
  });

  it("are what dependencies by name, conditions and fail messages refer to", () => {
    const first = train(1);
    const second = train(2);
    const report = evaluate(first);
    getStep(report).addDependsOn(["train-2"]);
    const gate = new ConditionStep({
      name: "good-enough",
      conditions: [new ConditionGreaterThan({ left: second.get("acc"), right: 0.1 })],
      ifSteps: [report],
      elseSteps: [new FailStep({ name: "too-weak", errorMessage: new Join({ on: " ", values: ["acc", second.get("acc")] }) })],
    });
    const pipeline = new Pipeline({ name: "gated", steps: [gate], session });
    const definition = parse(pipeline);
    expect(stepOf(definition, "good-enough").Arguments.Conditions).toEqual([
      { Type: "GreaterThan", LeftValue: jsonGet("train-2", "Result['acc']"), RightValue: 0.1 },
    ]);
    expect(stepOf(definition, "good-enough").Arguments.IfSteps!.map((s) => s.Name)).toEqual(["evaluate"]);
    expect(stepOf(definition, "too-weak").Arguments.ErrorMessage).toEqual({ "Std:Join": { On: " ", Values: ["acc", jsonGet("train-2", "Result['acc']")] } });
    // The condition that gates it is said by its place in the condition's IfSteps, not in DependsOn.
    expect([...stepOf(definition, "evaluate").DependsOn!].sort()).toEqual(["train", "train-2"]);
  });

  it("are carried by the steps the engine runs, whose arguments point at the pipeline's own steps", () => {
    const first = train(1);
    const second = train(2);
    const graph = compilePipeline("p", [evaluate(second, first)]);
    const placed = graph.step("evaluate") as FunctionStep;
    const args = placed.args as DelayedReturn[];
    expect(args.map((a) => a.describe())).toEqual(["train-2", "train"]);
    expect(args[0]!.step).toBe(graph.step("train-2"));
    // The container finds the function by its definition's key, which placing does not change.
    expect((graph.step("train-2") as FunctionStep).definition).toBe(train.definition);
    expect(graph.nameOf(second)).toBe("train-2");
  });

  it("answer stepName() only for a step of the pipeline", () => {
    const pipeline = new Pipeline({ name: "small", steps: [train(1)], session });
    expect(() => pipeline.stepName(train(2))).toThrow(ValidationError);
  });
});
