import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "stepbox-examples-"));
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

/** Runs an example as a user would: its own process, a fresh store. */
async function example(file: string, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", file, ...args], {
      env: { ...process.env, STEPBOX_HOME: home, STEPBOX_SECRET: "examples" },
      timeout: 120_000,
    });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe("the examples", () => {
  it("seed: one train step, started, read back with result() and listSteps()", async () => {
    const { code, out } = await example("examples/seed.ts");
    expect(code).toBe(0);
    expect(out).toContain("[train] epoch 5: loss=0.1681");
    expect(out).toMatch(/result: \{ loss: 0\.168\d+, epochs: 5 \}/);
    expect(out).toMatch(/train: Succeeded in \d+ ms/);
  });

  it("ml-pipeline: trains, evaluates, registers; fails with the parameter's message when asked for too much", async () => {
    const passing = await example("examples/ml-pipeline.ts");
    expect(passing.code).toBe(0);
    expect(passing.out).toMatch(/execution \w{12}: Succeeded/);
    expect(passing.out).toContain("evaluate: { accuracy: 0.87, rows: 100 }");
    expect(passing.out).toContain("register: registered with accuracy 0.87");

    const failing = await example("examples/ml-pipeline.ts", "0.99");
    expect(failing.code).toBe(1);
    expect(failing.out).toContain("Step 'not-accurate-enough' failed with message: accuracy is below 0.99");
    expect(failing.out).toMatch(/'preprocess'\s+│ 'Succeeded' │\s+\d+\s+│ 'hit'/);
  });
});
