/**
 * What the runner reads from a function step's ContainerArguments, and how it resolves the pipeline
 * references in its arguments. The upstream results come from a store of objects in memory standing
 * in for S3 (the S3 path itself is tested for real in test/definition/runner-cloud-job.test.ts).
 */
import { describe, expect, it } from "vitest";
import {
  ARGUMENTS_WITHOUT_REFERENCES,
  atPath,
  type PipelineReference,
  type ReferenceCodec,
  propertyReferenceName,
  referencedValue,
  resolveJobArguments,
  stepOutputReference,
} from "../../src/container/argument-references.js";
import { exitCodeOf, resultsJson } from "../../src/container/cloud-job.js";
import { isCloudJobCommandLine, jobLocations, parseJobArguments } from "../../src/container/job-arguments.js";
import type { JobStorage } from "../../src/container/job-s3.js";
import { SetupError } from "../../src/container/load-step.js";
import { PayloadSignatureError } from "../../src/errors.js";
import { digestJobPayload } from "../../src/serialization/asymmetric-signing.js";
import { deserialize, serialize } from "../../src/serialization/codec.js";

const ARGV = [
  "--s3_base_uri",
  "s3://bucket/root/my-pipeline/",
  "--region",
  "eu-west-1",
  "--pipeline_step_name",
  "train",
  "--pipeline_execution_id",
  "abc123",
  "--func_step_s3_dir",
  "0123456789abcdef",
  "--property_references",
  "Execution.PipelineExecutionId",
  "abc123",
  "Parameters.lr",
  "0.5",
  "Steps.prep.OutputDataConfig.S3OutputPath",
  "s3://bucket/root/my-pipeline/abc123/prep/results",
  "--serialize_output_to_json",
  "true",
];

describe("the cloud job's command line", () => {
  it("is told apart from a local start by --s3_base_uri", () => {
    expect(isCloudJobCommandLine(ARGV)).toBe(true);
    expect(isCloudJobCommandLine([])).toBe(false);
  });

  it("is read as the SDK's invoke_function reads it", () => {
    const job = parseJobArguments([...ARGV, "--client_python_version", "3.10", "--unknown_flag"]);
    expect(job).toEqual({
      s3BaseUri: "s3://bucket/root/my-pipeline",
      region: "eu-west-1",
      stepName: "train",
      executionId: "abc123",
      funcStepS3Dir: "0123456789abcdef",
      propertyReferences: new Map([
        ["Execution.PipelineExecutionId", "abc123"],
        ["Parameters.lr", "0.5"],
        ["Steps.prep.OutputDataConfig.S3OutputPath", "s3://bucket/root/my-pipeline/abc123/prep/results"],
      ]),
      serializeOutputToJson: true,
    });
    expect(jobLocations(job)).toEqual({
      function: "s3://bucket/root/my-pipeline/train/0123456789abcdef/function/",
      arguments: "s3://bucket/root/my-pipeline/train/0123456789abcdef/arguments/",
      results: "s3://bucket/root/my-pipeline/abc123/train/results/",
      exception: "s3://bucket/root/my-pipeline/abc123/train/exception/",
    });
  });

  it("writes results.json only when asked", () => {
    expect(parseJobArguments(ARGV.slice(0, -2)).serializeOutputToJson).toBe(false);
  });

  it.each([
    ["--pipeline_step_name", /has no --pipeline_step_name/],
    ["--func_step_s3_dir", /has no --func_step_s3_dir/],
  ])("names a missing %s", (flag, message) => {
    const argv = [...ARGV];
    argv.splice(argv.indexOf(flag), 2);
    expect(() => parseJobArguments(argv)).toThrow(SetupError);
    expect(() => parseJobArguments(argv)).toThrow(message);
  });

  it("refuses property references that are not pairs, and a base that is not s3://", () => {
    expect(() => parseJobArguments([...ARGV.slice(0, 10), "--property_references", "Parameters.lr"])).toThrow(/pairs of name and value/);
    expect(() => parseJobArguments(["--s3_base_uri", "/local", ...ARGV.slice(2)])).toThrow(/must be an s3:\/\/ URI/);
  });
});

