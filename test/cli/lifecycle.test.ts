/**
 * The commands that act on executions while they run or after they failed: logs --follow on a
 * running step, stop, gc next to a running execution, retry after fixing the pipeline file, and a
 * shell into a failed step fed from a pipe.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leftoverContainers } from "../support/session.js";
import { cli, cliTestStore, FIXTURES, startCli, startedExecution, tempStore } from "./cli.js";

const ctx = cliTestStore();

const TICKING = join(FIXTURES, "ticking.ts");

describe("a running execution", () => {
  it("logs --follow shows a running step's lines live, each once, and ends with the execution", async () => {
    const run = startCli(ctx.store, ["run", TICKING, "--param", "ticks=20"]);
    const id = startedExecution((await run.waitFor(/^\[ticker\] tick 2$/m)).input!);
    const follow = startCli(ctx.store, ["logs", id.slice(0, 6), "tick", "--follow"]);
    await follow.waitFor(/^tick 5$/m);
    // Read from the container while it runs: the store gets the step's log only when it ends.
    expect(run.stdout()).not.toContain("ticker: Succeeded");

    const followed = await follow.exited;
    expect(followed.code).toBe(0);
    expect(followed.stdout).toBe(Array.from({ length: 20 }, (_, i) => `tick ${i + 1}\n`).join(""));
    expect((await run.exited).code).toBe(0);

    // Afterwards the same lines come from the store.
    expect((await cli(ctx.store, ["logs", id, "ticker"])).stdout).toBe(followed.stdout);
  });

  it("stop ends it (the run exits 1 and says so), and gc keeps it while it runs", async () => {
    const run = startCli(ctx.store, ["run", TICKING, "--param", "ticks=600"]);
    const id = startedExecution((await run.waitFor(/^\[ticker\] tick 1$/m)).input!);

    const gc = await cli(ctx.store, ["gc", "--older-than", "0s", "--json"]);
    expect(JSON.parse(gc.stdout).KeptRunning).toEqual([{ PipelineName: "cli-ticking", PipelineExecutionId: id, PipelineExecutionStatus: "Executing" }]);

    const stop = await cli(ctx.store, ["stop", id.slice(0, 5), "--wait", "--json"]);
    expect(stop.code).toBe(0);
    const arn = expect.stringMatching(new RegExp(`/execution/${id}$`));
    expect(JSON.parse(stop.stdout)).toEqual({ PipelineExecutionArn: arn, PipelineExecutionStatus: "Stopped", StopRequested: true });

    const ended = await run.exited;
    expect(ended.code).toBe(1);
    expect(ended.stdout).toContain(`execution ${id} Stopped in `);
    expect(ended.stdout).toContain('step ticker Stopped: the execution was stopped while step "ticker" ran');
    expect(await leftoverContainers(id)).toEqual([]);

    const again = await cli(ctx.store, ["stop", id]);
    expect(again.stdout).toBe(`execution ${id} has already ended: Stopped\n`);
    const againJson = await cli(ctx.store, ["stop", id, "--json"]);
    expect(JSON.parse(againJson.stdout)).toEqual({ PipelineExecutionArn: arn, PipelineExecutionStatus: "Stopped", StopRequested: false });
  });
  it("Ctrl-C of run stops the step's container, records the execution Stopped and exits 130", async () => {
    const run = startCli(ctx.store, ["run", TICKING, "--param", "ticks=600"]);
    const id = startedExecution((await run.waitFor(/^\[ticker\] tick 1$/m)).input!);
    run.child.kill("SIGINT");
    const ended = await run.exited;
    expect(ended.code).toBe(130);
    expect(ended.stderr).toContain("SIGINT: stopping the execution and its containers");
    expect(await leftoverContainers(id)).toEqual([]);
    expect(JSON.parse((await cli(ctx.store, ["describe", id, "--json"])).stdout).PipelineExecutionStatus).toBe("Stopped");
  });
});

describe("a failed execution", () => {
  let dir: string;
  let file: string;
  const pipelineFile = (divide: string): string => `
import { Pipeline, step } from "stepbox";

export const prepare = step(function prepare(): number {
  console.log("preparing");
  return 20;
});

export const divide = step(function divide(n: number): number {
  ${divide}
});

export default new Pipeline({ name: "cli-retry", steps: [divide(prepare())] });
`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stepbox-cli-retry-"));
    // Pipeline files are ES modules: here, as in a user's project, by the package.json's type.
    await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    file = join(dir, "pipeline.ts");
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("retry loads the recorded pipeline file as it is now, reuses what succeeded and runs the rest", async () => {
    await writeFile(file, pipelineFile("throw new RangeError(`cannot divide ${n}`);"));
    const failed = await cli(ctx.store, ["run", file]);
    expect(failed.code).toBe(1);
    const source = startedExecution(failed.stdout);
    expect(failed.stdout).toContain("step divide Failed: RangeError: cannot divide 20");

    // The shell sees the failed step's code and arguments: running the step again fails the same way.
    const shell = await cli(
      ctx.store,
      ["shell", source, "div"],
      'ls /opt/ml/input/stepbox/arguments\n/usr/local/bin/node /opt/stepbox/runner.mjs\necho "exit $?"\n',
    );
    expect(shell.code).toBe(0);
    expect(shell.stdout).toContain("payload.bin");
    expect(shell.stdout + shell.stderr).toContain("RangeError: cannot divide 20");
    expect(shell.stdout).toContain("exit 1");

    await writeFile(file, pipelineFile("return n / 2;"));
    const retried = await cli(ctx.store, ["retry", source.slice(0, 6)]);
    expect(retried.code).toBe(0);
    const id = startedExecution(retried.stdout);
    expect(id).not.toBe(source);
    expect(retried.stdout).toContain(`prepare: Succeeded (reused from execution ${source})`);
    expect(retried.stdout).not.toContain("[prepare] preparing");
    expect(retried.stdout).toMatch(/^divide: Succeeded in /m);

    expect((await cli(ctx.store, ["result", id, "divide"])).stdout).toBe("10\n");
    expect((await cli(ctx.store, ["steps", id])).stdout).toMatch(/^prepare\s+Succeeded\s+1\s.*\sreused$/m);
    expect((await cli(ctx.store, ["describe", id])).stdout).toMatch(new RegExp(`^Source:\\s+execution ${source}, running again: divide$`, "m"));

    const succeeded = await cli(ctx.store, ["retry", id]);
    expect(succeeded.code).toBe(2);
    expect(succeeded.stderr).toBe(`error: execution ${id} succeeded: there is nothing to retry\nhint: start a new execution instead\n`);
  });

  it("retry of an execution not started by `stepbox run` asks for --file", async () => {
    const { store, cleanup } = await tempStore();
    try {
      await writeFile(file, pipelineFile('throw new RangeError("no");'));
      const failed = startedExecution((await cli(store, ["run", file])).stdout);
      await rm(join(store, "cli-retry", failed, "pipeline-file.json"));
      const r = await cli(store, ["retry", failed]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `error: execution ${failed} was not started by \`stepbox run\`, so stepbox does not know which file defines its pipeline\nhint: give it: stepbox retry ${failed} --file path/to/pipeline.ts\n`,
      );
      const wrongFile = await cli(store, ["retry", failed, "--file", join(FIXTURES, "hello.ts")]);
      expect(wrongFile.code).toBe(2);
      expect(wrongFile.stderr).toMatch(/^error: .*hello\.ts defines pipeline "cli-hello", but execution \w+ is of pipeline "cli-retry"\n/);
    } finally {
      await cleanup();
    }
  });
});
