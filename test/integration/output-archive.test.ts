/**
 * What a step leaves in /opt/ml/model that cannot be archived fails that step with a clear reason;
 * it never takes the engine process down with it (an unhandled stream error would).
 */
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pipeline } from "stepbox";
import { napper } from "../fixtures/training-steps.js";
import { leftoverContainers, testSession, workFolders } from "../support/session.js";

let ctx: Awaited<ReturnType<typeof testSession>>;

beforeAll(async () => {
  ctx = await testSession();
});

afterAll(async () => {
  await ctx.cleanup();
});

describe("the output archives", () => {
  it("fail the step, not the engine, when the model folder holds what tar cannot pack (a FIFO)", async () => {
    const before = new Set(await workFolders());
    const execution = await new Pipeline({ name: "fifo-model", steps: [napper(3)], session: ctx.session }).start();
    // While the step sleeps, put a named pipe into its model folder, as a step with mkfifo in its image could.
    let work: string | undefined;
    while (work === undefined) {
      work = (await workFolders()).find((name) => !before.has(name));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    execFileSync("mkfifo", [join(tmpdir(), work, "algo-1", "model", "pipe")]);

    const description = await execution.wait();
    expect(description.PipelineExecutionStatus).toBe("Failed");
    const [step] = await execution.listSteps();
    expect(step?.StepStatus).toBe("Failed");
    expect(step?.FailureReason).toMatch(/^ClientError: cannot pack what step "napper" left in \/opt\/ml\/model into model\.tar\.gz: unsupported type for pipe/);
    // The step's doing, not the platform's: no job exception type that a platform retry policy retries.
    expect(step?.Failure).toMatchObject({ kind: "ClientError" });
    expect(step?.Failure?.exceptionType).toBeUndefined();
    expect(await leftoverContainers(execution.id)).toEqual([]);
    expect(await workFolders()).not.toContain(work);
  });
});
