/**
 * What a step leaves in /opt/ml/model that cannot be archived fails that step with a clear reason;
 * it never takes the engine process down with it (an unhandled stream error would).
 */
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { LocalPipelineSession, Pipeline } from "stepbox";
import { gated } from "../fixtures/steps.js";
import { hostOutputFolder, leftoverContainers, ReadyLines, workFolders } from "../support/session.js";

describe("the output archives", () => {
  it("fail the step, not the engine, when the model folder holds what tar cannot pack (a FIFO)", async ({ ctx }) => {
    const lines = new ReadyLines();
    const session = new LocalPipelineSession({ artifactRoot: ctx.root, secret: "test-secret", stopGraceSeconds: 2, onLog: lines.onLog });
    const before = new Set(await workFolders());
    const execution = await new Pipeline({ name: "fifo-model", steps: [gated("model", null)], session }).start();
    // While the step waits, put a named pipe into its model folder, as a step with mkfifo in its image could.
    await lines.ready("gated");
    const output = await hostOutputFolder(execution.id, "gated");
    execFileSync("mkfifo", [join(output, "..", "model", "pipe")]);
    await writeFile(join(output, "go"), "");
    const work = (await workFolders()).find((folder) => !before.has(folder));
    expect(work).toBeDefined();

    const description = await execution.wait();
    expect(description.PipelineExecutionStatus).toBe("Failed");
    const [step] = await execution.listSteps();
    expect(step?.StepStatus).toBe("Failed");
    expect(step?.FailureReason).toMatch(/^ClientError: cannot pack what step "gated" left in \/opt\/ml\/model into model\.tar\.gz: unsupported type for pipe/);
    // The step's doing, not the platform's: no job exception type that a platform retry policy retries.
    expect(step?.Failure).toMatchObject({ kind: "ClientError" });
    expect(step?.Failure?.exceptionType).toBeUndefined();
    expect(await leftoverContainers(execution.id)).toEqual([]);
    expect(await workFolders()).not.toContain(work);
  });
});
