/**
 * A step's failure is data, from the runtime's outcome to the record and StepFailedError: its kind,
 * exit code and whether it ran out of memory are fields to branch on, and SageMaker's FailureReason
 * is made from them in one place. Steps that never ran read as NotRun (or Pending while the
 * execution runs), the same to every reader.
 */
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { Pipeline, StepFailedError, getStep } from "stepbox";
import { failureReason } from "../../src/store/records.js";
import { displayStatus, recordedFailure, stepState } from "../../src/store/step-state.js";
import { boom, capacityRetried } from "../fixtures/scheduler-steps.js";
import { InProcessRuntime, inProcessSession } from "../support/in-process-runtime.js";

const session = (root: string, runtime?: InProcessRuntime) => inProcessSession(root, runtime).session;

describe("a failed step", () => {
  it("keeps its failure as data in the record, made into FailureReason once, and StepFailedError carries it", async ({ tempDir: root }) => {
    const failing = boom("the data is empty");
    const execution = await new Pipeline({ name: "failure-data", steps: [failing], session: session(root) }).start();
    const error = await execution.result(getStep(failing).name).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailedError);
    const failed = error as StepFailedError;
    const [record] = await execution.listSteps();
    expect(record!.Failure).toMatchObject({ kind: "StepReported", exitCode: 1 });
    expect(record!.FailureReason).toBe(failureReason(record!.Failure!));
    expect(failed.failure).toEqual(record!.Failure);
    expect(failed.exitCode).toBe(1);
    expect(failed.oomKilled).toBe(false);
    expect(failed.durationMs).toBeGreaterThanOrEqual(0);
    expect(failed.originalError?.message).toBe("the data is empty");
  });

  it("of the platform carries the job exception type that retry policies match, on every attempt", async ({ tempDir: root }) => {
    const runtime = new InProcessRuntime({ refuse: 5 });
    const execution = await new Pipeline({ name: "failure-capacity", steps: [capacityRetried()], session: session(root, runtime) }).start();
    await execution.wait();
    const [record] = await execution.listSteps();
    expect(record!.Failure).toMatchObject({ kind: "InternalServerError", exceptionType: "SageMaker.CAPACITY_ERROR" });
    expect(record!.FailureReason).toMatch(/^InternalServerError: /);
    expect(record!.Attempts?.map((a) => a.Failure?.exceptionType)).toEqual(record!.Attempts?.map(() => "SageMaker.CAPACITY_ERROR"));
  });
});

describe("the failure reason", () => {
  it("is the kind and the message, except the step's own words, a FailStep's message and an interrupted engine's", () => {
    expect(failureReason({ kind: "OutOfMemory", message: "step used too much" })).toBe("OutOfMemory: step used too much");
    expect(failureReason({ kind: "StepReported", message: "DataError: no rows" })).toBe("DataError: no rows");
    expect(failureReason({ kind: "Fail", message: "accuracy too low" })).toBe("accuracy too low");
    expect(failureReason({ kind: "ClientError", message: "x".repeat(2000) })).toHaveLength(1024);
  });

  it("of a record written before failures were data is read back as one", () => {
    expect(recordedFailure({ StepStatus: "Failed", FailureReason: "OutOfMemory: step used too much" })).toEqual({
      kind: "OutOfMemory",
      message: "step used too much",
    });
    expect(recordedFailure({ StepStatus: "Failed", FailureReason: "DataError: no rows" })).toEqual({ kind: "StepReported", message: "DataError: no rows" });
  });
});

describe("a step's state", () => {
  const base = { StepName: "s", StepDisplayName: "s", StepDescription: "", AttemptCount: 1, Metadata: {} };
  it("without a record is Pending while the execution runs and NotRun once it ended", () => {
    expect(stepState(undefined, false)).toEqual({ kind: "Pending" });
    expect(stepState(undefined, true)).toEqual({ kind: "NotRun" });
    expect(displayStatus(undefined, true)).toBe("NotRun");
  });
  it("tells a cache hit and a reused result from a run", () => {
    const arn = "arn:aws:sagemaker:local:000000000000:pipeline/p/execution/abc";
    expect(stepState({ ...base, StepStatus: "Succeeded", CacheHitResult: { SourcePipelineExecutionArn: arn } }, true)).toEqual({
      kind: "CacheHit",
      sourceExecutionArn: arn,
    });
    expect(stepState({ ...base, StepStatus: "Succeeded", SelectiveExecutionResult: { SourcePipelineExecutionArn: arn } }, true)).toEqual({
      kind: "Reused",
      sourceExecutionArn: arn,
    });
    expect(stepState({ ...base, StepStatus: "Succeeded" }, true)).toEqual({ kind: "Succeeded" });
  });
});
