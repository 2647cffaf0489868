/**
 * Pipeline values inside an arguments payload travel as reference records, recognised by identity
 * through the codec's envelope: written by serialize's `reference` callback, listed by
 * payloadReferences, replaced by deserialize's `resolve`. Real dsl values, the real codec.
 */
import { describe, expect, it } from "vitest";
import { ExecutionVariables, Join, ParameterInteger, SerializationError, StepboxError, step } from "stepbox";
import { isDelayedReturn } from "../../src/dsl/delayed-return.js";
import { isExecutionVariable } from "../../src/dsl/execution-variables.js";
import { isJoin } from "../../src/dsl/join.js";
import { isParameter } from "../../src/dsl/parameters.js";
import { deserialize, payloadReferences, serialize } from "../../src/serialization/codec.js";
import { type PipelineReference, referenceName, selectReferencePath } from "../../src/serialization/pipeline-references.js";

const train = step(function train() {
  return { metrics: [0.1, { acc: 0.9 }] };
});

/** What an emitter does: each dsl value to its record. */
function reference(value: object): PipelineReference {
  if (isDelayedReturn(value)) return { kind: "StepResult", step: value.step.name, path: value.path };
  if (isParameter(value)) return { kind: "Value", expression: value.expr, parameterType: value.type };
  if (isExecutionVariable(value)) return { kind: "Value", expression: value.expr };
  if (isJoin(value)) return { kind: "Value", expression: { "Std:Join": { On: value.on, Values: value.values as string[] } } };
  throw new Error("not a pipeline value");
}

const output = { metrics: [0.1, { acc: 0.9 }] };
const values: Record<string, unknown> = { "Parameters.epochs": 12, "Execution.PipelineExecutionId": "exec-1" };
/** What an engine does once it has fetched the values. */
function resolve(ref: PipelineReference): unknown {
  if (ref.kind === "StepResult") return selectReferencePath(output, ref);
  return values[referenceName(ref)] ?? `joined:${JSON.stringify(ref.expression)}`;
}

