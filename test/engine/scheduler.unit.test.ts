/**
 * The scheduler, retries, caching, conditions and failure propagation, through the real Pipeline,
 * ExecutionRun and function-step executor, with the steps run in this process by the in-process
 * runtime (a second implementation of the runtime port) instead of in Docker containers.
 */
import { join } from "node:path";
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { ConditionGreaterThanOrEqualTo, ConditionStep, FailStep, LocalPipelineSession, Pipeline, StepFailedError, ValidationError, getStep } from "stepbox";
import { readJobRecord } from "../../src/store/job-records.js";
import {
  add,
  alert,
  boom,
  cached,
  capacityBackoff,
  capacityExpiring,
  capacityRetried,
  flakyOtherPolicy,
  flakyRetried,
  hang,
  meet,
  register,
  score,
} from "../fixtures/scheduler-steps.js";
import { InProcessRuntime, inProcessSession } from "../support/in-process-runtime.js";

/** A session of its own on the shared temp store, with a fresh in-process runtime. */
const inProcess = (root: string, runtime?: InProcessRuntime) => inProcessSession(root, runtime);

const stepNamesRun = (runtime: InProcessRuntime): string[] => runtime.jobs.map((j) => j.stepName);

describe("a session given a runtime", () => {
  it("refuses a runtime that is not a StepRuntime, naming what it lacks", () => {
    expect(() => new LocalPipelineSession({ runtime: { run: () => undefined } as never })).toThrow(ValidationError);
    expect(() => new LocalPipelineSession({ runtime: { run: () => undefined } as never })).toThrow(
      /runtime must be a StepRuntime, but it has no prepare, drain method/,
    );
  });

  it("refuses a base image, which only the Docker runtime uses", () => {
    expect(() => new LocalPipelineSession({ runtime: new InProcessRuntime(), baseImage: "node:20" })).toThrow(/leave out either baseImage or runtime/);
  });

  it("starts without Docker: no engine, no runtime image", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const started = await session.runtime();
    expect(started).toMatchObject({ stepRuntime: runtime, image: "in-process", imageId: "in-process" });
  });

  it("runs a step on it, records its job without any key, and stores its logs", async ({ tempDir: root }) => {
    const { session, runtime, lines } = inProcess(root);
    const sum = add(2, 3);
    const execution = await new Pipeline({ name: "given-runtime", steps: [sum], session }).start();
    expect(await execution.result(getStep(sum).name)).toBe(5);
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    expect(lines).toContainEqual({ step: "add", stream: "stdout", line: "adding 2 and 3" });
    const job = runtime.jobs[0]!;
    expect(Object.keys(job)).not.toContain("secretKeyHex");
    const record = await readJobRecord(session.store, "given-runtime", execution.id, "add");
    expect(record).toMatchObject({ stepName: "add", jobName: job.jobName, image: "in-process", definitionKey: getStep(sum).definition.key, instanceCount: 1 });
    const [s] = await execution.listSteps();
    expect(s!.Metadata.TrainingJob?.LogStreams).toHaveLength(1);
    const log = await session.store.get(`given-runtime/${execution.id}/add/logs/${s!.Metadata.TrainingJob!.LogStreams![0]}.log`);
    expect(log.toString("utf8")).toBe("adding 2 and 3\n");
  });
});

describe("scheduling", () => {
  it("runs independent steps together and honours the parallelism limit", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    // Each step waits until a second one runs beside it: run one at a time, they would never finish.
    const group = `pairs-${Date.now()}`;
    const outputs = [meet(group, 2), meet(group, 2), meet(group, 2), meet(group, 2)];
    const execution = await new Pipeline({ name: "parallel", steps: outputs, session }).start({ parallelism: 2 });
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    expect(runtime.jobs).toHaveLength(4);
    expect(runtime.peakRunning).toBe(2);
  });

  it("starts a step only after the steps it depends on, with their outputs", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const first = add(1, 2);
    const second = add(first, 10);
    const third = add(second, first);
    const pipeline = new Pipeline({ name: "chain", steps: [third], session });
    const execution = await pipeline.start({ parallelism: 4 });
    expect(await execution.result(pipeline.stepName(third))).toBe(16);
    expect(stepNamesRun(runtime)).toEqual(["add", "add-2", "add-3"]);
    const steps = new Map((await execution.listSteps()).map((s) => [s.StepName, s]));
    expect(steps.get("add-2")!.StartTime!.getTime()).toBeGreaterThanOrEqual(steps.get("add")!.EndTime!.getTime());
    expect(steps.get("add-3")!.StartTime!.getTime()).toBeGreaterThanOrEqual(steps.get("add-2")!.EndTime!.getTime());
  });
});