describe("a Value reference", () => {
  const given = new Map([
    ["Parameters.n", "42"],
    ["Parameters.lr", "0.5"],
    ["Parameters.flag", "True"],
    ["Parameters.name", "run-1"],
    ["Execution.PipelineExecutionId", "abc123"],
  ]);
  const value = (name: string, parameterType?: string) =>
    referencedValue({ kind: "Value", expression: { Get: name }, ...(parameterType ? { parameterType } : {}) }, given);

  it("takes the command line's string back to its parameter's type", () => {
    expect(value("Parameters.n", "Integer")).toBe(42);
    expect(value("Parameters.lr", "Float")).toBe(0.5);
    expect(value("Parameters.flag", "Boolean")).toBe(true);
    expect(value("Parameters.name", "String")).toBe("run-1");
    expect(value("Execution.PipelineExecutionId")).toBe("abc123");
  });

  it("finds any other expression, a Join say, under its JSON text", () => {
    const join = { "Std:Join": { On: "-", Values: [{ Get: "Parameters.name" }, "x"] } };
    expect(propertyReferenceName({ kind: "Value", expression: join })).toBe(JSON.stringify(join));
    expect(referencedValue({ kind: "Value", expression: join }, new Map([[JSON.stringify(join), "run-1-x"]]))).toBe("run-1-x");
  });

  it("refuses a value of the wrong type, and one the command line does not give", () => {
    expect(() => value("Parameters.lr", "Integer")).toThrow(/Parameters.lr is an Integer parameter, but the job was given "0.5"/);
    expect(() => value("Parameters.name", "Boolean")).toThrow(/Boolean parameter/);
    expect(() => value("Parameters.missing")).toThrow(/use Parameters.missing, which the job's --property_references do not give \(they give: Parameters.n/);
  });
});

describe("a StepResult reference", () => {
  it("takes the path into the upstream result", () => {
    expect(atPath([1, { k: [7, 8] }], [1, "k", 0], "prep")).toBe(7);
    expect(() => atPath([1, { k: [] }], [1, "x"], "prep")).toThrow("the result of step prep has nothing at Result[1]['x']");
    expect(() => atPath({ k: 1 }, [0], "prep")).toThrow(/nothing at Result\[0\]/);
    expect(atPath(new Map<unknown, unknown>([["scores", new Map([[2, "b"]])]]), ["scores", 2], "prep")).toBe("b");
    expect(() => atPath(new Map(), ["k"], "prep")).toThrow(/nothing at Result\['k'\]/);
  });
});

/** Objects in memory by URI: S3's part, without S3. */
class MemoryStorage implements JobStorage {
  readonly objects = new Map<string, Buffer>();
  readonly reads: string[] = [];
  async get(uri: string): Promise<Buffer> {
    this.reads.push(uri);
    const bytes = this.objects.get(uri);
    if (!bytes) throw new Error(`${uri} does not exist`);
    return bytes;
  }
  async put(uri: string, body: Buffer | string): Promise<void> {
    this.objects.set(uri, Buffer.from(body));
  }
  close(): void {}
}

/**
 * A codec that records references as `{ $ref: ... }` objects, as the real one will inside its payloads:
 * enough to drive resolveJobArguments until serialization/pipeline-references.ts lands.
 */
const markerCodec: ReferenceCodec = {
  references(bytes) {
    const found: PipelineReference[] = [];
    const walk = (v: unknown): void => {
      if (typeof v !== "object" || v === null) return;
      if ("$ref" in v) found.push((v as { $ref: PipelineReference }).$ref);
      else for (const inner of Object.values(v)) walk(inner);
    };
    walk(deserialize(bytes));
    return found;
  },
  deserialize(bytes, resolve) {
    const replace = (v: unknown): unknown => {
      if (typeof v !== "object" || v === null) return v;
      if ("$ref" in v) return resolve((v as { $ref: PipelineReference }).$ref);
      if (Array.isArray(v)) return v.map(replace);
      return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, replace(inner)]));
    };
    return replace(deserialize(bytes));
  },
};