describe("reference records in a payload", () => {
  it("round-trip a step's output, a parameter, an execution variable and a Join, nested in arrays, objects and Maps", () => {
    const epochs = new ParameterInteger({ name: "epochs", defaultValue: 3 });
    const model = train();
    const args = [
      model.get("metrics").get(1).get("acc"),
      { epochs, id: ExecutionVariables.PIPELINE_EXECUTION_ID, deep: [[model]] },
      new Map<unknown, unknown>([
        ["tag", new Join({ on: "-", values: ["a", "b"] })],
        [epochs, "parameter as a key"],
      ]),
      new Set([epochs]),
      "plain",
    ];
    const bytes = serialize(args, "arguments", { reference });
    const refs = payloadReferences(bytes);
    expect(refs).toEqual([
      { kind: "StepResult", step: "train", path: ["metrics", 1, "acc"] },
      { kind: "Value", expression: { Get: "Parameters.epochs" }, parameterType: "Integer" },
      { kind: "Value", expression: { Get: "Execution.PipelineExecutionId" } },
      { kind: "StepResult", step: "train", path: [] },
      { kind: "Value", expression: { "Std:Join": { On: "-", Values: ["a", "b"] } } },
    ]);
    expect(refs.map(referenceName)).toEqual([
      "Steps.train.OutputDataConfig.S3OutputPath",
      "Parameters.epochs",
      "Execution.PipelineExecutionId",
      "Steps.train.OutputDataConfig.S3OutputPath",
      '{"Std:Join":{"On":"-","Values":["a","b"]}}',
    ]);

    const back = deserialize(bytes, { resolve }) as [number, { epochs: number; id: string; deep: unknown[][] }, Map<unknown, unknown>, Set<unknown>, string];
    expect(back[0]).toBe(0.9);
    expect(back[1]).toEqual({ epochs: 12, id: "exec-1", deep: [[output]] });
    expect([...back[2]]).toEqual([
      ["tag", 'joined:{"Std:Join":{"On":"-","Values":["a","b"]}}'],
      [12, "parameter as a key"],
    ]);
    expect([...back[3]]).toEqual([12]);
    expect(back[4]).toBe("plain");
  });

  it("keeps one record for a value used twice, resolved once", () => {
    const epochs = new ParameterInteger({ name: "epochs" });
    let asked = 0;
    const bytes = serialize({ a: epochs, b: [epochs] }, "arguments", {
      reference: (value) => {
        asked++;
        return reference(value);
      },
    });
    expect(asked).toBe(1);
    expect(payloadReferences(bytes)).toHaveLength(1);
    let resolved = 0;
    const back = deserialize(bytes, {
      resolve: () => {
        resolved++;
        return { shared: true };
      },
    }) as { a: object; b: object[] };
    expect(resolved).toBe(1);
    expect(back.a).toBe(back.b[0]);
  });

  it("is a pipeline value at the top level too, and keeps errors beside it", () => {
    const bytes = serialize([train(), new RangeError("kept")], "arguments", { reference });
    const back = deserialize(bytes, { resolve: () => "resolved" }) as [string, RangeError];
    expect(back[0]).toBe("resolved");
    expect(back[1]).toBeInstanceOf(RangeError);
    expect(back[1].message).toBe("kept");
  });

  it("is recognised by identity, never by shape: a user's object that looks like a record stays data", () => {
    const lookalike = { kind: "StepResult", step: "train", path: [] };
    const bytes = serialize({ lookalike, real: train() }, "arguments", { reference });
    expect(payloadReferences(bytes)).toHaveLength(1);
    const back = deserialize(bytes, { resolve: () => "resolved" }) as { lookalike: unknown; real: unknown };
    expect(back).toEqual({ lookalike, real: "resolved" });
  });

  it("is refused without a reference callback, as pipeline values always were", () => {
    const epochs = new ParameterInteger({ name: "epochs" });
    expect(() => serialize({ where: new Map([["k", epochs]]) }, "arguments")).toThrow(
      /cannot serialize a pipeline value .* at arguments\.where<Map value "k">/,
    );
    expect(() => serialize([train()], "arguments")).toThrow(SerializationError);
  });

  it("refuses a payload with references when deserialize is given no resolve, naming them", () => {
    const bytes = serialize([new ParameterInteger({ name: "epochs" })], "arguments", { reference });
    const error = (() => {
      try {
        deserialize(bytes);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(StepboxError);
    expect((error as StepboxError).code).toBe("SERIALIZATION");
    expect((error as Error).message).toMatch(/holds 1 pipeline reference\(s\) \(Parameters\.epochs\) and no resolve was given/);
    // A payload without references needs no resolve.
    expect(deserialize(serialize([1, 2]))).toEqual([1, 2]);
    expect(payloadReferences(serialize([1, 2]))).toEqual([]);
  });

  it("names the path when the callback refuses a value or returns no record", () => {
    const refuseJoins = (value: object): PipelineReference => {
      if (isJoin(value)) throw new SerializationError("", "a Join that holds a step's output", { hint: "pass the output itself" });
      return reference(value);
    };
    expect(() => serialize({ x: [1, new Join({ values: [train()] })] }, "arguments", { reference: refuseJoins })).toThrow(
      /cannot serialize a Join that holds a step's output at arguments\.x\[1\]\n {2}hint: pass the output itself/,
    );
    expect(() => serialize({ p: new ParameterInteger({ name: "n" }) }, "arguments", { reference: () => ({ kind: "Other" }) as never })).toThrow(
      /cannot serialize a pipeline value whose reference has a kind other than "Value" or "StepResult" .* at arguments\.p/,
    );
    expect(() => serialize([train()], "arguments", { reference: () => ({ kind: "Value", expression: { n: Number.NaN } }) })).toThrow(
      /expression that is not JSON/,
    );
  });
});

describe("selectReferencePath", () => {
  it("selects inside arrays, objects and Maps, and names a missing key", () => {
    expect(selectReferencePath(new Map([["m", [1, 2]]]), { kind: "StepResult", step: "s", path: ["m", 1] })).toBe(2);
    expect(() => selectReferencePath({ a: 1 }, { kind: "StepResult", step: "s", path: ["b"] })).toThrow(/the output of step "s" has no "b"/);
  });
});
