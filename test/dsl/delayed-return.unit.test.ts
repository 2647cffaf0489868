/**
 * A DelayedReturn stands for a value only known when the pipeline runs: reading a property it does
 * not have (what `const { loss } = train()` does in plain JavaScript) throws and names the `.get()`
 * that was meant, while the runtime's and the test library's own probing still works.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { DelayedReturn, ValidationError, getStep, step } from "stepbox";
import { isDelayedReturn } from "../../src/dsl/delayed-return.js";

const train = step(function train() {
  return { loss: 0.1, layers: [1, 2] };
});

const thrown = (read: () => unknown): unknown => {
  try {
    read();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe("a DelayedReturn", () => {
  it("refuses a property it does not have, naming the .get() to use", () => {
    const untyped = train() as unknown as Record<string, unknown>;
    const error = thrown(() => {
      const { loss } = untyped;
      return loss;
    });
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toMatch(/^train is a DelayedReturn and has no property "loss"/);
    expect((error as ValidationError).hint).toContain('.get("loss")');
    const indexed = thrown(() => (train().get("layers") as unknown as unknown[])[0]) as ValidationError;
    expect(indexed.message).toMatch(/^train\.layers is a DelayedReturn and has no property "0"/);
    expect(indexed.hint).toContain(".get(0)");
  });

  it("keeps its own members, its class and its description", () => {
    const r = train();
    expect(r.get("loss").describe()).toBe("train.loss");
    expect(r.path).toEqual([]);
    expect(getStep(r)).toBe(r.step);
    expect(r).toBeInstanceOf(DelayedReturn);
    expect(isDelayedReturn(r.get("layers").get(0))).toBe(true);
    expect(inspect(r.get("loss"))).toBe("DelayedReturn(train.loss)");
    expect(() => expect(r).toBe(1)).toThrow(/DelayedReturn\(train\)/);
  });

  it("is not a thenable, so awaiting it or resolving a promise with it gives it back", async () => {
    const r = train();
    expect((r as unknown as { then?: unknown }).then).toBeUndefined();
    expect(await r).toBe(r);
    expect(await Promise.resolve(r)).toBe(r);
  });

  it("cannot be cloned or turned into a string", () => {
    const r = train();
    expect(() => structuredClone(r)).toThrow();
    expect(() => `${String(r)}`).toThrow(/only known when the pipeline runs/);
    expect(() => JSON.stringify({ r })).toThrow(/no JSON value/);
  });
});
