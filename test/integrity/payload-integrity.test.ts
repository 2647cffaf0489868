/**
 * Only the engine holds an execution's key: no stored byte or log holds it, even when a step looks for
 * it and prints what it found, and every payload the engine reads back from the store (a step's code
 * and arguments for a shell, a result taken by a cache hit or a selective execution) is refused once
 * altered.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getStep, IntegrityError, LocalPipelineSession, Pipeline, type PipelineExecution } from "stepbox";
import { deriveExecutionKey, verifyPayload } from "../../src/serialization/signing.js";
import { printsItsSecrets } from "../fixtures/hostile-steps.js";
import { cached } from "../fixtures/scheduler-steps.js";
import { add, constant, explode } from "../fixtures/steps.js";
import { InProcessRuntime } from "../support/in-process-runtime.js";
import { pipedShell } from "../support/shell.js";
import { leftoverContainers, testSession } from "../support/session.js";

let ctx: Awaited<ReturnType<typeof testSession>>;
let execution: PipelineExecution;

beforeAll(async () => {
  ctx = await testSession();
  // A step that hunts for the key, one with arguments, and one after it that fails (its error is stored too).
  const sum = add(constant(2), 3);
  execution = await new Pipeline({ name: "integrity", steps: [printsItsSecrets(), explode(sum as never)], session: ctx.session }).start();
  expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
  expect(await leftoverContainers(execution.id)).toEqual([]);
});

afterAll(async () => {
  await ctx.cleanup();
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)])));
  return nested.flat();
}

/** Every way a key could be written down: its raw bytes, hex in either case, base64 and base64url. */
const spellings = (key: Buffer): Buffer[] => [
  key,
  ...[key.toString("hex"), key.toString("hex").toUpperCase(), key.toString("base64"), key.toString("base64url")].map((s) => Buffer.from(s)),
];

const payloadAt = (step: string, kind: string) => join(ctx.root, "integrity", execution.id, step, kind);

describe("the execution key", () => {
  it("is in no stored byte and no log, though a step printed all its container holds", async () => {
    const master = await ctx.session.masterKey();
    const key = deriveExecutionKey(master, execution.id);
    // The key derived here is the one that signed the run's payloads, or the scan below proves nothing.
    const result = await readFile(join(payloadAt("add", "results"), "payload.bin"));
    verifyPayload(result, JSON.parse(await readFile(join(payloadAt("add", "results"), "metadata.json"), "utf8")), key, "the sum");

    const files = await filesUnder(ctx.root);
    const logs = files.filter((f) => f.endsWith(".log"));
    expect((await Promise.all(logs.map((f) => readFile(f, "utf8")))).join("\n")).toContain("/proc/1/environ: ");
    const needles = [...spellings(key), ...spellings(master), Buffer.from("test-secret")];
    const found: string[] = [];
    for (const file of files) {
      const bytes = await readFile(file);
      for (const needle of needles) if (bytes.includes(needle)) found.push(`${file}: ${needle.toString("utf8", 0, 12)}...`);
    }
    expect(found).toEqual([]);
    expect(files.length).toBeGreaterThan(20);
  });
});

describe("an altered payload", () => {
  /** Flips one byte of a stored file. */
  async function alter(file: string): Promise<void> {
    const bytes = await readFile(file);
    bytes[bytes.length - 2]! ^= 0xff;
    await writeFile(file, bytes);
  }

  const shellInto = (stepName: string) => pipedShell("exit\n", { session: ctx.session, pipelineName: "integrity", executionId: execution.id, stepName });

  it("of a step's code is refused before a shell's container gets it", async () => {
    await alter(join(ctx.root, "integrity", execution.id, "printsItsSecrets", "function", "code.mjs"));
    const refused = shellInto("printsItsSecrets");
    await expect(refused).rejects.toBeInstanceOf(IntegrityError);
    await expect(refused).rejects.toThrow(/the code of step "printsItsSecrets"/);
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("of a step's arguments is refused before a shell's container gets them", async () => {
    await alter(join(payloadAt("add", "arguments"), "payload.bin"));
    const refused = shellInto("add");
    await expect(refused).rejects.toBeInstanceOf(IntegrityError);
    await expect(refused).rejects.toThrow(/the arguments of step "add"/);
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });
});

describe("an altered result taken from another execution", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "stepbox-integrity-"));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  const inProcess = () => new LocalPipelineSession({ artifactRoot: root, secret: "test-secret", runtime: new InProcessRuntime() });
  const alterResult = async (pipeline: string, executionId: string, step: string): Promise<void> => {
    const file = join(root, pipeline, executionId, step, "results", "payload.bin");
    const bytes = await readFile(file);
    bytes[bytes.length - 2]! ^= 0xff;
    await writeFile(file, bytes);
  };

  it("is no cache hit: the step runs again", async () => {
    const pipeline = new Pipeline({ name: "altered-cache", steps: [cached(21)], session: inProcess() });
    const first = await pipeline.start();
    const original = (await first.result("cached")) as { value: number; nonce: number };
    await alterResult("altered-cache", first.id, "cached");
    const second = await pipeline.start();
    const rerun = (await second.result("cached")) as { value: number; nonce: number };
    expect(rerun.value).toBe(42);
    expect(rerun.nonce).not.toBe(original.nonce);
    expect((await second.listSteps())[0]!.CacheHitResult).toBeUndefined();
  });

  it("fails a selective execution that would reuse it, naming the step and the check", async () => {
    const a = constant(2);
    const b = add(a, 1);
    const pipeline = new Pipeline({ name: "altered-source", steps: [b], session: inProcess() });
    const source = await pipeline.start();
    expect((await source.wait()).PipelineExecutionStatus).toBe("Succeeded");
    await alterResult("altered-source", source.id, pipeline.stepName(a));
    const selective = await pipeline.start({ selectiveExecution: { sourceExecutionId: source.id, steps: [pipeline.stepName(b)] } });
    const described = await selective.wait();
    expect(described.PipelineExecutionStatus).toBe("Failed");
    expect(described.FailureReason).toMatch(
      new RegExp(`^Step '${pipeline.stepName(a)}' failed with message: cannot reuse its result from execution ${source.id}: integrity check failed`),
    );
  });

  it("re-signs a reused result under the new execution's key", async () => {
    const a = constant(5);
    const b = add(a, 1);
    const session = inProcess();
    const pipeline = new Pipeline({ name: "resigned", steps: [b], session });
    const source = await pipeline.start();
    await source.wait();
    const selective = await pipeline.start({ selectiveExecution: { sourceExecutionId: source.id, steps: [pipeline.stepName(b)] } });
    expect(await selective.result(pipeline.stepName(b))).toBe(6);
    const results = join(root, "resigned", selective.id, getStep(a).name, "results");
    const [payload, metadata] = await Promise.all([readFile(join(results, "payload.bin")), readFile(join(results, "metadata.json"), "utf8")]);
    const master = await session.masterKey();
    expect(() => verifyPayload(payload, JSON.parse(metadata), deriveExecutionKey(master, selective.id), "the reused result")).not.toThrow();
    expect(() => verifyPayload(payload, JSON.parse(metadata), deriveExecutionKey(master, source.id), "the reused result")).toThrow(IntegrityError);
  });
});
