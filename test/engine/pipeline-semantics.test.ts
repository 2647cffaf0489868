import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConditionGreaterThanOrEqualTo,
  ConditionStep,
  ExecutionVariables,
  FailStep,
  Join,
  ParallelismConfiguration,
  ParameterBoolean,
  ParameterFloat,
  ParameterInteger,
  ParameterString,
  Pipeline,
  ValidationError,
  getStep,
} from "stepbox";
import {
  alert,
  alwaysFailsRetried,
  cachedCostly,
  describeArgs,
  expiringCostly,
  failsOtherwiseRetried,
  flakyRetried,
  gated,
  increment,
  pause,
  register,
  score,
} from "../fixtures/semantics-steps.js";
import { leftoverContainers, testSession } from "../support/session.js";

let ctx: Awaited<ReturnType<typeof testSession>>;
const generated = join(import.meta.dirname, "..", "fixtures", "generated");

beforeAll(async () => {
  ctx = await testSession();
  await mkdir(join(generated, "gate"), { recursive: true });
});

afterAll(async () => {
  await ctx.cleanup();
  await rm(generated, { recursive: true, force: true });
});

const linesOf = (step: string): string[] => ctx.lines.filter((l) => l.step === step).map((l) => l.line);

describe("parameters", () => {
  const name = new ParameterString({ name: "model-name", defaultValue: "churn" });
  const epochs = new ParameterInteger({ name: "epochs" });
  const rate = new ParameterFloat({ name: "learning-rate", defaultValue: 0.1 });
  const shuffle = new ParameterBoolean({ name: "shuffle", defaultValue: false });
  const output = describeArgs(
    name,
    epochs,
    rate,
    shuffle,
    { nested: [epochs] } as never,
    ExecutionVariables.PIPELINE_EXECUTION_ID,
    ExecutionVariables.START_DATETIME,
  );
  const pipeline = (): Pipeline => new Pipeline({ name: "parameters", steps: [output], parameters: [name, epochs, rate, shuffle], session: ctx.session });

  it("reach the function as real JS values, defaults filled in", async () => {
    const execution = await pipeline().start({ parameters: { epochs: 20, shuffle: true } });
    const seen = (await execution.result(getStep(output).name)) as Array<{ type: string; value: unknown }>;
    // The next tests compare the engine's containers before and after: this one's must be gone first.
    await execution.wait();
    expect(seen.slice(0, 5)).toEqual([
      { type: "string", value: "churn" },
      { type: "number", value: 20 },
      { type: "number", value: 0.1 },
      { type: "boolean", value: true },
      { type: "object", value: { nested: [20] } },
    ]);
    expect(seen[5]).toEqual({ type: "string", value: execution.id });
    expect(seen[6]!.type).toBe("Date");
    expect((await execution.listParameters()).PipelineParameters).toEqual([
      { Name: "model-name", Value: "churn" },
      { Name: "epochs", Value: "20" },
      { Name: "learning-rate", Value: "0.1" },
      { Name: "shuffle", Value: "true" },
    ]);
  });

  it.each([
    [{ epochs: 1, batch: 3 }, /has no parameter "batch"/],
    [{}, /parameter "epochs" has no value and no default/],
    [{ epochs: "10" }, /parameter "epochs" \(Integer\) must be an integer/],
    [{ epochs: 1.5 }, /parameter "epochs" \(Integer\) must be an integer/],
    [{ epochs: 1, shuffle: "yes" }, /parameter "shuffle" \(Boolean\) must be true or false/],
    [{ epochs: 1, "model-name": "" }, /must not be empty/],
  ])("refuses %j before anything runs", async (parameters, message) => {
    const p = pipeline();
    const before = await leftoverContainers();
    const recorded = (await p.listExecutions()).PipelineExecutionSummaries.length;
    const error = await p.start({ parameters }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(message);
    expect((await p.listExecutions()).PipelineExecutionSummaries).toHaveLength(recorded);
    expect(await leftoverContainers()).toEqual(before);
  });
});

describe("conditions and fail steps", () => {
  const threshold = new ParameterFloat({ name: "threshold", defaultValue: 0.9 });
  const build = (accuracy: number) => {
    const model = score(accuracy);
    const registered = register(model);
    const alerted = alert(model);
    const fail = new FailStep({ name: "too-weak", errorMessage: new Join({ on: " ", values: ["accuracy is below", threshold] }), dependsOn: [alerted] });
    const check = new ConditionStep({
      name: "good-enough",
      conditions: [new ConditionGreaterThanOrEqualTo({ left: model.get("accuracy"), right: threshold })],
      ifSteps: [registered],
      elseSteps: [alerted, fail],
    });
    return { pipeline: new Pipeline({ name: "condition", steps: [check], parameters: [threshold], session: ctx.session }), registered, alerted };
  };

  it("takes the if branch and never runs the else branch", async () => {
    const { pipeline, registered, alerted } = build(0.95);
    const execution = await pipeline.start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    const steps = await execution.listSteps();
    const names = steps.map((s) => s.StepName);
    expect(names).toContain(getStep(registered).name);
    expect(names).not.toContain(getStep(alerted).name);
    expect(names).not.toContain("too-weak");
    expect(steps.find((s) => s.StepName === "good-enough")!.Metadata.Condition).toEqual({ Outcome: "True" });
    expect(await execution.result(getStep(registered).name)).toBe("registered a model with accuracy 0.95");
  });

  it("takes the else branch, whose FailStep fails the execution with a message built from a parameter", async () => {
    const { pipeline, registered, alerted } = build(0.5);
    const execution = await pipeline.start({ parameters: { threshold: 0.75 } });
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Failed");
    expect(described.FailureReason).toBe("Step 'too-weak' failed with message: accuracy is below 0.75");
    const steps = await execution.listSteps();
    expect(steps.map((s) => s.StepName)).not.toContain(getStep(registered).name);
    expect(steps.find((s) => s.StepName === "good-enough")!.Metadata.Condition).toEqual({ Outcome: "False" });
    expect(steps.find((s) => s.StepName === "too-weak")!.Metadata.Fail).toEqual({ ErrorMessage: "accuracy is below 0.75" });
    expect(await execution.result(getStep(alerted).name)).toBe("alerted: accuracy 0.5 is too low");
  });
});

describe("retries", () => {
  it("retries a flaky step on its own error name until it succeeds, each attempt with its own logs", async () => {
    const output = flakyRetried();
    const execution = await new Pipeline({ name: "flaky", steps: [output], session: ctx.session }).start();
    expect(await execution.result(getStep(output).name)).toBe(3);
    const [s] = await execution.listSteps();
    expect(s!.AttemptCount).toBe(3);
    expect(s!.Attempts!.map((a) => a.StepStatus)).toEqual(["Failed", "Failed", "Succeeded"]);
    const streams = s!.Attempts!.flatMap((a) => a.LogStreams);
    expect(new Set(streams).size).toBe(3);
    for (const [i, stream] of streams.entries()) {
      const log = await readFile(join(ctx.root, "flaky", execution.id, getStep(output).name, "logs", `${stream}.log`), "utf8");
      expect(log).toContain(`attempt ${i + 1}`);
    }
  });

  it("gives up at maxAttempts and keeps the last attempt's reason", async () => {
    const output = alwaysFailsRetried();
    const execution = await new Pipeline({ name: "exhausted", steps: [output], session: ctx.session }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    const [s] = await execution.listSteps();
    expect(s!.StepStatus).toBe("Failed");
    expect(s!.AttemptCount).toBe(3);
    expect(s!.FailureReason).toBe("FlakyError: the service is down");
  });

  it("does not retry an error the policy does not name", async () => {
    const output = failsOtherwiseRetried();
    const execution = await new Pipeline({ name: "not-retried", steps: [output], session: ctx.session }).start();
    await execution.wait();
    const [s] = await execution.listSteps();
    expect(s!.AttemptCount).toBe(1);
    expect(s!.FailureReason).toBe("TypeError: a bug, not a flake");
  });
});

describe("caching", () => {
  it("reuses a cached result without a container, and says why it misses after an argument changes", async () => {
    const x = new ParameterInteger({ name: "x" });
    const output = cachedCostly(x);
    const pipeline = new Pipeline({ name: "cache", steps: [output], parameters: [x], session: ctx.session });
    const name = getStep(output).name;

    const run1 = await pipeline.start({ parameters: { x: 21 } });
    const value1 = (await run1.result(name)) as { value: number; nonce: number };
    expect(value1.value).toBe(42);
    expect((await run1.listSteps())[0]!.CacheMissReason).toMatch(/no earlier run/);

    const linesBefore = linesOf(name).length;
    const run2 = await pipeline.start({ parameters: { x: 21 } });
    expect(await run2.result(name)).toEqual(value1);
    const [hit] = await run2.listSteps();
    expect(hit!.CacheHitResult).toEqual({ SourcePipelineExecutionArn: run1.arn });
    expect(hit!.Metadata.TrainingJob?.TrainingJobName).toBe(`${name}-${run1.id}`);
    expect(linesOf(name).length).toBe(linesBefore);

    const run3 = await pipeline.start({ parameters: { x: 22 } });
    expect(((await run3.result(name)) as { value: number }).value).toBe(44);
    const [miss] = await run3.listSteps();
    expect(miss!.CacheHitResult).toBeUndefined();
    expect(miss!.CacheMissReason).toBe(`changed since execution ${run1.id}: its arguments`);
  });

  it("misses after the step's code changes, naming the code", async () => {
    await mkdir(generated, { recursive: true });
    const file = join(generated, "changing-step.ts");
    const source = (body: string): string =>
      `import { step } from "stepbox";\nexport const changing = step(function changing(x: number) { return ${body}; }, { cacheConfig: { enableCaching: true } });\n`;
    await writeFile(file, source("x + 1"));
    const { changing } = (await import(file)) as { changing: (x: number) => never };
    const output = changing(1);
    const pipeline = new Pipeline({ name: "code-change", steps: [output], session: ctx.session });
    const run1 = await pipeline.start();
    expect(await run1.result(getStep(output).name)).toBe(2);
    // A later mtime makes the bundler read the module again.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeFile(file, source("x + 100"));
    const run2 = await pipeline.start();
    expect(await run2.result(getStep(output).name)).toBe(101);
    expect((await run2.listSteps())[0]!.CacheMissReason).toBe(`changed since execution ${run1.id}: the step's code`);
  });

  it("honours expireAfter", async () => {
    const output = expiringCostly(5);
    const pipeline = new Pipeline({ name: "expiry", steps: [output], session: ctx.session });
    const run1 = await pipeline.start();
    await run1.wait();
    const run2 = await pipeline.start();
    await run2.wait();
    expect((await run2.listSteps())[0]!.CacheHitResult).toEqual({ SourcePipelineExecutionArn: run1.arn });
    // Expiry is about time: wait until the cached entry is older than expireAfter (PT10S), by its own clock.
    const entry = JSON.parse(await readFile(join(ctx.root, "expiry", ".cache", "expiring", "latest.json"), "utf8")) as { CreationTime: string };
    const expiresAt = new Date(entry.CreationTime).getTime() + 10_000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 100));
    const run3 = await pipeline.start();
    await run3.wait();
    const [s] = await run3.listSteps();
    expect(s!.CacheHitResult).toBeUndefined();
    expect(s!.CacheMissReason).toMatch(/expired/);
  });
});

