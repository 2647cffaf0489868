/**
 * Collecting what a step left is bounded in time: a step that leaves more files than the engine can
 * pack within the session's collectTimeoutSeconds fails with a ClientError that says so, instead of
 * holding its execution; with time enough, the same step succeeds and its model archive holds every file.
 */
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { LocalPipelineSession, Pipeline, ValidationError } from "stepbox";
import { leavesManyFiles } from "../fixtures/many-files-steps.js";
import { leftoverContainers } from "../support/session.js";

function sessionWithCollectTimeout(root: string, collectTimeoutSeconds: number): LocalPipelineSession {
  return new LocalPipelineSession({ artifactRoot: root, secret: "test-secret", onLog: () => {}, stopGraceSeconds: 2, collectTimeoutSeconds });
}

describe("the time to collect a step's outputs", () => {
  it("runs out: the step fails as a ClientError naming the folder and the limit, and leaves no container", async ({ ctx }) => {
    const session = sessionWithCollectTimeout(ctx.root, 0.001);
    const execution = await new Pipeline({ name: "too-many-files", steps: [leavesManyFiles(5000)], session }).start();
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Failed");
    const [step] = await execution.listSteps();
    expect(step?.StepStatus).toBe("Failed");
    expect(step?.FailureReason).toBe(
      'ClientError: packing what step "leavesManyFiles" left in /opt/ml/model into model.tar.gz took more than the 0.001 s the engine gives collection, and was given up',
    );
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("is enough by default: the same step succeeds", async ({ ctx }) => {
    const execution = await new Pipeline({ name: "many-files", steps: [leavesManyFiles(5000)], session: ctx.session }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    const [step] = await execution.listSteps();
    expect(step?.Metadata.TrainingJob?.ModelArtifacts?.S3ModelArtifacts).toMatch(/model\.tar\.gz$/);
  });

  it("is checked when the session is made", () => {
    expect(() => new LocalPipelineSession({ collectTimeoutSeconds: 0 })).toThrow(ValidationError);
    expect(() => new LocalPipelineSession({ collectTimeoutSeconds: Number.NaN })).toThrow(/collectTimeoutSeconds must be a number of seconds > 0/);
  });
});
