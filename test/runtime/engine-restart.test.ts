/**
 * The Docker engine itself going away mid-step: dockerd shuts down (sending SIGTERM to every container)
 * and starts again, as an upgrade or `systemctl restart docker` does. The step's exit 143 is not its
 * own: it fails as an InternalServerError naming the engine, a JOB_INTERNAL_ERROR policy retries it on
 * the restarted engine, and nothing of the first attempt is left behind.
 *
 * Restarting the engine under the whole suite is safe because test files run one at a time
 * (vitest.config.ts); it needs root, which CI has (scripts/ensure-docker.sh started this dockerd).
 */
import { execFile, execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { LocalPipelineSession, Pipeline } from "stepbox";
import { exitsOnTerm } from "../fixtures/outside-stop-steps.js";
import { leftoverContainers } from "../support/session.js";

const run = promisify(execFile);
const ensureDocker = fileURLToPath(new URL("../../scripts/ensure-docker.sh", import.meta.url));

afterAll(async () => {
  // Whatever happened, the next test file finds an engine that answers.
  execFileSync("bash", [ensureDocker], { stdio: "inherit" });
});

/** Stops this machine's dockerd (SIGTERM, as systemd does), waits for it to end, and starts it again. */
async function restartDockerd(): Promise<void> {
  const pid = Number((await readFile("/var/run/docker.pid", "utf8")).trim());
  process.kill(pid, "SIGTERM");
  // dockerd ends after its containers do (they have 10 s before SIGKILL); kill -0 fails once it is gone.
  await run("bash", ["-c", `while kill -0 ${pid} 2>/dev/null; do sleep 0.1; done`], { timeout: 60_000 });
  await run("bash", [ensureDocker]);
}

describe("the Docker engine restarting mid-step", () => {
  it("fails the attempt as an internal error naming the engine, and a JOB_INTERNAL_ERROR policy retries it on the restarted engine", async ({ ctx }) => {
    let attempts = 0;
    let restarted: Promise<void> | undefined;
    const session = new LocalPipelineSession({
      artifactRoot: join(ctx.root, "engine-restart"),
      secret: "test-secret",
      onLog: ({ line }) => {
        if (line !== "ready") return;
        attempts++;
        if (attempts === 1) restarted = restartDockerd();
      },
    });
    const execution = await new Pipeline({ name: "engine-restart", steps: [exitsOnTerm()], session }).start();
    const description = await execution.wait();
    await restarted;
    const [s] = await execution.listSteps();
    expect(s!.Attempts?.[0]?.FailureReason).toMatch(
      /^InternalServerError: the container of step "exitsOnTerm" was stopped from outside stepbox: the Docker engine shut down or restarted/,
    );
    expect(s!.Attempts!.map((a) => a.TrainingJobName)).toEqual([`exitsOnTerm-${execution.id}`, `exitsOnTerm-${execution.id}-2`]);
    expect(await execution.result("exitsOnTerm")).toBe("attempt 2 ran to its end");
    expect(description.PipelineExecutionStatus).toBe("Succeeded");
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });
});
