/**
 * The command line's manners, as a user's terminal and scripts see them: NO_COLOR and FORCE_COLOR,
 * plain lines under TERM=dumb, `stepbox` alone as a usage error, and `run --json` whose stdout is the
 * JSON alone. Runs against the real Docker engine, on a pseudo-terminal where a terminal matters.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cli, cliOnTerminal, cliTestStore, FIXTURES } from "./cli.js";

const ctx = cliTestStore();
/** Any escape sequence: a colour, or a cursor movement. */
const ESCAPE = /\x1b\[/;

let id: string;
let runJson: { code: number | null; stdout: string; stderr: string };

beforeAll(async () => {
  runJson = await cli(ctx.store, ["run", join(FIXTURES, "hello.ts"), "--param", "who=json", "--json"]);
  id = /^execution ([a-z0-9]{12}) of pipeline/m.exec(runJson.stderr)?.[1] ?? "";
  expect(id, runJson.stderr).not.toBe("");
}, 300_000);

describe("stepbox run --json", () => {
  it("prints the ended execution and its steps as JSON on stdout, and the progress on stderr", () => {
    expect(runJson.code).toBe(0);
    const parsed = JSON.parse(runJson.stdout);
    expect(parsed.PipelineExecutionArn).toMatch(new RegExp(`/execution/${id}$`));
    expect(parsed.PipelineExecutionStatus).toBe("Succeeded");
    expect(parsed.PipelineExecutionSteps.map((s: { StepName: string; StepStatus: string }) => [s.StepName, s.StepStatus]).sort()).toEqual([
      ["greet", "Succeeded"],
      ["shout", "Succeeded"],
    ]);
    expect(runJson.stderr).toContain("[greet] greeting json");
    expect(runJson.stderr).toMatch(new RegExp(`^execution ${id} Succeeded in `, "m"));
  });
});

describe("colours", () => {
  it("result colours a value on a terminal, and not with NO_COLOR; FORCE_COLOR colours it into a pipe", async () => {
    const coloured = await cliOnTerminal(ctx.store, ["result", id, "greet"]);
    expect(coloured.code).toBe(0);
    expect(coloured.stdout).toMatch(ESCAPE);

    const plain = await cliOnTerminal(ctx.store, ["result", id, "greet"], { NO_COLOR: "1" });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("greeting: 'hello json'");
    expect(plain.stdout).not.toMatch(ESCAPE);

    const forced = await cli(ctx.store, ["result", id, "greet"], undefined, { FORCE_COLOR: "1" });
    expect(forced.stdout).toMatch(ESCAPE);
    const forcedOff = await cliOnTerminal(ctx.store, ["result", id, "greet"], { FORCE_COLOR: "0" });
    expect(forcedOff.stdout).not.toMatch(ESCAPE);
  });

  it("steps prints no escape codes with NO_COLOR on a terminal", async () => {
    const steps = await cliOnTerminal(ctx.store, ["steps", id], { NO_COLOR: "1" });
    expect(steps.code).toBe(0);
    expect(steps.stdout).toMatch(/^STEP\s+STATUS/);
    expect(steps.stdout).not.toMatch(ESCAPE);
  });
});

describe("TERM=dumb", () => {
  it("gets a run's plain lines on a terminal, without cursor movement", async () => {
    const r = await cliOnTerminal(ctx.store, ["run", join(FIXTURES, "hello.ts")], { TERM: "dumb" });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(ESCAPE);
    const lines = r.stdout.replaceAll("\r\n", "\n").trimEnd().split("\n");
    expect(lines).toContain("greet: Executing (attempt 1)");
    expect(lines.filter((l) => /^shout: Succeeded in /.test(l))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/^execution [a-z0-9]{12} Succeeded in /);
  });
});

describe("stepbox with no arguments", () => {
  it("is a usage error: the help on stderr, exit 2; --help and help print it on stdout, exit 0", async () => {
    const bare = await cli(ctx.store, []);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe("");
    expect(bare.stderr).toMatch(/^Usage: stepbox \[options\] \[command\]/);

    for (const asked of [["--help"], ["help"]]) {
      const help = await cli(ctx.store, asked);
      expect(help.code, asked[0]).toBe(0);
      expect(help.stderr, asked[0]).toBe("");
      expect(help.stdout, asked[0]).toBe(bare.stderr);
    }
  });
});