describe("resume and selective execution", () => {
  const chain = () => {
    const a = increment(1);
    const b = gated(a);
    const c = increment(b);
    return { a, b, c, pipeline: new Pipeline({ name: "resume", steps: [c], session: ctx.session }) };
  };

  it("retries a failed execution, rerunning only the failed and downstream steps", async () => {
    await writeFile(join(generated, "gate", "state"), "closed");
    const { a, b, c, pipeline } = chain();
    const failed = await pipeline.start();
    expect((await failed.wait()).PipelineExecutionStatus).toBe("Failed");
    const aLines = linesOf(pipeline.stepName(a)).length;

    await writeFile(join(generated, "gate", "state"), "open");
    const retried = await failed.retry();
    expect((await retried.wait()).PipelineExecutionStatus).toBe("Succeeded");
    expect(await retried.result(pipeline.stepName(c))).toBe(4);
    const steps = await retried.listSteps();
    expect(steps.find((s) => s.StepName === pipeline.stepName(a))!.SelectiveExecutionResult).toEqual({ SourcePipelineExecutionArn: failed.arn });
    expect(steps.find((s) => s.StepName === pipeline.stepName(b))!.SelectiveExecutionResult).toBeUndefined();
    expect(linesOf(pipeline.stepName(a)).length).toBe(aLines);
  });

  it("runs only the selected steps and takes the others from the source execution", async () => {
    await writeFile(join(generated, "gate", "state"), "open");
    const { a, b, c, pipeline } = chain();
    const source = await pipeline.start();
    expect((await source.wait()).PipelineExecutionStatus).toBe("Succeeded");
    const selective = await pipeline.start({ selectiveExecution: { sourceExecutionId: source.id, steps: [pipeline.stepName(c)] } });
    expect((await selective.wait()).PipelineExecutionStatus).toBe("Succeeded");
    expect(await selective.result(pipeline.stepName(c))).toBe(4);
    const steps = await selective.listSteps();
    for (const reused of [a, b]) {
      expect(steps.find((s) => s.StepName === pipeline.stepName(reused))!.SelectiveExecutionResult).toEqual({ SourcePipelineExecutionArn: source.arn });
    }
    expect((await selective.describe()).SelectiveExecutionConfig?.SelectedSteps).toEqual([{ StepName: pipeline.stepName(c) }]);
  });
});

describe("parallelism", () => {
  it("honours a pipeline-level ParallelismConfiguration", async () => {
    const x = pause(800);
    const y = pause(800);
    const pipeline = new Pipeline({ name: "serial", steps: [x, y], parallelismConfiguration: new ParallelismConfiguration(1), session: ctx.session });
    const execution = await pipeline.start();
    const [rx, ry] = (await Promise.all([execution.result(pipeline.stepName(x)), execution.result(pipeline.stepName(y))])) as Array<{
      start: number;
      end: number;
    }>;
    expect(rx!.end <= ry!.start || ry!.end <= rx!.start).toBe(true);
    expect((await execution.wait()).ParallelismConfiguration).toEqual({ MaxParallelExecutionSteps: 1 });
  });
});