describe("retries", () => {
  it("retries a step's own error per its policy, waiting the backoff between attempts", async ({ tempDir: root }) => {
    const { session } = inProcess(root);
    const output = flakyRetried(join(root, "flaky-counter"), 3);
    const execution = await new Pipeline({ name: "flaky", steps: [output], session }).start();
    expect(await execution.result("flaky")).toBe(3);
    const [s] = await execution.listSteps();
    expect(s!.AttemptCount).toBe(3);
    const attempts = s!.Attempts!;
    expect(attempts.map((a) => a.StepStatus)).toEqual(["Failed", "Failed", "Succeeded"]);
    expect(attempts[0]!.FailureReason).toBe("FlakyError: attempt 1 lost its connection");
    expect(new Set(attempts.flatMap((a) => a.LogStreams)).size).toBe(3);
    // intervalSeconds 0.05, backoffRate 2: 50 ms before the second attempt, 100 ms before the third.
    // The records keep whole milliseconds, and a timer may fire within a millisecond of Date's count: 1 ms of slack.
    const gap = (i: number): number => Date.parse(attempts[i]!.StartTime) - Date.parse(attempts[i - 1]!.EndTime!);
    expect(gap(1)).toBeGreaterThanOrEqual(49);
    expect(gap(2)).toBeGreaterThanOrEqual(99);
  });

  it("gives up after maxAttempts with the last attempt's reason", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const output = flakyRetried(join(root, "exhausted-counter"), 10);
    const execution = await new Pipeline({ name: "exhausted", steps: [output], session }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    const [s] = await execution.listSteps();
    expect(s!.AttemptCount).toBe(3);
    expect(s!.FailureReason).toBe("FlakyError: attempt 3 lost its connection");
    expect(runtime.jobs.map((j) => j.jobName)).toEqual([`flaky-${execution.id}`, `flaky-${execution.id}-2`, `flaky-${execution.id}-3`]);
  });

  it("does not retry an error its policies do not name", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const output = flakyOtherPolicy(join(root, "other-counter"), 2);
    const execution = await new Pipeline({ name: "not-retried", steps: [output], session }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    expect(runtime.jobs).toHaveLength(1);
  });
});

