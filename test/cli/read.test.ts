/**
 * The commands that read what runs recorded, each with and without --json, unique-prefix
 * abbreviation of executions and steps, and gc; on a store holding one succeeded and one failed run.
 */
import { cp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES, buildCli, cli, startedExecution, tempStore } from "./cli.js";

let ctx: Awaited<ReturnType<typeof tempStore>>;
let hello: string;
let failing: string;

beforeAll(async () => {
  await buildCli();
  ctx = await tempStore();
  hello = startedExecution((await cli(ctx.store, ["run", join(FIXTURES, "hello.ts")])).stdout);
  failing = startedExecution((await cli(ctx.store, ["run", join(FIXTURES, "failing.ts")])).stdout);
}, 300_000);

afterAll(async () => {
  await ctx.cleanup();
});

const json = (text: string): any => JSON.parse(text);

describe("reading records", () => {
  it("executions: a table newest first, or JSON; of one pipeline by a prefix of its name", async () => {
    const text = await cli(ctx.store, ["executions"]);
    expect(text.code).toBe(0);
    const [header, first, second] = text.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^EXECUTION\s+PIPELINE\s+STATUS\s+STARTED\s+DURATION\s+DISPLAY NAME$/);
    expect(first).toMatch(new RegExp(`^${failing}\\s+cli-failing\\s+Failed\\s`));
    expect(second).toMatch(new RegExp(`^${hello}\\s+cli-hello\\s+Succeeded\\s`));

    const all = json((await cli(ctx.store, ["executions", "--json"])).stdout);
    expect(all.map((e: any) => [e.PipelineExecutionId, e.PipelineExecutionStatus])).toEqual([
      [failing, "Failed"],
      [hello, "Succeeded"],
    ]);
    expect(all[0].FailureReason).toBe("Step 'boom' failed with message: NotEnoughData: only 10 rows, need 100");

    const one = json((await cli(ctx.store, ["executions", "cli-h", "--json"])).stdout);
    expect(one.map((e: any) => e.PipelineExecutionId)).toEqual([hello]);
  });

  it("describe: fields for a person, DescribePipelineExecution as JSON; the id abbreviated", async () => {
    const text = await cli(ctx.store, ["describe", failing.slice(0, 5)]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^Execution:\\s+${failing}$`, "m"));
    expect(text.stdout).toMatch(/^Status:\s+Failed$/m);
    expect(text.stdout).toMatch(/^Failure reason:\s+Step 'boom' failed with message: NotEnoughData/m);
    expect(text.stdout).toMatch(/^Steps:\s+greet, boom$/m);

    const described = json((await cli(ctx.store, ["describe", hello, "--json"])).stdout);
    expect(described.PipelineExecutionStatus).toBe("Succeeded");
    expect(described.PipelineExecutionArn).toMatch(new RegExp(`/execution/${hello}$`));
    expect(described.PipelineExperimentConfig).toEqual({ ExperimentName: "cli-hello", TrialName: hello });
  });

  it("steps: a table in dependency order, or ListPipelineExecutionSteps' items", async () => {
    const text = await cli(ctx.store, ["steps", failing.slice(0, 6)]);
    const [header, greet, boom] = text.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^STEP\s+STATUS\s+ATTEMPTS\s+STARTED\s+DURATION\s+CACHE\s+REASON$/);
    expect(greet).toMatch(/^greet\s+Succeeded\s+1\s/);
    expect(boom).toMatch(/^boom\s+Failed\s+1\s.*NotEnoughData: only 10 rows, need 100$/);

    const steps = json((await cli(ctx.store, ["steps", failing, "--json"])).stdout);
    expect(steps.map((s: any) => s.StepName).sort()).toEqual(["boom", "greet"]);
    const boomStep = steps.find((s: any) => s.StepName === "boom");
    expect(boomStep.StepStatus).toBe("Failed");
    expect(boomStep.Metadata.TrainingJob.TrainingJobStatus).toBe("Failed");
  });

  it("result: readable, JSON, or the raw value in a file; a step abbreviated; a failed step's reason", async () => {
    const text = await cli(ctx.store, ["result", hello, "gr"]);
    expect(text.stdout).toBe("{ greeting: 'hello world', at: 1970-01-01T00:00:00.000Z, tags: Set(2) { 'a', 'b' } }\n");

    const asJson = json((await cli(ctx.store, ["result", hello, "greet", "--json"])).stdout);
    expect(asJson).toEqual({ greeting: "hello world", at: "1970-01-01T00:00:00.000Z", tags: ["a", "b"] });

    const out = join(ctx.store, "shout.txt");
    const written = await cli(ctx.store, ["result", hello, "shout", "--out", out]);
    expect(written.code).toBe(0);
    expect(await readFile(out, "utf8")).toBe("HELLO WORLD");

    const failed = await cli(ctx.store, ["result", failing, "boom"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe(
      `error: step "boom" failed: NotEnoughData: only 10 rows, need 100\nhint: it has no result; see its output with: stepbox logs ${failing} boom\n`,
    );
  });

  it("logs: every step's lines prefixed, one step's as they are, or JSON lines", async () => {
    const all = await cli(ctx.store, ["logs", failing]);
    expect(all.stdout).toMatch(/^\[greet\] greeting data\n\[boom\] checking hello data\n\[boom\] NotEnoughData: only 10 rows, need 100\n/);

    const one = await cli(ctx.store, ["logs", hello, "shout"]);
    expect(one.stdout).toBe("shouting\n");

    const lines = (await cli(ctx.store, ["logs", hello, "greet", "--json"])).stdout.trimEnd().split("\n").map(json);
    expect(lines).toEqual([{ step: "greet", stream: expect.stringMatching(new RegExp(`^greet-${hello}/algo-1-\\d+$`)), line: "greeting world" }]);
  });

  it("definition and graph read a pipeline file; graph also an execution, coloured by status; report writes HTML", async () => {
    const definition = await cli(ctx.store, ["definition", join(FIXTURES, "hello.ts")]);
    expect(definition.code).toBe(0);
    const parsed = json(definition.stdout);
    expect(parsed.Steps.map((s: any) => s.Name)).toEqual(["greet", "shout"]);
    expect(parsed.Parameters).toEqual([{ Name: "who", Type: "String", DefaultValue: "world" }]);

    const mermaid = await cli(ctx.store, ["graph", join(FIXTURES, "hello.ts")]);
    expect(mermaid.stdout).toMatch(/^flowchart/);
    const dot = await cli(ctx.store, ["graph", failing.slice(0, 5), "--format", "dot"]);
    expect(dot.stdout).toMatch(/"boom" \[.*tooltip="Failed"\]/);
    const svg = await cli(ctx.store, ["graph", hello, "--format", "svg"]);
    expect(svg.stdout).toMatch(/^<svg/);

    const out = join(ctx.store, "report.html");
    const report = await cli(ctx.store, ["report", failing, "--out", out]);
    // The file is the data: the line that says where it went is a diagnostic, as for graph and result --out.
    expect(report.stdout).toBe("");
    expect(report.stderr).toBe(`wrote ${out}\n`);
    const html = await readFile(out, "utf8");
    expect(html).toContain("NotEnoughData: only 10 rows, need 100");
  });

  it("takes a unique prefix, and lists the candidates of an ambiguous one", async () => {
    // A second execution whose id shares the first six characters with the succeeded one, and not the
    // seventh (ids are random: a fixed filler would share it once in 36 runs).
    const twin = `${hello.slice(0, 6)}${(hello[6] === "z" ? "y" : "z").repeat(6)}`;
    await cp(join(ctx.store, "cli-hello", hello), join(ctx.store, "cli-hello", twin), { recursive: true });
    const record = join(ctx.store, "cli-hello", twin, "execution.json");
    await writeFile(record, (await readFile(record, "utf8")).replaceAll(hello, twin));
    try {
      const ambiguous = await cli(ctx.store, ["steps", hello.slice(0, 6)]);
      expect(ambiguous.code).toBe(2);
      expect(ambiguous.stderr).toBe(
        `error: "${hello.slice(0, 6)}" is the start of 2 executions in file://${ctx.store}\nhint: give more of the name: ${[hello, twin].sort().join(", ")}\n`,
      );
      const unique = await cli(ctx.store, ["steps", hello.slice(0, 7)]);
      expect(unique.code).toBe(0);
      const step = await cli(ctx.store, ["result", hello, "x"]);
      expect(step.stderr).toBe(`error: no step "x" in execution ${hello}\nhint: the steps are: greet, shout\n`);
    } finally {
      await rm(join(ctx.store, "cli-hello", twin), { recursive: true });
    }
  });
});

