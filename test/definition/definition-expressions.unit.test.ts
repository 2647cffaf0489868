/**
 * The expressions of a definition, evaluated against a scope that holds an execution's values:
 * Get, Std:Join, Std:JsonGet (with its Path forms) and the conditions of a Condition step.
 */
import { describe, expect, it } from "vitest";
import { ExpressionError } from "../../src/errors.js";
import { type ExpressionScope, evaluate, evaluateCondition, parseJsonPath, stepsReadBy } from "../../src/definition/expressions.js";
import type { DefinedCondition, Json } from "../../src/definition/model.js";

/** An execution's values as plain maps; readJson serves documents by URI and records what it read. */
function scope(files: Record<string, unknown> = {}): ExpressionScope & { read: string[] } {
  const read: string[] = [];
  const parameters: Record<string, unknown> = { Threshold: 0.8, Epochs: 10, Flag: true, Name: "abc" };
  const steps: Record<string, Record<string, unknown>> = {
    train: { "OutputDataConfig.S3OutputPath": "s3://b/p/exec-1/train/results", TrainingJobName: "job-1" },
  };
  return {
    read,
    parameter: (name) => parameters[name],
    executionVariable: (name) => (name === "PipelineExecutionId" ? "exec-1" : `<${name}>`),
    stepProperty: (step, property) => steps[step]?.[property],
    readJson: async (uri) => {
      read.push(uri);
      if (!(uri in files)) throw new Error(`no file at ${uri}`);
      return files[uri];
    },
  };
}

const resultsOfTrain: Json = {
  "Std:Join": { On: "/", Values: [{ Get: "Steps.train.OutputDataConfig.S3OutputPath" }, "results.json"] },
};

describe("evaluate", () => {
  it("replaces Get of parameters, execution variables and step properties anywhere in a value", async () => {
    const value: Json = {
      a: [{ Get: "Parameters.Epochs" }, { Get: "Execution.PipelineExecutionId" }],
      b: { c: { Get: "Steps.train.TrainingJobName" } },
      d: "plain",
      e: 3,
    };
    expect(await evaluate(value, scope())).toEqual({ a: [10, "exec-1"], b: { c: "job-1" }, d: "plain", e: 3 });
  });

  it("joins strings, numbers and booleans as strings, nested Joins included", async () => {
    const join: Json = {
      "Std:Join": {
        On: "-",
        Values: [
          "x",
          { Get: "Parameters.Epochs" },
          { Get: "Parameters.Threshold" },
          { Get: "Parameters.Flag" },
          { "Std:Join": { On: "", Values: ["y", "z"] } },
        ],
      },
    };
    expect(await evaluate(join, scope())).toBe("x-10-0.8-true-yz");
  });

  it("refuses to join a value that is not a string, number or boolean", async () => {
    const join: Json = { "Std:Join": { On: "/", Values: ["a", { Get: "Parameters.Missing" }] } };
    await expect(evaluate(join, scope())).rejects.toThrow(/Std:Join cannot join no value \(from \{"Get":"Parameters.Missing"\}\)/);
    const obj: Json = { "Std:Join": { On: "/", Values: ["a", { "Std:JsonGet": { S3Uri: "s3://b/r.json", Path: "Result" } }] } };
    await expect(evaluate(obj, scope({ "s3://b/r.json": { Result: { k: 1 } } }))).rejects.toThrow(/cannot join the object \{"k":1\}/);
  });

  it("reads Std:JsonGet at an S3Uri made by a nested Join, with each Path form", async () => {
    const files = { "s3://b/p/exec-1/train/results/results.json": { Result: [0, { k: "v", "a.b": 2, "it's": 3 }, [5, 6]], Exception: null } };
    const get = (path: string): Json => ({ "Std:JsonGet": { S3Uri: resultsOfTrain, Path: path } });
    const s = scope(files);
    expect(await evaluate(get("Result[1]['k']"), s)).toBe("v");
    expect(await evaluate(get('Result[1]["k"]'), s)).toBe("v");
    expect(await evaluate(get("Result[1].k"), s)).toBe("v");
    expect(await evaluate(get("Result[1]['a.b']"), s)).toBe(2);
    expect(await evaluate(get("Result[1]['it\\'s']"), s)).toBe(3);
    expect(await evaluate(get("Result[2][-1]"), s)).toBe(6);
    expect(await evaluate(get("$.Result[0]"), s)).toBe(0);
    expect(await evaluate(get("Exception"), s)).toBeNull();
    expect(s.read[0]).toBe("s3://b/p/exec-1/train/results/results.json");
  });

  it("names the step, the URI and the Path when the Path is not in the file", async () => {
    const files = { "s3://b/p/exec-1/train/results/results.json": { Result: [1] } };
    const missing: Json = { "Std:JsonGet": { S3Uri: resultsOfTrain, Path: "Result[3]" } };
    const error = await evaluate(missing, scope(files)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExpressionError);
    expect((error as ExpressionError).message).toMatch(
      /^Std:JsonGet of step "train": s3:\/\/b\/p\/exec-1\/train\/results\/results\.json has nothing at Path "Result\[3\]"/,
    );
    const byKey: Json = { "Std:JsonGet": { StepName: "train", S3Uri: "s3://x/y.json", Path: "Result.k" } };
    await expect(evaluate(byKey, scope({ "s3://x/y.json": { Result: [1] } }))).rejects.toThrow(
      /Std:JsonGet of step "train": s3:\/\/x\/y\.json has nothing at Path "Result\.k"/,
    );
  });
});

