/**
 * How an execution writes its records: in order, one at a time, each synced, and a record that
 * changes again before its queued write has begun written once, in its latest state. Run through the
 * real Pipeline, ExecutionRun and store, with the steps run in this process; the session's record
 * store is the real one, its step writes counted and the first one held until the step has ended.
 */
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { Pipeline, type ExecutionEvent } from "stepbox";
import type { StepRecord } from "../../src/store/records.js";
import { add } from "../fixtures/scheduler-steps.js";
import { inProcessSession } from "../support/in-process-runtime.js";

describe("an execution's record writes", () => {
  it("write a step's record once in its latest state for all the changes made while an earlier write was in flight", async ({ tempDir: root }) => {
    const { session } = inProcessSession(root);
    const records = session.records;
    const writeStep = records.writeStep.bind(records);
    const written: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const firstEntered = new Promise<void>((resolve) => (entered = resolve));
    records.writeStep = async (pipeline: string, execution: string, record: StepRecord) => {
      written.push(record.StepStatus);
      if (written.length === 1) {
        entered();
        await released;
      }
      return writeStep(pipeline, execution, record);
    };

    const execution = await new Pipeline({ name: "record-writes", steps: [add(1, 2)], session }).start();
    await firstEntered;
    // The step runs to its end while its first record write is held.
    const seen: ExecutionEvent[] = [];
    for await (const event of execution.events()) {
      seen.push(event);
      if (event.type === "step" && event.status === "Succeeded") break;
    }
    // Starting and Executing come in one turn: the first write already has the latter.
    expect(written).toEqual(["Executing"]);
    release();

    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    // The held write, then every later state (attempts, the job's statuses, the end) in one write: the latest.
    expect(written).toEqual(["Executing", "Succeeded"]);
    expect((await execution.listSteps()).map((s) => s.StepStatus)).toEqual(["Succeeded"]);
    expect(await execution.result("add")).toBe(3);
  });
});
