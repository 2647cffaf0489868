/**
 * A run whose store fills up: a step's result does not fit on the small disk that holds the store.
 * The failure the user sees, and the records that can still be written (the failed write freed what it
 * took), name the full disk and the fix, never "the process ended".
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipelineSession, Pipeline } from "stepbox";
import { StepFailedError } from "../../src/errors.js";
import { RecordStore } from "../../src/store/records.js";
import { tooBig } from "../fixtures/records/too-big.js";
import { leftoverContainers } from "../support/session.js";
import { mountSmallDisk, type SmallDisk } from "../support/small-disk.js";

const MiB = 1024 * 1024;
let disk: SmallDisk | { refused: string };

beforeAll(async () => {
  disk = await mountSmallDisk(8 * MiB);
});
afterAll(async () => {
  if ("unmount" in disk) await disk.unmount();
});

describe("a run whose store fills up", () => {
  it("fails the step with the full disk and the fix, in the error and in the records", async (ctx) => {
    if ("refused" in disk) return ctx.skip(disk.refused);
    const session = new LocalPipelineSession({ artifactRoot: `${disk.path}/store`, secret: "test-secret", onLog: () => undefined, stopGraceSeconds: 2 });
    const pipeline = new Pipeline({ name: "full-store", steps: [tooBig(12)], session });
    const execution = await pipeline.start();
    const error: unknown = await execution.result("tooBig").then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(StepFailedError);
    const full = /the file system holding .*\/store is full \(ENOSPC\)[\s\S]*free space on that disk, or set STEPBOX_HOME/;
    expect((error as StepFailedError).failureReason).toMatch(full);
    const description = await execution.describe();
    expect(description.PipelineExecutionStatus).toBe("Failed");
    expect(description.FailureReason).toMatch(full);
    expect(description.FailureReason).not.toMatch(/ended before it finished/);
    const raw = new RecordStore(session.store);
    expect((await raw.readExecution("full-store", execution.id)).FailureReason).toMatch(full);
    expect((await raw.readStep("full-store", execution.id, "tooBig"))?.FailureReason).toMatch(full);
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });
});
