/**
 * The command line's pure parts: prefix matching, durations, parameters, JSON of step values, exit
 * codes of errors, and hosts of log streams.
 */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { NotFoundError, ParameterBoolean, ParameterInteger, ParameterString, StepboxError, StoreError, UnknownStepError, ValidationError } from "stepbox";
import { parseDuration } from "../../src/cli/duration.js";
import { reportError } from "../../src/cli/errors.js";
import { formatDuration, formatTable, toJson } from "../../src/cli/output.js";
import { parseParameters } from "../../src/cli/parameters.js";
import { matchPrefix } from "../../src/cli/resolve.js";
import { hostOfStream } from "../../src/cli/step-logs.js";

describe("the command line's helpers", () => {
  it("match an exact name first, else the one name a prefix starts, else say what there is", () => {
    expect(matchPrefix("train", ["train", "train-2"], "step", "x")).toBe("train");
    expect(matchPrefix("ev", ["train", "eval"], "step", "x")).toBe("eval");
    expect(() => matchPrefix("tr", ["train", "trim"], "step", "execution abc")).toThrow(
      /"tr" is the start of 2 steps in execution abc\n  hint: give more of the name: train, trim/,
    );
    expect(() => matchPrefix("zz", ["train"], "step", "x")).toThrow(ValidationError);
  });

  it("parse durations as people type them, and ISO-8601", () => {
    expect(parseDuration("30s", "--older-than")).toBe(30_000);
    expect(parseDuration("15m", "--older-than")).toBe(900_000);
    expect(parseDuration("7d", "--older-than")).toBe(7 * 86_400_000);
    expect(parseDuration("P1DT12H", "--older-than")).toBe(36 * 3_600_000);
    expect(() => parseDuration("7 days", "--older-than")).toThrow(/--older-than 7 days is not a duration/);
  });

  it("type --param values by the pipeline's parameters", () => {
    const declared = [new ParameterInteger({ name: "epochs" }), new ParameterBoolean({ name: "fast" }), new ParameterString({ name: "who" })];
    expect(parseParameters(["epochs=20", "fast=true", "who=a=b"], declared)).toEqual({ epochs: 20, fast: true, who: "a=b" });
    expect(() => parseParameters(["epochs=2.5"], declared)).toThrow(/parameter "epochs" is Integer and needs a whole number/);
    expect(() => parseParameters(["fast=yes"], declared)).toThrow(/needs true or false/);
  });

  it("write JSON that keeps Map, Set, bigint and bytes", () => {
    expect(JSON.parse(toJson({ m: new Map([["a", 1]]), s: new Set([1]), n: 10n, b: Buffer.from("hi"), u: undefined }))).toEqual({
      m: { a: 1 },
      s: [1],
      n: "10",
      b: { base64: "aGk=" },
      u: null,
    });
    expect(toJson(undefined)).toBe("null");
  });

  it("format tables and durations", () => {
    expect(
      formatTable(
        ["A", "BB"],
        [
          ["xyz", "1"],
          ["x", ""],
        ],
      ),
    ).toEqual(["A    BB", "xyz  1", "x"]);
    expect([formatDuration(850), formatDuration(12_340), formatDuration(245_000), formatDuration(7_800_000)]).toEqual(["850 ms", "12.3 s", "4m 05s", "2h 10m"]);
  });

  it("exit 2 for an error with a user error's code, whatever its class, and 1 for a fault", () => {
    const exitCode = (error: unknown): number => reportError(error, new PassThrough(), false);
    expect(exitCode(new StepboxError("NOT_FOUND", "execution abc has no definition of its own"))).toBe(2);
    expect(exitCode(new NotFoundError("a/b.json", "file:///store"))).toBe(2);
    expect(exitCode(new StepboxError("UNKNOWN_EXECUTION", "no execution abc"))).toBe(2);
    expect(exitCode(new UnknownStepError("trian", ["train"]))).toBe(2);
    expect(exitCode(new StepboxError("INVALID_PIPELINE", "the pipeline has no steps"))).toBe(2);
    expect(exitCode(new ValidationError("--param x is not name=value"))).toBe(2);
    expect(exitCode(new StoreError("the disk is full"))).toBe(1);
    expect(exitCode(new StepboxError("CONTAINER_ENGINE", "Docker does not answer"))).toBe(1);
    expect(exitCode(new Error("a bug"))).toBe(1);
  });

  it("name the host a stored log stream came from", () => {
    expect(hostOfStream("cli-two-hosts-shard-4kq2-1/algo-2-1767225600")).toBe("algo-2");
    expect(hostOfStream("job/algo-10-1767225600")).toBe("algo-10");
  });
});
