/**
 * Every part of a step's cache key changes it: a run after a change misses, and its CacheMissReason
 * names what changed. Through the real engine on the in-process runtime; the image, which that runtime
 * cannot change, through cacheKeyParts itself.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DelayedReturn, Pipeline } from "stepbox";
import { stepResources } from "../../src/engine/step-resources.js";
import { trainingJob } from "../../src/engine/training-job.js";
import { cacheKey, cacheKeyParts } from "../../src/engine/step-cache.js";
import {
  base,
  otherEnvironment,
  otherHyperparameters,
  otherInstanceType,
  otherMaxRuntime,
  otherVolumeSize,
  sameAsBase,
  withNetwork,
} from "../fixtures/cache-key-steps.js";
import { inProcessSession } from "../support/in-process-runtime.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "stepbox-cache-key-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** Runs `base` then `changed` as the same step of one pipeline, and says how the second run used the cache. */
async function secondRun(name: string, changed: () => DelayedReturn) {
  const session = inProcessSession(root).session;
  const first = await new Pipeline({ name, steps: [base()], session }).start();
  expect((await first.wait()).PipelineExecutionStatus).toBe("Succeeded");
  const second = await new Pipeline({ name, steps: [changed()], session }).start();
  expect((await second.wait()).PipelineExecutionStatus).toBe("Succeeded");
  const [s] = await second.listSteps();
  return { firstId: first.id, hit: s!.CacheHitResult, reason: s!.CacheMissReason };
}

describe("the cache key", () => {
  it("hits for the same step with the same options, so a miss below is the option's doing", async () => {
    const unchanged = await new Pipeline({
      name: "key-unchanged",
      steps: [base()],
      session: inProcessSession(root).session,
    });
    const first = await unchanged.start();
    await first.wait();
    const second = await unchanged.start();
    await second.wait();
    expect((await second.listSteps())[0]!.CacheHitResult).toEqual({ SourcePipelineExecutionArn: first.arn });
    // Another definition with the same options differs in its code alone.
    const { firstId, hit, reason } = await secondRun("key-code", sameAsBase);
    expect(hit).toBeUndefined();
    expect(reason).toBe(`changed since execution ${firstId}: the step's code`);
  });

  it.each([
    ["environment variables", otherEnvironment, "its environment variables"],
    ["instance type", otherInstanceType, "its instance type"],
    ["hyperparameters", otherHyperparameters, "its container options or inputs"],
    ["network", withNetwork, "its container options or inputs"],
    ["volume size", otherVolumeSize, "its container options or inputs"],
    ["max runtime", otherMaxRuntime, "its container options or inputs"],
  ])("changes with the %s", async (what, changed, part) => {
    const { firstId, hit, reason } = await secondRun(`key-${what.replace(/ /g, "-")}`, changed);
    expect(hit).toBeUndefined();
    expect(reason).toBe(`changed since execution ${firstId}: the step's code, ${part}`);
  });

  it("changes with the runtime image", async () => {
    const job = trainingJob("base", {
      AlgorithmSpecification: { TrainingImage: "stepbox-runtime", TrainingInputMode: "File" },
      ResourceConfig: { InstanceType: "ml.m5.large", InstanceCount: 1, VolumeSizeInGB: 30 },
      OutputDataConfig: { S3OutputPath: "s3://stepbox-local/p/e/base/results" },
    });
    const resources = stepResources({ name: "base", instanceType: job.instanceType });
    const parts = (imageId: string) => cacheKeyParts(job, resources, Buffer.from("bundle"), Buffer.from("arguments"), imageId, []);
    const [one, other] = await Promise.all([parts("sha256:one"), parts("sha256:other")]);
    expect(Object.keys(one).filter((p) => one[p as keyof typeof one] !== other[p as keyof typeof other])).toEqual(["image"]);
    expect(cacheKey(one)).not.toBe(cacheKey(other));
  });
});

describe("a cache entry", () => {
  it("that is damaged (the right name, not an entry's shape) is a miss: the step runs again and writes a good one", async () => {
    const session = inProcessSession(root).session;
    const pipeline = new Pipeline({ name: "key-damaged", steps: [base()], session });
    const first = await pipeline.start();
    await first.wait();
    const entries = (await session.store.list("key-damaged/.cache")).filter((key) => key.endsWith(".json"));
    expect(entries.length).toBeGreaterThan(0);
    for (const key of entries) await session.store.put(key, JSON.stringify({ Key: 3, Parts: null }));
    const second = await pipeline.start();
    expect((await second.wait()).PipelineExecutionStatus).toBe("Succeeded");
    expect((await second.listSteps())[0]!.CacheHitResult).toBeUndefined();
    const third = await pipeline.start();
    await third.wait();
    expect((await third.listSteps())[0]!.CacheHitResult).toEqual({ SourcePipelineExecutionArn: second.arn });
  });
});
