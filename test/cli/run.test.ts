/**
 * `stepbox run` driven as a user drives it, against the real Docker engine: exit codes, the plain
 * progress lines of a non-terminal, failure reasons, and the format of user errors.
 */
import { access, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { LABEL } from "../../src/runtime/docker/labels.js";
import { leftoverContainers } from "../support/session.js";
import { cli, cliTestStore, FIXTURES, startCli, startedExecution, tempStore } from "./cli.js";

const ctx = cliTestStore();

describe("stepbox run", () => {
  it("runs a pipeline file to success: exit 0, a line per state change, the steps' own output", async () => {
    const other = await tempStore();
    try {
      // --store wins over STEPBOX_HOME.
      const r = await cli(ctx.store, ["run", join(FIXTURES, "hello.ts"), "--param", "who=cli", "--parallelism", "1", "--store", other.store]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const id = startedExecution(r.stdout);
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines).toContain("greet: Executing (attempt 1)");
      expect(lines).toContain("[greet] greeting cli");
      expect(lines).toContain("[shout] shouting");
      expect(lines.filter((l) => /^greet: Succeeded in /.test(l))).toHaveLength(1);
      expect(lines.filter((l) => /^shout: Succeeded in /.test(l))).toHaveLength(1);
      expect(lines.at(-1)).toMatch(new RegExp(`^execution ${id} Succeeded in `));
      expect(r.stdout).toContain(`(store file://${other.store})`);

      const result = await cli(ctx.store, ["result", id, "shout", "--store", other.store]);
      expect(result.stdout).toBe("'HELLO CLI'\n");
    } finally {
      await other.cleanup();
    }
  });

  it("runs a failing pipeline (built by an exported function): exit 1 and each failed step's reason", async () => {
    const r = await cli(ctx.store, ["run", join(FIXTURES, "failing.ts")]);
    expect(r.code).toBe(1);
    const id = startedExecution(r.stdout);
    expect(r.stdout).toMatch(/^greet: Succeeded in /m);
    expect(r.stdout).toMatch(/^boom: Failed after .*: NotEnoughData: only 10 rows, need 100$/m);
    expect(r.stdout).toContain(`execution ${id} Failed in `);
    expect(r.stdout).toContain("step boom Failed: NotEnoughData: only 10 rows, need 100\n");
    expect(r.stdout).toContain(`stepbox logs ${id} boom`);
    expect(r.stdout).toContain(`stepbox retry ${id}`);
    // The step's stderr (the stack it printed) goes to stderr.
    expect(r.stderr).toContain("[boom] NotEnoughData: only 10 rows, need 100");
  });

  it("refuses a file that starts its own pipeline as it loads, before anything runs or is recorded", async () => {
    const file = join(FIXTURES, "starts-itself.ts");
    const r = await cli(ctx.store, ["run", file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toEqual([
      `error: ${file} starts a pipeline ("cli-starts-itself") while being loaded; stepbox starts the pipeline a file exports, so export it instead: export default pipeline`,
      expect.stringMatching(/^hint: remove the start\(\) call .*npx tsx /),
    ]);
    // Refused before compiling: the pipeline has no folder in the store, not even its definition.
    expect(
      await access(join(ctx.store, "cli-starts-itself")).then(
        () => true,
        () => false,
      ),
    ).toBe(false);
    const containers = await new Docker().listContainers({ all: true, filters: { label: [`${LABEL.pipeline}=cli-starts-itself`] } });
    expect(containers).toEqual([]);
  });
});

describe("a user error", () => {
  const assertUserError = (r: { code: number | null; stderr: string }, message: RegExp): void => {
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(message);
    expect(lines[1]).toMatch(/^hint: /);
  };

  it("goes on to the end when its reader goes away (stepbox run | head), and leaves no container", async () => {
    const run = startCli(ctx.store, ["run", join(FIXTURES, "ticking.ts"), "--param", "ticks=8"]);
    await run.waitFor(/\[ticker\] tick 1/);
    const id = startedExecution(run.stdout());
    // What `head -1` does once it has its line: the pipe closes, and every later write meets EPIPE.
    run.child.stdout!.destroy();
    const { code, stderr } = await run.exited;
    expect(stderr).not.toContain("Unhandled 'error' event");
    expect(code).toBe(0);
    const described = await cli(ctx.store, ["describe", id, "--json"]);
    expect(JSON.parse(described.stdout).PipelineExecutionStatus).toBe("Succeeded");
    expect(await leftoverContainers(id)).toEqual([]);
  });

  it("is one line and a hint, exit code 2, and shows the stack only with --verbose", async () => {
    const missing = await cli(ctx.store, ["run", "no/such/pipeline.ts"]);
    assertUserError(missing, /^error: the pipeline file no\/such\/pipeline\.ts does not exist$/);

    const verbose = await cli(ctx.store, ["run", "no/such/pipeline.ts", "--verbose"]);
    expect(verbose.code).toBe(2);
    expect(verbose.stderr).toMatch(/^error: the pipeline file/);
    expect(verbose.stderr).toMatch(/\n\s+at .*load-pipeline\.js/);
  });

  it("covers bad arguments, unknown commands and options, and files that export no pipeline", async () => {
    assertUserError(await cli(ctx.store, ["run", join(FIXTURES, "hello.ts"), "--param", "who"]), /^error: --param who is not name=value$/);
    assertUserError(
      await cli(ctx.store, ["run", join(FIXTURES, "hello.ts"), "--param", "nobody=1"]),
      /^error: start\(\): pipeline "cli-hello" has no parameter "nobody"$/,
    );
    assertUserError(await cli(ctx.store, ["run", join(FIXTURES, "hello.ts"), "--parallelism", "0"]), /^error: --parallelism 0 is not a whole number/);
    assertUserError(await cli(ctx.store, ["run", join(FIXTURES, "steps.ts")]), /exports no Pipeline$/);
    const commonjs = join(ctx.store, "pipeline.ts");
    await writeFile(commonjs, await readFile(join(FIXTURES, "hello.ts"), "utf8"));
    const notEsm = await cli(ctx.store, ["run", commonjs]);
    assertUserError(notEsm, /would be loaded as CommonJS, and pipeline files must be ES modules$/);
    expect(notEsm.stderr).toContain('hint: add "type": "module" to a package.json in its project, or rename it to .mts');
    assertUserError(await cli(ctx.store, ["describe", "zzzz"]), /^error: no execution "zzzz" in file:\/\//);
    assertUserError(await cli(ctx.store, ["gc", "--older-than", "soon"]), /^error: --older-than soon is not a duration$/);

    const unknownOption = await cli(ctx.store, ["steps", "abc", "--colour"]);
    assertUserError(unknownOption, /^error: unknown option '--colour'$/);
    expect(unknownOption.stderr).toContain("see stepbox steps --help");

    const typo = await cli(ctx.store, ["exectuions"]);
    assertUserError(typo, /^error: unknown command 'exectuions'$/);
    expect(typo.stderr).toContain("did you mean executions?");
  });
});

describe("--help", () => {
  it("describes every command with an example", async () => {
    const top = await cli(ctx.store, ["--help"]);
    expect(top.code).toBe(0);
    const commands = ["run", "executions", "describe", "steps", "result", "logs", "stop", "retry", "definition", "graph", "report", "shell", "gc"];
    for (const command of commands) expect(top.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    for (const command of commands) {
      const help = await cli(ctx.store, [command, "--help"]);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(/\nExamples?:\n  \$ stepbox /);
      expect(help.stdout, command).toContain("--store <uri>");
    }
  });
});
