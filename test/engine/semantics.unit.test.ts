import { describe, expect, it } from "vitest";
import {
  type Condition,
  ConditionEquals,
  ConditionGreaterThan,
  ConditionIn,
  ConditionNot,
  ConditionOr,
  ConditionStep,
  ExecutionVariables,
  ParameterBoolean,
  ParameterInteger,
  type Parameter,
  ParameterString,
  Pipeline,
  SageMakerJobExceptionType,
  SageMakerJobStepRetryPolicy,
  StepErrorRetryPolicy,
  StepRetryPolicy,
  ValidationError,
} from "stepbox";
import { evaluateCondition, type ExpressionScope } from "../../src/definition/expressions.js";
import type { DefinedConditionStep } from "../../src/definition/model.js";
import { readDefinition } from "../../src/definition/read-definition.js";
import { parseIsoDuration } from "../../src/engine/iso-duration.js";
import { resolveParameterValues } from "../../src/engine/parameters.js";

const scope = (parameters: Record<string, unknown> = {}): ExpressionScope => ({
  parameter: (name) => parameters[name],
  executionVariable: (name) => (name === "StartDateTime" ? "2026-01-01T00:00:00.000Z" : name === "PipelineExecutionId" ? "abc123def456" : "p"),
  stepProperty: () => {
    throw new Error("no steps here");
  },
  readJson: () => Promise.reject(new Error("no JSON here")),
});

describe("ISO-8601 durations", () => {
  it.each([
    ["PT1H", 3_600_000],
    ["P30D", 30 * 86_400_000],
    ["p30d", 30 * 86_400_000],
    ["P4DT12H", 4.5 * 86_400_000],
    ["T16m", 16 * 60_000],
    ["30dT5h", 30 * 86_400_000 + 5 * 3_600_000],
    ["PT2S", 2000],
  ])("reads %s", (text, ms) => {
    expect(parseIsoDuration(text, "expireAfter")).toBe(ms);
  });

  it.each(["", "P", "PT", "1 hour", "PXD"])("refuses %j with a hint", (text) => {
    expect(() => parseIsoDuration(text, "expireAfter")).toThrow(/not an ISO-8601 duration[\s\S]*PT1H/);
  });
});

describe("parameter values", () => {
  const listed = [
    new ParameterString({ name: "s", defaultValue: "a" }),
    new ParameterInteger({ name: "i" }),
    new ParameterBoolean({ name: "b", defaultValue: false }),
  ];

  it("fills defaults and keeps JS types", () => {
    expect([...resolveParameterValues("p", listed, { i: 3, b: true })]).toEqual([
      ["s", "a"],
      ["i", 3],
      ["b", true],
    ]);
  });

  it.each([
    [{ i: 1, x: 1 }, /no parameter "x"/],
    [{}, /"i" has no value and no default/],
    [{ i: "1" }, /must be an integer/],
    [{ i: 1.5 }, /must be an integer/],
    [{ i: 1, b: "yes" }, /must be true or false/],
  ])("refuses %j", (given, message) => {
    expect(() => resolveParameterValues("p", listed, given)).toThrow(message);
  });

  it("refuses a bad default and an invalid name when declared", () => {
    expect(() => new ParameterInteger({ name: "n", defaultValue: 1.5 })).toThrow(ValidationError);
    expect(() => new ParameterString({ name: "has space" })).toThrow(/not a valid parameter name/);
    expect(() => new ParameterString({ name: "e", defaultValue: "c", enumValues: ["a", "b"] })).toThrow(/one of "a", "b"/);
  });
});

describe("conditions", () => {
  /** Whether a condition holds, as the engine evaluates it: written into a definition, read back, evaluated. */
  const holds = async (condition: Condition, parameters: readonly Parameter[] = [], values: Record<string, unknown> = {}): Promise<boolean> => {
    const pipeline = new Pipeline({ name: "p", steps: [new ConditionStep({ name: "c", conditions: [condition] })], parameters });
    const c = readDefinition(pipeline.definition()).step("c") as DefinedConditionStep;
    return evaluateCondition(c.conditions[0]!, scope(values));
  };

  it("compares numbers and strings, and combines with Not, Or and In", async () => {
    const n = new ParameterInteger({ name: "n" });
    expect(await holds(new ConditionGreaterThan({ left: n, right: 3 }), [n], { n: 5 })).toBe(true);
    expect(await holds(new ConditionEquals({ left: "a", right: "a" }))).toBe(true);
    expect(await holds(new ConditionNot({ expression: new ConditionEquals({ left: 1, right: 1 }) }))).toBe(false);
    expect(
      await holds(new ConditionOr({ conditions: [new ConditionEquals({ left: 1, right: 2 }), new ConditionIn({ value: n, inValues: [4, 5] })] }), [n], {
        n: 5,
      }),
    ).toBe(true);
    expect(await holds(new ConditionGreaterThan({ left: ExecutionVariables.START_DATETIME, right: "2025-12-31" }))).toBe(true);
  });

  it("fails on values of different types, as SageMaker does", async () => {
    await expect(holds(new ConditionEquals({ left: 1, right: "1" }))).rejects.toThrow(/different kinds/);
    await expect(holds(new ConditionGreaterThan({ left: "b", right: 1 }))).rejects.toThrow(/cannot compare/);
  });

  it("refuses malformed conditions when built", () => {
    expect(() => new ConditionIn({ value: 1 } as never)).toThrow(/inValues/);
    expect(() => new ConditionOr({ conditions: [] })).toThrow(/at least one condition/);
  });
});

describe("retry policies", () => {
  it("cover the failures they name", () => {
    const job = new SageMakerJobStepRetryPolicy({ exceptionTypes: [SageMakerJobExceptionType.RESOURCE_LIMIT], maxAttempts: 2 });
    expect(job.covers({ exceptionType: "SageMaker.RESOURCE_LIMIT" })).toBe(true);
    expect(job.covers({ exceptionType: "SageMaker.CAPACITY_ERROR" })).toBe(false);
    const own = new StepErrorRetryPolicy({ errorNames: ["FlakyError"], maxAttempts: 1, intervalSeconds: 2, backoffRate: 3 });
    expect(own.covers({ errorName: "FlakyError" })).toBe(true);
    expect([own.delaySeconds(1), own.delaySeconds(2), own.delaySeconds(3)]).toEqual([2, 6, 18]);
  });

  it.each([
    [() => new StepRetryPolicy({ exceptionTypes: ["Step.SERVICE_FAULT"], maxAttempts: 21 }), /maxAttempts must be an integer from 1 to 20/],
    [() => new StepRetryPolicy({ exceptionTypes: ["Step.SERVICE_FAULT"] }), /give maxAttempts, expireAfterMins or both/],
    [() => new StepRetryPolicy({ exceptionTypes: ["SageMaker.RESOURCE_LIMIT"], maxAttempts: 1 }), /exceptionTypes must list/],
    [() => new StepErrorRetryPolicy({ errorNames: [], maxAttempts: 1 }), /errorNames must list/],
    [() => new StepRetryPolicy({ exceptionTypes: ["Step.THROTTLING"], expireAfterMins: 20000 }), /expireAfterMins must be between 0 and 14400/],
  ])("refuses bad settings (%#)", (make, message) => {
    expect(make).toThrow(message);
  });
});
