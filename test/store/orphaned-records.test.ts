/**
 * An execution whose engine process was killed reads as Failed to every later reader, with no Docker
 * sweep needed: `describe()` and `wait()` from another session never report (or wait on) a run that
 * nobody runs. Reading writes nothing; the sweep of a session that starts its runtime writes the end.
 */
import type { ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { LocalPipelineSession, Pipeline } from "stepbox";
import { RecordStore } from "../../src/store/records.js";
import { napper } from "../fixtures/training-steps.js";
import { exited, startLongRun } from "../support/processes.js";
import { leftoverContainers } from "../support/session.js";

let child: ChildProcess | undefined;

afterAll(async () => {
  child?.kill("SIGKILL");
});

describe("an execution whose engine was killed", () => {
  it("reads as Failed, with the reason, to a session that never starts Docker", async ({ ctx }) => {
    const home = join(ctx.root, "killed-engine");
    await mkdir(home, { recursive: true });
    const { child: engine, executionId } = startLongRun(home);
    child = engine;
    const id = await executionId;
    const reader = new LocalPipelineSession({ artifactRoot: home, secret: "test-secret" });
    const pipeline = new Pipeline({ name: "long-run", steps: [napper(600)], session: reader });
    expect((await (await pipeline.execution(id)).describe()).PipelineExecutionStatus).toBe("Executing");

    engine.kill("SIGKILL");
    await exited(engine);

    const execution = await pipeline.execution(id);
    const description = await execution.wait();
    expect(description.PipelineExecutionStatus).toBe("Failed");
    expect(description.FailureReason).toMatch(/the stepbox process that ran this execution \(.+:\d+\) ended before it finished/);
    const [step] = await execution.listSteps();
    expect(step?.StepStatus).toBe("Failed");
    expect(step?.FailureReason).toBe(description.FailureReason);
    // Readers never write: the record in the store still says Executing until a process that holds the store ends it.
    const raw = new RecordStore(reader.store);
    expect((await raw.readExecution("long-run", id)).PipelineExecutionStatus).toBe("Executing");

    // Its container is still there until a session starts its runtime and sweeps it; that sweep writes the end.
    expect(await leftoverContainers(id)).not.toEqual([]);
    await reader.runtime();
    expect(await leftoverContainers(id)).toEqual([]);
    const written = await raw.readExecution("long-run", id);
    expect(written.PipelineExecutionStatus).toBe("Failed");
    expect(written.FailureReason).toMatch(/ended before it finished; its 1 container\(s\) were removed$/);
    expect((await raw.readStep("long-run", id, step!.StepName))?.StepStatus).toBe("Failed");
  });
});
