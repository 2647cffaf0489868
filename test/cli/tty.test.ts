/**
 * `stepbox run` on a terminal: a pseudo-terminal made by util-linux `script`, so the command sees
 * stdout.isTTY as it does for a person. It draws a table of the steps and redraws it in place instead
 * of printing a line per state change; the table's last frame is the run's final state.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliOnTerminal, cliTestStore, FIXTURES, startedExecution } from "./cli.js";

const ctx = cliTestStore();

/** Moves to the start of the line n lines up, then clears to the end of the screen: one redraw. */
const REDRAW = (lines: number): string => `\x1b[${lines}F\x1b[J`;
/** The table of a two-step pipeline is four lines: the execution, the column names, a row per step. */
const TABLE_LINES = 4;
const HEADER = /^ {2}STEP\s+STATUS\s+ATTEMPT\s+DURATION\s+CACHE$/;
/** What a non-terminal prints instead: "shout: Executing (attempt 1)", "shout: Succeeded in 1.2 s". */
/** "850 ms", "12.3 s", "4m 05s". */
const DURATION = String.raw`(\d+ ms|\d+\.\d s|\d+m \d\ds)`;
/** A step's row: its name, status, attempt and duration, then what the CACHE column says, if anything. */
const row = (step: string, status: string, cache = ""): RegExp => new RegExp(`^ {2}${step}\\s+${status}\\s+1\\s+${DURATION}${cache ? `\\s+${cache}` : ""}$`);
const PLAIN_STATE_LINE = /^\w+: (Executing|Succeeded|Failed|Stopped)\b/m;

/** The terminal's output with its newlines as "\n". */
async function runOnTerminal(file: string): Promise<{ code: number | null; output: string; id: string }> {
  const r = await cliOnTerminal(ctx.store, ["run", join(FIXTURES, file)]);
  const output = r.stdout.replaceAll("\r\n", "\n");
  return { code: r.code, output, id: startedExecution(output) };
}

/** The lines after the last redraw: the table as it was left on screen, then what the run printed after it. */
function finalScreen(output: string): string[] {
  const redraw = REDRAW(TABLE_LINES);
  const at = output.lastIndexOf(redraw);
  expect(at, "the table was never redrawn").toBeGreaterThan(-1);
  return output
    .slice(at + redraw.length)
    .trimEnd()
    .split("\n");
}

describe("stepbox run on a terminal", () => {
  it("redraws a table of the steps in place; a second run shows the cached step as a hit", async () => {
    const first = await runOnTerminal("cached.ts");
    expect(first.code).toBe(0);
    expect(first.output).not.toMatch(PLAIN_STATE_LINE);
    // A step's own output is printed as it is, above the table.
    expect(first.output).toContain("[cachedGreet] greeting terminal\n");
    const screen = finalScreen(first.output);
    expect(screen).toHaveLength(TABLE_LINES + 1);
    expect(screen[0]).toMatch(new RegExp(`^cli-cached ${first.id}  Succeeded  \\d`));
    expect(screen[1]).toMatch(HEADER);
    expect(screen[2]).toMatch(row("cachedGreet", "Succeeded", "miss"));
    expect(screen[3]).toMatch(row("shout", "Succeeded"));
    expect(screen[4]).toMatch(new RegExp(`^execution ${first.id} Succeeded in `));

    const second = await runOnTerminal("cached.ts");
    expect(second.code).toBe(0);
    expect(second.output).not.toMatch(PLAIN_STATE_LINE);
    expect(second.output).not.toContain("cache hit from execution");
    // Taken from the cache, the step did not run, so it printed nothing.
    expect(second.output).not.toContain("[cachedGreet]");
    const cached = finalScreen(second.output);
    expect(cached[1]).toMatch(HEADER);
    expect(cached[2]).toMatch(row("cachedGreet", "Succeeded", "hit"));
    expect(cached[3]).toMatch(row("shout", "Succeeded"));
  });

  it("ends a failed run with exit 1: the table shows the step Failed, and its reason follows", async () => {
    const failed = await runOnTerminal("failing.ts");
    expect(failed.code).toBe(1);
    expect(failed.output).not.toMatch(PLAIN_STATE_LINE);
    const screen = finalScreen(failed.output);
    expect(screen[0]).toMatch(new RegExp(`^cli-failing ${failed.id}  Failed  \\d`));
    expect(screen[1]).toMatch(HEADER);
    expect(screen[2]).toMatch(row("greet", "Succeeded"));
    expect(screen[3]).toMatch(row("boom", "Failed"));
    expect(screen.slice(4)).toEqual([
      expect.stringMatching(new RegExp(`^execution ${failed.id} Failed in `)),
      "step boom Failed: NotEnoughData: only 10 rows, need 100",
      `see its output with: stepbox logs ${failed.id} boom; run the failed steps again with: stepbox retry ${failed.id}`,
    ]);
  });
});
