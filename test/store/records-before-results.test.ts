/**
 * Records before results: a script that exits the moment `result()` or `wait()` answers must leave
 * records that say what the answer said. A real pipeline file runs in a child process (tsx, real
 * Docker) and calls process.exit(0) right after printing; the test then reads the records it left,
 * raw from the store, without the reconciliation a session would apply to an unfinished one.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { layout } from "../../src/store/layout.js";
import type { ExecutionRecord, StepRecord } from "../../src/store/records.js";

const PIPELINE = "exit-right-after";
const stores: string[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await rm(store, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

/** Runs the fixture to its exit and returns what it printed. */
function runFixture(store: string, ask: "result" | "wait"): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/records/exit-right-after.ts", store, ask], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

async function readRecord<T>(store: string, key: string): Promise<T> {
  return JSON.parse(await readFile(join(store, key), "utf8")) as T;
}

describe.each(["result", "wait"] as const)("a process that exits right after %s()", (ask) => {
  it("leaves the execution and its step recorded as Succeeded", async () => {
    const store = await mkdtemp(join(tmpdir(), "stepbox-records-"));
    stores.push(store);
    const run = await runFixture(store, ask);
    expect(run.code, run.stderr).toBe(0);
    const id = /^EXECUTION (\w+)$/m.exec(run.stdout)?.[1];
    expect(id, run.stdout).toBeDefined();
    expect(run.stdout).toContain(ask === "result" ? 'RESULT "hello records"' : "STATUS Succeeded");

    const step = await readRecord<StepRecord>(store, layout.step(PIPELINE, id!, "constant"));
    expect(step.StepStatus).toBe("Succeeded");
    expect(step.EndTime).toBeDefined();
    const execution = await readRecord<ExecutionRecord>(store, layout.execution(PIPELINE, id!));
    expect(execution.PipelineExecutionStatus).toBe("Succeeded");
    expect(execution.FailureReason).toBeUndefined();
  });
});