describe("capacity errors", () => {
  const pipelineOn = (root: string, runtime: InProcessRuntime, name: string): Pipeline =>
    new Pipeline({ name, steps: [capacityRetried()], session: inProcessSession(root, runtime).session });

  it("retries a job the runtime refused, under a policy for CAPACITY_ERROR", async ({ tempDir: root }) => {
    const runtime = new InProcessRuntime({ refuse: 2 });
    const execution = await pipelineOn(root, runtime, "capacity").start();
    expect(await execution.result("roomy")).toBe("ran");
    const [s] = await execution.listSteps();
    expect(s!.Attempts!.map((a) => a.StepStatus)).toEqual(["Failed", "Failed", "Succeeded"]);
    expect(s!.Attempts![0]!.FailureReason).toMatch(/^InternalServerError: the in-process runtime refused to start job roomy-/);
  });

  it("waits the policy's backoff between attempts, each attempt a job of its own name", async ({ tempDir: root }) => {
    const runtime = new InProcessRuntime({ refuse: 2 });
    const session = inProcessSession(root, runtime).session;
    const execution = await new Pipeline({ name: "capacity-backoff", steps: [capacityBackoff()], session }).start();
    expect(await execution.result("roomy-backoff")).toBe("ran");
    const [s] = await execution.listSteps();
    const attempts = s!.Attempts!;
    expect(attempts.map((a) => a.TrainingJobName)).toEqual([
      `roomy-backoff-${execution.id}`,
      `roomy-backoff-${execution.id}-2`,
      `roomy-backoff-${execution.id}-3`,
    ]);
    expect(runtime.jobs.map((j) => j.jobName)).toEqual([`roomy-backoff-${execution.id}-3`]);
    expect(s!.Metadata.TrainingJob?.TrainingJobName).toBe(`roomy-backoff-${execution.id}-3`);
    // intervalSeconds 0.1, backoffRate 3: 100 ms before the second attempt, 300 ms before the third.
    const gap = (i: number): number => Date.parse(attempts[i]!.StartTime) - Date.parse(attempts[i - 1]!.EndTime);
    expect(gap(1)).toBeGreaterThanOrEqual(100);
    expect(gap(2)).toBeGreaterThanOrEqual(300);
  });

  it("stops retrying once expireAfterMins would pass before the next attempt", async ({ tempDir: root }) => {
    const runtime = new InProcessRuntime({ refuse: 100 });
    const session = inProcessSession(root, runtime).session;
    const execution = await new Pipeline({ name: "capacity-expiring", steps: [capacityExpiring()], session }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    const [s] = await execution.listSteps();
    expect(s!.Attempts!.map((a) => a.StepStatus)).toEqual(["Failed", "Failed"]);
    expect(s!.FailureReason).toMatch(/^InternalServerError: the in-process runtime refused to start job roomy-expiring-\w+-2:/);
    expect(runtime.jobs).toHaveLength(0);
  });

  it("gives up once the policy's attempts are used", async ({ tempDir: root }) => {
    const runtime = new InProcessRuntime({ refuse: 3 });
    const execution = await pipelineOn(root, runtime, "no-capacity").start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    expect(runtime.jobs).toHaveLength(0);
    const [s] = await execution.listSteps();
    expect(s!.AttemptCount).toBe(3);
  });
});

describe("caching", () => {
  it("takes a second run's result from the first, without running the step", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const pipeline = new Pipeline({ name: "cached", steps: [cached(21)], session });
    const first = await pipeline.start();
    const original = (await first.result("cached")) as { value: number; nonce: number };
    const second = await pipeline.start();
    expect(await second.result("cached")).toEqual(original);
    expect(runtime.jobs).toHaveLength(1);
    const [s] = await second.listSteps();
    expect(s!.CacheHitResult).toEqual({ SourcePipelineExecutionArn: (await first.describe()).PipelineExecutionArn });
  });
});

describe("conditions and fail steps", () => {
  const build = (session: LocalPipelineSession, accuracy: number) => {
    const model = score(accuracy);
    const registered = register(model);
    const alerted = alert(model);
    const fail = new FailStep({ name: "too-weak", errorMessage: "accuracy is too low", dependsOn: [alerted] });
    const check = new ConditionStep({
      name: "good-enough",
      conditions: [new ConditionGreaterThanOrEqualTo({ left: model.get("accuracy"), right: 0.9 })],
      ifSteps: [registered],
      elseSteps: [alerted, fail],
    });
    return new Pipeline({ name: `condition-${String(accuracy).replace(".", "-")}`, steps: [check], session });
  };

  it("runs the if branch and never the else branch", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const execution = await build(session, 0.95).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    expect(stepNamesRun(runtime)).toEqual(["score", "register"]);
    const steps = await execution.listSteps();
    expect(steps.map((s) => s.StepName).sort()).toEqual(["good-enough", "register", "score"]);
    expect(steps.find((s) => s.StepName === "good-enough")!.Metadata.Condition).toEqual({ Outcome: "True" });
    await expect(execution.result("alert")).rejects.toThrow(/step "alert" never ran: the execution ended/);
  });

  it("runs the else branch, whose FailStep fails the execution with its message", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const execution = await build(session, 0.5).start();
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Failed");
    expect(described.FailureReason).toBe("Step 'too-weak' failed with message: accuracy is too low");
    expect(stepNamesRun(runtime)).toEqual(["score", "alert"]);
    expect(await execution.result("alert")).toBe("alerted 0.5");
    const steps = await execution.listSteps();
    expect(steps.find((s) => s.StepName === "too-weak")).toMatchObject({ StepStatus: "Failed", Metadata: { Fail: { ErrorMessage: "accuracy is too low" } } });
  });
});