describe("stepbox gc", () => {
  it("with --dry-run lists what would go and removes nothing; without, removes it", async () => {
    const own = await tempStore();
    try {
      const again = startedExecution((await cli(own.store, ["run", join(FIXTURES, "hello.ts")])).stdout);
      const dry = await cli(own.store, ["gc", "--older-than", "0s", "--dry-run"]);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(new RegExp(`^would remove cli-hello/${again} \\(Succeeded, ended .* ago\\)\nwould remove 1 execution\\(s\\) from file://`));
      expect(json((await cli(own.store, ["executions", "--json"])).stdout).map((e: any) => e.PipelineExecutionId)).toEqual([again]);

      const young = await cli(own.store, ["gc", "--older-than", "1h", "--json"]);
      expect(json(young.stdout)).toEqual({ DryRun: false, EndedOrphans: [], Removed: [], KeptRunning: [], RemovedCacheEntries: 0, RemovedTempFiles: 0 });

      const gc = await cli(own.store, ["gc", "--older-than", "0s"]);
      expect(gc.stdout).toMatch(new RegExp(`^removed cli-hello/${again} \\(Succeeded, ended .* ago\\)\nremoved 1 execution\\(s\\) from file://`));
      expect((await cli(own.store, ["executions"])).stdout).toBe(`no executions recorded in file://${own.store}\n`);
      expect((await cli(own.store, ["describe", again])).code).toBe(2);
    } finally {
      await own.cleanup();
    }
  });
});