describe("resolving a job's arguments", () => {
  const upstream = "s3://bucket/p/abc123/prep/results";
  const propertyReferences = new Map([
    ["Parameters.n", "3"],
    [stepOutputReference("prep"), upstream],
  ]);

  function storageWithUpstream(result: unknown): MemoryStorage {
    const storage = new MemoryStorage();
    const payload = serialize(result, "result");
    storage.objects.set(`${upstream}/payload.bin`, payload);
    storage.objects.set(`${upstream}/metadata.json`, Buffer.from(JSON.stringify(digestJobPayload(payload))));
    return storage;
  }

  it("decodes arguments without references with today's codec", async () => {
    const args = await resolveJobArguments(serialize([2, { a: 3 }], "args"), { propertyReferences, storage: new MemoryStorage() });
    expect(args).toEqual([2, { a: 3 }]);
    expect(ARGUMENTS_WITHOUT_REFERENCES.references(serialize([1], "args"))).toEqual([]);
  });

  it("replaces parameters and upstream results, downloading each upstream result once", async () => {
    const storage = storageWithUpstream({ train: [10, 20], meta: { rows: 5 } });
    const bytes = serialize(
      [
        { $ref: { kind: "Value", expression: { Get: "Parameters.n" }, parameterType: "Integer" } },
        { $ref: { kind: "StepResult", step: "prep", path: ["train", 1] } },
        { rows: { $ref: { kind: "StepResult", step: "prep", path: ["meta", "rows"] } } },
      ],
      "args",
    );
    const args = await resolveJobArguments(bytes, { propertyReferences, storage, codec: markerCodec });
    expect(args).toEqual([3, 20, { rows: 5 }]);
    expect(storage.reads.filter((uri) => uri.endsWith("payload.bin"))).toEqual([`${upstream}/payload.bin`]);
  });

  it("refuses an upstream result whose bytes are not the ones its digest names", async () => {
    const storage = storageWithUpstream([1, 2]);
    storage.objects.set(`${upstream}/payload.bin`, serialize([1, 3], "result"));
    const bytes = serialize([{ $ref: { kind: "StepResult", step: "prep", path: [0] } }], "args");
    await expect(resolveJobArguments(bytes, { propertyReferences, storage, codec: markerCodec })).rejects.toThrow(PayloadSignatureError);
  });

  it("names the upstream step whose S3OutputPath the command line lacks", async () => {
    const bytes = serialize([{ $ref: { kind: "StepResult", step: "other", path: [] } }], "args");
    await expect(resolveJobArguments(bytes, { propertyReferences, storage: new MemoryStorage(), codec: markerCodec })).rejects.toThrow(
      /result of step other, but the job's --property_references do not give Steps.other.OutputDataConfig.S3OutputPath/,
    );
  });
});

describe("what a job returns", () => {
  it("has results.json as the SDK writes it, with a note for a value JSON cannot hold", () => {
    expect(JSON.parse(resultsJson({ acc: 0.9, tags: ["a"] }))).toEqual({ Result: { acc: 0.9, tags: ["a"] }, Exception: null });
    expect(JSON.parse(resultsJson(null))).toEqual({ Result: null, Exception: null });
    expect(JSON.parse(resultsJson(10n))).toEqual({ Result: null, Exception: "The function return (10n) is not JSON serializable." });
    expect(JSON.parse(resultsJson(undefined)).Exception).toMatch(/not JSON serializable/);
    expect(JSON.parse(resultsJson(Number.NaN)).Exception).toMatch(/not JSON serializable/);
  });

  it("exits as the SDK's invoke_function: 1, or a step error's errno", () => {
    expect(exitCodeOf(new Error("plain"))).toBe(1);
    expect(exitCodeOf(new SetupError("no key"))).toBe(1);
    expect(exitCodeOf(Object.assign(new Error("ENOENT"), { errno: -2 }))).toBe(2);
    expect(exitCodeOf(Object.assign(new Error("odd"), { errno: 4096 }))).toBe(1);
    expect(exitCodeOf("a string")).toBe(1);
  });
});