describe("failure propagation", () => {
  it("never starts what depends on a failed step, and fails the execution with its reason", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const broken = boom("the data is bad");
    const after = add(broken as never, 1);
    const execution = await new Pipeline({ name: "failing", steps: [after], session }).start();
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Failed");
    expect(described.FailureReason).toBe("Step 'boom' failed with message: RangeError: the data is bad");
    expect(stepNamesRun(runtime)).toEqual(["boom"]);
    const steps = await execution.listSteps();
    expect(steps.map((s) => s.StepName)).toEqual(["boom"]);
    expect(steps[0]!.StepStatus).toBe("Failed");
    const thrown = await execution.result("boom").catch((error: unknown) => error);
    expect(thrown).toBeInstanceOf(StepFailedError);
    expect((thrown as StepFailedError).originalError).toMatchObject({ name: "RangeError", message: "the data is bad" });
    await expect(execution.result("add")).rejects.toThrow(/never ran: the execution ended Failed/);
  });
});

describe("retry and selective execution", () => {
  /** add, then a step that fails its first run, then add-2 on its output. */
  const build = (root: string, session: LocalPipelineSession, name: string) => {
    const first = add(1, 2);
    const flaky = flakyOtherPolicy(join(root, `${name}-counter`), 2);
    getStep(flaky).addDependsOn([first]);
    return new Pipeline({ name, steps: [add(flaky, 1)], session });
  };

  it("retries a failed execution: takes what succeeded, runs the rest", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const pipeline = build(root, session, "retried");
    const failed = await pipeline.start();
    expect((await failed.wait()).PipelineExecutionStatus).toBe("Failed");
    const retry = await pipeline.retryExecution(failed.id);
    expect(await retry.result("add-2")).toBe(3);
    expect(stepNamesRun(runtime)).toEqual(["add", "flaky-other", "flaky-other", "add-2"]);
    const described = await retry.describe();
    expect(described.SelectiveExecutionConfig).toEqual({
      SourcePipelineExecutionArn: (await failed.describe()).PipelineExecutionArn,
      SelectedSteps: [{ StepName: "flaky-other" }, { StepName: "add-2" }],
    });
    const steps = new Map((await retry.listSteps()).map((s) => [s.StepName, s]));
    expect(steps.get("add")!.SelectiveExecutionResult).toEqual({ SourcePipelineExecutionArn: (await failed.describe()).PipelineExecutionArn });
  });

  it("refuses a selective execution whose selected steps need a result the source lacks, naming the step to add", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const pipeline = build(root, session, "selective");
    const failed = await pipeline.start();
    await failed.wait();
    await expect(pipeline.start({ selectiveExecution: { sourceExecutionId: failed.id, steps: ["add-2"] } })).rejects.toThrow(
      /step "flaky-other" is not selected, and execution \w+ has no result of it[\s\S]*select it too: steps: \["add-2", "flaky-other"\]/,
    );
    const selective = await pipeline.start({ selectiveExecution: { sourceExecutionId: failed.id, steps: ["flaky-other", "add-2"] } });
    expect(await selective.result("add-2")).toBe(3);
    expect(stepNamesRun(runtime)).toEqual(["add", "flaky-other", "flaky-other", "add-2"]);
  });
});

describe("stop()", () => {
  it("stops the running step, starts nothing after it, and ends the execution Stopped", async ({ tempDir: root }) => {
    const { session, runtime } = inProcess(root);
    const hung = hang();
    const after = add(hung as never, 1);
    const execution = await new Pipeline({ name: "stopped", steps: [after], session }).start();
    await runtime.started("hang");
    await execution.stop();
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Stopped");
    const steps = await execution.listSteps();
    expect(steps.map((s) => [s.StepName, s.StepStatus])).toEqual([["hang", "Stopped"]]);
    expect(steps[0]!.FailureReason).toBe('Stopped: the execution was stopped while step "hang" ran');
    expect(stepNamesRun(runtime)).toEqual(["hang"]);
  });
});
