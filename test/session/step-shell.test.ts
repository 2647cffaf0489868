import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pipeline, UnknownExecutionError, ValidationError, type PipelineExecution } from "stepbox";
import { pipedShell } from "../support/shell.js";
import { checkRows, summarize } from "../fixtures/testing/shell-steps.js";
import { failsOnAlgo2 } from "../fixtures/training-steps.js";
import { leftoverContainers, testSession } from "../support/session.js";

let ctx: Awaited<ReturnType<typeof testSession>>;
let execution: PipelineExecution;

beforeAll(async () => {
  ctx = await testSession();
  execution = await new Pipeline({ name: "shell", steps: [summarize(checkRows(5))], session: ctx.session }).start();
  await execution.wait();
});

afterAll(async () => {
  await ctx.cleanup();
});

/** Runs the piped commands in a shell into the step; what it printed, and its exit code. */
function shell(
  commands: string,
  stepName = "checkRows",
  pipelineName = "shell",
  executionId = execution.id,
  tty = false,
  host?: string,
): Promise<{ code: number; out: string; err: string }> {
  return pipedShell(commands, { session: ctx.session, pipelineName, executionId, stepName, tty, ...(host !== undefined ? { host } : {}) });
}

describe("openStepShell", () => {
  it("opens a shell that sees the failed step's inputs and reruns its failure", async () => {
    expect((await execution.describe()).PipelineExecutionStatus).toBe("Failed");
    const { code, out, err } = await shell(
      [
        "ls /opt/ml/input/data/train",
        "cat /opt/ml/input/config/hyperparameters.json; echo",
        "cat /opt/ml/input/config/inputdataconfig.json; echo",
        "id -u",
        "echo TRAINING_JOB_NAME=$TRAINING_JOB_NAME",
        "/usr/local/bin/node /opt/stepbox/runner.mjs; echo rerun-exit=$?",
        "cat /opt/ml/output/failure; echo",
        "exit 7",
        "",
      ].join("\n"),
    );
    expect(code).toBe(7);
    expect(out).toContain("rows.csv");
    expect(out).toContain('{"source":"rows.csv","sample":"0.5"}');
    expect(out).toContain('"train":{"TrainingInputMode":"File"');
    expect(out).toMatch(new RegExp(`^${process.getuid?.() === 0 ? 1000 : process.getuid?.()}$`, "m"));
    expect(out).toMatch(/TRAINING_JOB_NAME=checkRows-/);
    // The rerun fails as the step did, with the same error.
    expect(out).toContain("rerun-exit=1");
    expect(out).toContain("RangeError: expected at least 5 rows, got 1");
    expect(err).toContain("RangeError: expected at least 5 rows, got 1");
    // The hint names the command that reruns the step.
    expect(err).toContain("rerun it:  /usr/local/bin/node /opt/stepbox/runner.mjs");
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("keeps the step's sandbox: no network, a read-only root", async () => {
    const { out } = await shell(["ls /sys/class/net", "touch /etc/x 2>/dev/null || echo read-only", ""].join("\n"));
    expect(out.split("\n")).toContain("lo");
    expect(out).not.toContain("eth0");
    expect(out).toContain("read-only");
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("gives the shell a terminal when tty is true", async () => {
    const { code, out } = await shell("test -t 0 && echo on-a-terminal\nexit 3\n", "checkRows", "shell", execution.id, true);
    expect(code).toBe(3);
    expect(out).toContain("on-a-terminal");
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("refuses a step that is not in the execution, naming its steps", async () => {
    await expect(shell("exit\n", "nope")).rejects.toThrow(/no step named "nope".*\n.*checkRows/);
  });

  it("refuses an execution the store does not hold", async () => {
    await expect(shell("exit\n", "checkRows", "shell", "nosuchexecution")).rejects.toBeInstanceOf(UnknownExecutionError);
  });

  it("refuses a step that failed before its container started, with its reason", async () => {
    // Its argument selects what checkRows's output (a number) does not have: it fails resolving it.
    const early = await new Pipeline({ name: "shell-early", steps: [summarize(checkRows(1).get("count"))], session: ctx.session }).start();
    await early.wait();
    const error = await shell("exit\n", "summarize", "shell-early", early.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/ended before its container started.*the output of step "checkRows" has no "count"/);
  });

  it("refuses a step that never ran, naming the steps that did", async () => {
    const error = await shell("exit\n", "summarize").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/step "summarize" never ran in execution \w+: the execution ended Failed first\n.*checkRows/);
  });

  it("opens the host of a multi-host step that it is asked for, and refuses one the step did not have", async () => {
    const twoHosts = await new Pipeline({ name: "shell-hosts", steps: [failsOnAlgo2()], session: ctx.session }).start();
    expect((await twoHosts.wait()).PipelineExecutionStatus).toBe("Failed");
    const asAlgo2 = await shell(
      ["cat /opt/ml/input/config/resourceconfig.json; echo", "hostname", ""].join("\n"),
      "failsOnAlgo2",
      "shell-hosts",
      twoHosts.id,
      false,
      "algo-2",
    );
    expect(asAlgo2.out).toContain('"current_host":"algo-2"');
    expect(asAlgo2.err).toContain("as algo-2 of 2 saw it (--host picks another)");
    const asAlgo1 = await shell("cat /opt/ml/input/config/resourceconfig.json; echo\n", "failsOnAlgo2", "shell-hosts", twoHosts.id);
    expect(asAlgo1.out).toContain('"current_host":"algo-1"');
    await expect(shell("true\n", "failsOnAlgo2", "shell-hosts", twoHosts.id, false, "algo-3")).rejects.toThrow(ValidationError);
    expect(await leftoverContainers(twoHosts.id)).toEqual([]);
  });
});
