/**
 * What a step leaves where the engine reads its outcome is hostile input: a named pipe where the
 * failure reason or the result should be, or a link in place of a folder on the way, fails that step
 * at once with a reason naming the path; it never hangs the engine or makes it read elsewhere.
 */
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipelineSession, Pipeline } from "stepbox";
import { linksResultsFolder, waitsForHost } from "../fixtures/hostile-steps.js";
import { leftoverContainers, testSession, workFolders } from "../support/session.js";

let ctx: Awaited<ReturnType<typeof testSession>>;

beforeAll(async () => {
  ctx = await testSession();
});

afterAll(async () => {
  await ctx.cleanup();
});

/**
 * Runs `waitsForHost(code)`; once the step says it is ready, puts a named pipe at `relativePath`
 * under its /opt/ml/output (as a step with mkfifo in its image could), then lets it exit.
 */
async function pipeLeftAt(name: string, relativePath: string, code: number) {
  const before = new Set(await workFolders());
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const session = new LocalPipelineSession({
    artifactRoot: ctx.root,
    secret: "test-secret",
    stopGraceSeconds: 2,
    onLog: ({ line }) => line === "ready" && ready(),
  });
  const execution = await new Pipeline({ name, steps: [waitsForHost(code)], session }).start();
  await isReady;
  const work = (await workFolders()).filter((folder) => !before.has(folder));
  expect(work).toHaveLength(1);
  const output = join(tmpdir(), work[0]!, "algo-1", "output");
  execFileSync("mkdir", ["-p", join(output, relativePath, "..")]);
  execFileSync("mkfifo", [join(output, relativePath)]);
  await writeFile(join(output, "go"), "");
  const description = await execution.wait();
  const [stepRecord] = await execution.listSteps();
  expect(await leftoverContainers(execution.id)).toEqual([]);
  return { description, step: stepRecord! };
}

describe("what a step leaves in /opt/ml/output", () => {
  it("a named pipe at the failure file fails the step at once, naming the file, instead of hanging the engine", async () => {
    const { description, step } = await pipeLeftAt("pipe-failure", "failure", 3);
    expect(step.StepStatus).toBe("Failed");
    expect(step.FailureReason).toBe(
      "ClientError: /opt/ml/output/failure is not a regular file (a named pipe, a socket, a device or a folder); the engine reads only regular files there",
    );
    expect(description.PipelineExecutionStatus).toBe("Failed");
  });

  it("a named pipe in place of the result fails the step at once, naming the file", async () => {
    const { step } = await pipeLeftAt("pipe-result", "stepbox/results/payload.bin", 0);
    expect(step.StepStatus).toBe("Failed");
    expect(step.FailureReason).toMatch(/^ClientError: \/opt\/ml\/output\/stepbox\/results\/payload\.bin is not a regular file/);
  });

  it("a link in place of a folder on the way to the result is refused, not followed", async () => {
    const execution = await new Pipeline({ name: "link-folder", steps: [linksResultsFolder()], session: ctx.session }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    const [step] = await execution.listSteps();
    expect(step?.FailureReason).toBe("ClientError: /opt/ml/output/stepbox is a symbolic link; the engine reads only regular files there");
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });
});
