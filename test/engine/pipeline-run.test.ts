import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { CycleError, DuplicateStepNameError, IntegrityError, LocalPipelineSession, Pipeline, StepFailedError, UnknownStepError, getStep, step } from "stepbox";
import { add, constant, explode, gated, metrics, printer, returnsFunction, rich, summarize } from "../fixtures/steps.js";
import { hostOutputFolder, leftoverContainers, ReadyLines } from "../support/session.js";

describe("a pipeline run", () => {
  it("chains steps through DelayedReturns and answers describe, listSteps and result", async ({ ctx }) => {
    const two = constant(2);
    const sum = add(two, 3);
    const pipeline = new Pipeline({ name: "chain", steps: [sum], session: ctx.session });
    const execution = await pipeline.start();
    expect(execution.id).toMatch(/^[a-z0-9]{12}$/);

    expect(await execution.result(getStep(sum).name)).toBe(5);
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Succeeded");
    expect(described.CreationTime).toBeInstanceOf(Date);

    const steps = await execution.listSteps();
    expect(steps.map((s) => s.StepName).sort()).toEqual([getStep(sum).name, getStep(two).name].sort());
    for (const s of steps) {
      expect(s.StepStatus).toBe("Succeeded");
      expect(s.AttemptCount).toBe(1);
      expect(s.StartTime).toBeInstanceOf(Date);
      expect(s.EndTime!.getTime()).toBeGreaterThanOrEqual(s.StartTime!.getTime());
      expect(s.Metadata.TrainingJob?.Arn).toMatch(/^arn:aws:sagemaker:local:000000000000:training-job\//);
    }
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("runs independent steps of a diamond at the same time", async ({ ctx }) => {
    const lines = new ReadyLines();
    const session = new LocalPipelineSession({ artifactRoot: ctx.root, secret: "test-secret", stopGraceSeconds: 2, onLog: lines.onLog });
    const a = constant(1);
    const b = gated("b", a);
    const c = gated("c", a);
    const d = add(b.get("end"), c.get("end"));
    const pipeline = new Pipeline({ name: "diamond", steps: [d], session });
    // The second call of the same step function in the pipeline gets its own deterministic name.
    expect([pipeline.stepName(b), pipeline.stepName(c)]).toEqual(["gated", "gated-2"]);
    const execution = await pipeline.start({ parallelism: 2 });
    // Neither step ends before the host lets it: both saying "ready" means both containers run at once.
    await Promise.all([lines.ready("gated"), lines.ready("gated-2")]);
    for (const name of ["gated", "gated-2"]) await writeFile(join(await hostOutputFolder(execution.id, name), "go"), "");
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    const [rb, rc] = (await Promise.all([execution.result("gated"), execution.result("gated-2")])) as Array<{ end: number }>;
    expect(await execution.result(getStep(d).name)).toBe(rb!.end + rc!.end);
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("fails the execution when a step throws, keeps the error, and starts nothing downstream", async ({ ctx }) => {
    const a = constant(1);
    const b = explode("loss is NaN");
    getStep(b).addDependsOn([a]);
    const c = constant(2);
    const d = add(b, c);
    const pipeline = new Pipeline({ name: "failing", steps: [d], session: ctx.session });
    const execution = await pipeline.start({ parallelism: 1 });
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Failed");
    expect(described.FailureReason).toContain("Step 'explode' failed");
    expect(described.FailureReason).toContain("loss is NaN");

    const error = await execution.result("explode").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailedError);
    const failed = error as StepFailedError;
    expect(failed.failureReason).toContain("ModelDidNotConverge: loss is NaN");
    expect(failed.originalError?.name).toBe("ModelDidNotConverge");
    expect(failed.originalError?.message).toBe("loss is NaN");
    expect(failed.originalError?.stack).toContain("explode");

    const names = (await execution.listSteps()).map((s) => s.StepName);
    expect(names).not.toContain(getStep(d).name);
    await expect(execution.result(getStep(d).name)).rejects.toThrow(/never ran/);
    await expect(execution.result("no-such-step")).rejects.toBeInstanceOf(UnknownStepError);
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("names its steps from the pipeline alone, however often the process built it and others", async ({ ctx }) => {
    // This file's tests called constant() and add() many times before: the names do not count them.
    const build = (): Pipeline => new Pipeline({ name: "rebuilt", steps: [add(constant(20), constant(22))], session: ctx.session });
    const definition = build().definition();
    const rebuilt = build();
    expect(rebuilt.definition()).toBe(definition);
    const execution = await rebuilt.start();
    expect(await execution.result("add")).toBe(42);
    expect(await execution.result("constant-2")).toBe(22);
  });

  it("fails a step whose argument selects what its upstream's output lacks, before its container, with one prefix", async ({ ctx }) => {
    const execution = await new Pipeline({ name: "missing-key", steps: [add(constant(1).get("missing") as never, 1)], session: ctx.session }).start();
    const error = (await execution.result("add").catch((e: unknown) => e)) as StepFailedError;
    expect(error).toBeInstanceOf(StepFailedError);
    expect(error.failureReason).toMatch(/^ClientError: the output of step "constant" has no "missing" at constant\.missing\n/);
    expect(error.originalError?.name).toBe("StepboxError");
    expect(error.originalError?.code).toBe("INVALID_ARGUMENT");
    expect((await execution.wait()).FailureReason).toMatch(/^Step 'add' failed with message: ClientError: the output/);
  });

  it("replaces DelayedReturns nested in objects and arrays", async ({ ctx }) => {
    const m = metrics();
    const s = summarize({ metrics: m.get("metrics"), extra: [m.get("n"), 1] } as never);
    const execution = await new Pipeline({ name: "nested", steps: [s], session: ctx.session }).start();
    expect(await execution.result("summarize")).toBe("acc=0.93 extra=7,1");
  });

  it("round-trips Date, Map, BigInt, Buffer and friends through a container", async ({ ctx }) => {
    const when = new Date("2026-01-02T03:04:05.000Z");
    const r = rich({ when, table: new Map([["a", 1]]), big: 2n ** 70n, bytes: Buffer.from([1, 2]) });
    const execution = await new Pipeline({ name: "rich", steps: [r], session: ctx.session }).start();
    const value = (await execution.result("rich")) as Record<string, unknown>;
    expect(value.when).toEqual(new Date("2026-01-02T03:04:06.000Z"));
    expect(value.table).toEqual(new Map([["a", 2]]));
    expect(value.big).toBe(2n ** 71n);
    expect(Buffer.isBuffer(value.bytes) || value.bytes instanceof Uint8Array).toBe(true);
    expect([...(value.bytes as Uint8Array)]).toEqual([1, 2, 255]);
    expect(value.set).toEqual(new Set([1, 2, 3]));
    expect(Number.isNaN((value.floats as Float64Array)[1])).toBe(true);
    expect("nothing" in value && value.nothing === undefined).toBe(true);
  });

  it("streams each container's output with the step name and keeps it in the store", async ({ ctx }) => {
    const execution = await new Pipeline({ name: "logs", steps: [printer(3)], session: ctx.session }).start();
    await execution.wait();
    const mine = ctx.lines.filter((l) => l.step === "printer");
    expect(mine.filter((l) => l.stream === "stdout").map((l) => l.line)).toEqual(["line 1", "line 2", "line 3"]);
    expect(mine.some((l) => l.stream === "stderr" && l.line === "to stderr")).toBe(true);
    const [stepInfo] = await execution.listSteps();
    const stream = stepInfo!.Metadata.TrainingJob!.LogStreams![0]!;
    expect(stream).toMatch(new RegExp(`^printer-${execution.id}/algo-1-\\d+$`));
    const kept = await readFile(join(ctx.root, "logs", execution.id, "printer", "logs", `${stream}.log`), "utf8");
    expect(kept).toContain("line 3");
  });

  it("fails a step whose result cannot be serialized, naming the path", async ({ ctx }) => {
    const execution = await new Pipeline({ name: "unserializable", steps: [returnsFunction()], session: ctx.session }).start();
    const error = (await execution.result("returnsFunction").catch((e: unknown) => e)) as StepFailedError;
    expect(error).toBeInstanceOf(StepFailedError);
    expect(error.failureReason).toMatch(/result\.model\.predict/);
  });

  it("refuses a result whose payload was altered in the store", async ({ ctx }) => {
    const output = constant({ secret: "value" });
    const pipeline = new Pipeline({ name: "tamper", steps: [output], session: ctx.session });
    const execution = await pipeline.start();
    await execution.wait();
    const payload = join(ctx.root, "tamper", execution.id, getStep(output).name, "results", "payload.bin");
    const bytes = await readFile(payload);
    bytes[bytes.length - 2]! ^= 0xff;
    await writeFile(payload, bytes);

    // A second process: a new session on the same store, with the same secret.
    const reader = new Pipeline({
      name: "tamper",
      steps: [constant(0)],
      session: new LocalPipelineSession({ artifactRoot: ctx.root, secret: "test-secret" }),
    });
    const recorded = await reader.execution(execution.id);
    await expect(recorded.result(getStep(output).name)).rejects.toBeInstanceOf(IntegrityError);
  });

  it("reads executions and results from another session on the same store", async ({ ctx }) => {
    const output = constant("hello");
    const pipeline = new Pipeline({ name: "shared", steps: [output], session: ctx.session });
    const execution = await pipeline.start();
    await execution.wait();
    const other = new Pipeline({
      name: "shared",
      steps: [constant(0)],
      session: new LocalPipelineSession({ artifactRoot: ctx.root, secret: "test-secret" }),
    });
    const { PipelineExecutionSummaries } = await other.listExecutions();
    expect(PipelineExecutionSummaries.map((e) => e.PipelineExecutionArn)).toContain(execution.arn);
    expect(await (await other.execution(execution.id)).result(getStep(output).name)).toBe("hello");
  });
});

describe("checks before anything runs", () => {
  it("refuses a cycle, naming its steps, with no execution and no container", async ({ ctx }) => {
    const a = constant(1);
    const b = add(a, 1);
    getStep(a).addDependsOn([b]);
    const pipeline = new Pipeline({ name: "cyclic", steps: [b], session: ctx.session });
    const before = await leftoverContainers();
    const error = await pipeline.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CycleError);
    expect((error as CycleError).cycle).toContain(getStep(a).name);
    expect((error as CycleError).cycle).toContain(getStep(b).name);
    expect((error as CycleError).message).toMatch(/form a cycle: .+ -> .+ -> .+/);
    expect((await pipeline.listExecutions()).PipelineExecutionSummaries).toEqual([]);
    expect(await leftoverContainers()).toEqual(before);
  });

  it("refuses two different steps with the same name", async ({ ctx }) => {
    const first = step(function score() {
      return 1;
    });
    const second = step(
      function other() {
        return 2;
      },
      { name: "score" },
    );
    const pipeline = new Pipeline({ name: "duplicate", steps: [add(first(), second())], session: ctx.session });
    const error = await pipeline.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateStepNameError);
    expect((error as Error).message).toContain('"score"');
    expect((await pipeline.listExecutions()).PipelineExecutionSummaries).toEqual([]);
  });

  it("refuses anonymous functions and unknown options with a hint", () => {
    expect(() => step(() => 1)).toThrow(/anonymous function[\s\S]*hint: name the function/);
    expect(() => step(function f() {}, { instanceTyp: "ml.m5.large" } as never)).toThrow(/unknown option "instanceTyp"[\s\S]*did you mean "instanceType"/);
  });

  it("refuses an unknown instance type when the step is defined, listing near matches", () => {
    expect(() => step(function big() {}, { instanceType: "ml.m5.larg" })).toThrow(/step\(big\): unknown instance type "ml.m5.larg"[\s\S]*ml\.m5\.large/);
    expect(() => step(function small() {}, { local: { cpus: 0 } })).toThrow(/step\(small\): local.cpus must be a number > 0, got 0/);
  });
});
