/**
 * A step's container stopped from outside stepbox (the Docker engine shutting down or restarting sends
 * SIGTERM to every container; an operator can run docker stop) exits 143 as if the step had failed.
 * It is told apart and blamed on the platform: an InternalServerError naming the engine, which
 * JOB_INTERNAL_ERROR retry policies retry, never the step's AlgorithmError.
 */
import { execFileSync } from "node:child_process";
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { LocalPipelineSession, Pipeline } from "stepbox";
import { exitsOnTerm, selfTerminates } from "../fixtures/outside-stop-steps.js";
import { leftoverContainers } from "../support/session.js";

/** A session that calls `onReady` when the step prints "ready", that is, once its container runs. */
function sessionWaitingFor(root: string, onReady: () => void): LocalPipelineSession {
  return new LocalPipelineSession({
    artifactRoot: root,
    secret: "test-secret",
    stopGraceSeconds: 2,
    onLog: ({ line }) => line === "ready" && onReady(),
  });
}

describe("a container stopped from outside stepbox", () => {
  it("fails the step as an internal error naming the engine, and a JOB_INTERNAL_ERROR policy retries it", async ({ ctx }) => {
    let attempts = 0;
    const session = sessionWaitingFor(ctx.root, () => {
      attempts++;
      // Only the first attempt is stopped from outside; the retry runs to its end.
      if (attempts > 1) return;
      const ids = execFileSync("docker", ["ps", "-q", "--filter", "label=dev.stepbox.step=exitsOnTerm"], { encoding: "utf8" }).trim().split("\n");
      execFileSync("docker", ["stop", "-t", "5", ...ids.filter(Boolean)]);
    });
    const execution = await new Pipeline({ name: "outside-stop", steps: [exitsOnTerm()], session }).start();
    const description = await execution.wait();
    const [s] = await execution.listSteps();
    expect(s!.Attempts?.[0]?.FailureReason).toMatch(
      /^InternalServerError: the container of step "exitsOnTerm" was stopped from outside stepbox: the Docker engine shut down or restarted, or someone ran docker stop/,
    );
    expect(s!.Attempts!.map((a) => a.TrainingJobName)).toEqual([`exitsOnTerm-${execution.id}`, `exitsOnTerm-${execution.id}-2`]);
    expect(await execution.result("exitsOnTerm")).toBe("attempt 2 ran to its end");
    expect(s!.StepStatus).toBe("Succeeded");
    expect(description.PipelineExecutionStatus).toBe("Succeeded");
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("still blames the step for a signal it sends itself", async ({ ctx }) => {
    const execution = await new Pipeline({ name: "self-terminates", steps: [selfTerminates()], session: ctx.session }).start();
    await execution.wait();
    const [s] = await execution.listSteps();
    expect(s!.StepStatus).toBe("Failed");
    expect(s!.FailureReason).toMatch(/^AlgorithmError: exit code 143/);
  });
});
