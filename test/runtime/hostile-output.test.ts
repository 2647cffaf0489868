/**
 * What a step leaves where the engine reads its outcome is hostile input: a named pipe where the
 * failure reason or the result should be, or a link in place of a folder on the way, fails that step
 * at once with a reason naming the path; it never hangs the engine or makes it read elsewhere. What it
 * writes is bounded: under /opt/ml by its output limit, in /tmp by the size of the tmpfs.
 */
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { LocalPipelineSession, Pipeline, type StepLogLine } from "stepbox";
import { fillsTmp, linksResultsFolder, waitsForHost, writesSmallFiles, type WriteReport } from "../fixtures/hostile-steps.js";
import { hostOutputFolder, leftoverContainers } from "../support/session.js";
import { kernelHoldsLimits, stepboxLoopDevices, stepboxMounts } from "../support/volumes.js";

// Whatever a step did, its volume is unmounted and its loop device detached once its execution ends.
afterEach(() => {
  expect(stepboxMounts()).toEqual([]);
  expect(stepboxLoopDevices()).toEqual([]);
});

/**
 * Runs `waitsForHost(code)`; once the step says it is ready, puts a named pipe at `relativePath`
 * under its /opt/ml/output (as a step with mkfifo in its image could), then lets it exit.
 */
async function pipeLeftAt(root: string, name: string, relativePath: string, code: number) {
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const session = new LocalPipelineSession({
    artifactRoot: root,
    secret: "test-secret",
    stopGraceSeconds: 2,
    onLog: ({ line }) => line === "ready" && ready(),
  });
  const execution = await new Pipeline({ name, steps: [waitsForHost(code)], session }).start();
  await isReady;
  const output = await hostOutputFolder(execution.id, "waitsForHost");
  execFileSync("mkdir", ["-p", join(output, relativePath, "..")]);
  execFileSync("mkfifo", [join(output, relativePath)]);
  await writeFile(join(output, "go"), "");
  const description = await execution.wait();
  const [stepRecord] = await execution.listSteps();
  expect(await leftoverContainers(execution.id)).toEqual([]);
  return { description, step: stepRecord! };
}

describe("what a step leaves in /opt/ml/output", () => {
  it("a named pipe at the failure file fails the step at once, naming the file, instead of hanging the engine", async ({ ctx }) => {
    const { description, step } = await pipeLeftAt(ctx.root, "pipe-failure", "failure", 3);
    expect(step.StepStatus).toBe("Failed");
    expect(step.FailureReason).toBe(
      "ClientError: /opt/ml/output/failure is not a regular file (a named pipe, a socket, a device or a folder); the engine reads only regular files there",
    );
    expect(description.PipelineExecutionStatus).toBe("Failed");
  });

  it("a named pipe in place of the result fails the step at once, naming the file", async ({ ctx }) => {
    const { step } = await pipeLeftAt(ctx.root, "pipe-result", "stepbox/results/payload.bin", 0);
    expect(step.StepStatus).toBe("Failed");
    expect(step.FailureReason).toMatch(/^ClientError: \/opt\/ml\/output\/stepbox\/results\/payload\.bin is not a regular file/);
  });

  it("a link in place of a folder on the way to the result is refused, not followed", async ({ ctx }) => {
    const execution = await new Pipeline({ name: "link-folder", steps: [linksResultsFolder()], session: ctx.session }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    const [step] = await execution.listSteps();
    expect(step?.FailureReason).toBe("ClientError: /opt/ml/output/stepbox is a symbolic link; the engine reads only regular files there");
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });
});

const MiB = 1024 * 1024;

/** A session whose steps may write 20 MiB, that keeps their output lines. */
function cappedSession(root: string, lines: StepLogLine[]): LocalPipelineSession {
  return new LocalPipelineSession({
    artifactRoot: root,
    secret: "test-secret",
    stopGraceSeconds: 2,
    outputLimitBytes: 20 * MiB,
    onLog: (line) => lines.push(line),
  });
}

describe("what a step writes", () => {
  it("many small files under /opt/ml stop at the output limit: the kernel refuses them, however fast they come", async ({ ctx }) => {
    const lines: StepLogLine[] = [];
    const execution = await new Pipeline({ name: "small-files", steps: [writesSmallFiles(200_000)], session: cappedSession(ctx.root, lines) }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    const [step] = await execution.listSteps();
    const report = lines.map((l) => l.line).find((line) => line.startsWith("{"));
    const written = JSON.parse(report!) as WriteReport;
    if (await kernelHoldsLimits()) {
      // The volume is the limit: what the step managed to write fits in it, and its last write got ENOSPC.
      expect(written.error).toBe("ENOSPC");
      expect(written.bytes).toBeLessThanOrEqual(20 * MiB);
      expect(step?.FailureReason).toMatch(
        /^OutputLimitExceeded: step "writesSmallFiles" filled its 20 MiB volume under \/opt\/ml \(model, output, checkpoints\) and failed with no space left on it \(exit code \d+\); raise volumeSize if it needs more$/,
      );
    } else {
      expect(step?.FailureReason).toMatch(/^OutputLimitExceeded: step "writesSmallFiles" wrote \d+ MiB under \/opt\/ml .* more than its limit of 20 MiB/);
    }
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("a huge file in /tmp gets ENOSPC at the size of the tmpfs, the output limit", async ({ ctx }) => {
    const execution = await new Pipeline({ name: "fills-tmp", steps: [fillsTmp(1024)], session: cappedSession(ctx.root, []) }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    const written = (await execution.result("fillsTmp")) as WriteReport;
    expect(written.error).toBe("ENOSPC");
    expect(written.bytes).toBeGreaterThan(0);
    expect(written.bytes).toBeLessThanOrEqual(20 * MiB);
  });
});