describe("parseJsonPath", () => {
  it("reads the forms SageMaker's paths take", () => {
    expect(parseJsonPath("Result[1]['k']")).toEqual([{ key: "Result" }, { index: 1 }, { key: "k" }]);
    expect(parseJsonPath("Result.k.m")).toEqual([{ key: "Result" }, { key: "k" }, { key: "m" }]);
    expect(parseJsonPath('Result["k"]')).toEqual([{ key: "Result" }, { key: "k" }]);
    expect(parseJsonPath("mse")).toEqual([{ key: "mse" }]);
  });

  it("refuses what is not a path", () => {
    for (const bad of ["", "Result[x]", "Result['k'", "Result.", "Result]", "Result[1"]) {
      expect(() => parseJsonPath(bad), bad).toThrow();
    }
  });
});

describe("evaluateCondition", () => {
  const cmp = (Type: "Equals" | "GreaterThan" | "GreaterThanOrEqualTo" | "LessThan" | "LessThanOrEqualTo", l: Json, r: Json) =>
    evaluateCondition({ Type, LeftValue: l, RightValue: r }, scope());

  it("compares numbers and strings", async () => {
    const table: [Parameters<typeof cmp>[0], Json, Json, boolean][] = [
      ["GreaterThan", 2, 1, true],
      ["GreaterThan", 1, 1, false],
      ["GreaterThanOrEqualTo", 1, 1, true],
      ["GreaterThanOrEqualTo", 0.5, 1, false],
      ["LessThan", 1, 2, true],
      ["LessThan", 2, 2, false],
      ["LessThanOrEqualTo", 2, 2, true],
      ["LessThanOrEqualTo", 3, 2, false],
      ["GreaterThan", "b", "a", true],
      ["LessThan", "B", "a", true],
      ["Equals", 1, 1.0, true],
      ["Equals", 1, 2, false],
      ["Equals", "a", "a", true],
      ["Equals", true, true, true],
      ["Equals", true, false, false],
      ["Equals", [1, { a: 2 }], [1, { a: 2 }], true],
      ["Equals", null, null, true],
      ["GreaterThanOrEqualTo", { Get: "Parameters.Threshold" }, 0.8, true],
    ];
    for (const [type, l, r, expected] of table) {
      expect(await cmp(type, l, r), `${type} ${JSON.stringify(l)} ${JSON.stringify(r)}`).toBe(expected);
    }
  });

  it("refuses to compare values of different kinds", async () => {
    await expect(cmp("Equals", 1, "1")).rejects.toThrow(/Equals cannot compare the number 1 with the string "1"/);
    await expect(cmp("Equals", true, 1)).rejects.toThrow(ExpressionError);
    await expect(cmp("GreaterThan", "2", 1)).rejects.toThrow(/GreaterThan cannot compare the string "2" with the number 1/);
    await expect(cmp("LessThan", true, false)).rejects.toThrow(/LessThan cannot compare/);
  });

  it("In, Not and Or", async () => {
    const s = scope();
    const eq = (l: Json, r: Json): DefinedCondition => ({ Type: "Equals", LeftValue: l, RightValue: r });
    expect(await evaluateCondition({ Type: "In", QueryValue: { Get: "Parameters.Name" }, Values: ["x", "abc"] }, s)).toBe(true);
    expect(await evaluateCondition({ Type: "In", QueryValue: 1, Values: ["1", 2] }, s)).toBe(false);
    expect(await evaluateCondition({ Type: "In", QueryValue: 2, Values: [1, { Get: "Parameters.Epochs" }, 2] }, s)).toBe(true);
    expect(await evaluateCondition({ Type: "Not", Expression: eq(1, 1) }, s)).toBe(false);
    expect(await evaluateCondition({ Type: "Not", Expression: eq(1, 2) }, s)).toBe(true);
    for (const [a, b, expected] of [
      [false, false, false],
      [false, true, true],
      [true, false, true],
      [true, true, true],
    ] as const) {
      const or: DefinedCondition = { Type: "Or", Conditions: [eq(a, true), eq(b, true)] };
      expect(await evaluateCondition(or, s), `${a} or ${b}`).toBe(expected);
    }
  });

  it("evaluates the condition example's JsonGet against a results.json", async () => {
    const files = { "s3://b/p/exec-1/train/results/results.json": { Result: ["s3://model", 0.91], Exception: null } };
    const condition: DefinedCondition = {
      Type: "GreaterThanOrEqualTo",
      LeftValue: { "Std:JsonGet": { S3Uri: resultsOfTrain, Path: "Result[1]" } },
      RightValue: { Get: "Parameters.Threshold" },
    };
    expect(await evaluateCondition(condition, scope(files))).toBe(true);
  });
});

describe("stepsReadBy", () => {
  it("names each step read by a Get or a JsonGet's StepName, once, in order of appearance", () => {
    const value: Json = {
      a: { Get: "Steps.train.TrainingJobName" },
      b: [{ "Std:JsonGet": { StepName: "eval", S3Uri: { Get: "Steps.prep.OutputDataConfig.S3OutputPath" }, Path: "x" } }],
      c: { Get: "Parameters.Epochs" },
      d: { "Std:Join": { On: "", Values: [{ Get: "Steps.train.OutputDataConfig.S3OutputPath" }] } },
    };
    expect(stepsReadBy(value)).toEqual(["train", "eval", "prep"]);
    expect(stepsReadBy({ Get: "Execution.PipelineName" })).toEqual([]);
  });
});
