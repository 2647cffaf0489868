/**
 * `execution.events()` through the real Pipeline, ExecutionRun and function-step executor, with the
 * steps run in this process by the in-process runtime: a live run's stream, and the stream another
 * reader gets by watching the records of an execution it does not run.
 */
import { join } from "node:path";
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { type ExecutionEvent, Pipeline } from "stepbox";
import { gate, gated } from "../fixtures/event-steps.js";
import { add, flakyRetried } from "../fixtures/scheduler-steps.js";
import { inProcessSession } from "../support/in-process-runtime.js";

const inProcess = (root: string) => inProcessSession(root);

async function readAll(events: AsyncIterable<ExecutionEvent>): Promise<ExecutionEvent[]> {
  const seen: ExecutionEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

/** "execution Executing", "add Starting 1", "log add: adding 1 and 2", ...: the stream in short. */
function brief(e: ExecutionEvent): string {
  switch (e.type) {
    case "execution":
      return `execution ${e.status}`;
    case "step":
      return `${e.step} ${e.status} ${e.attempt}`;
    case "attempt":
      return `${e.step} retry after attempt ${e.attempt}`;
    case "transfer":
      return `${e.step} ${e.direction} ${e.what} ${e.phase}`;
    case "log":
      return `log ${e.step}: ${e.line}`;
  }
}

describe("a live execution's events", () => {
  it("tell each step's states in order, its lines and transfers, and end with the execution's end", async ({ tempDir: root }) => {
    const { session, lines } = inProcess(root);
    const first = add(1, 2);
    const second = add(first, 10);
    const execution = await new Pipeline({ name: "events-chain", steps: [second], session }).start();
    const events = await readAll(execution.events());

    const shown = events.map(brief);
    expect(shown[0]).toBe("execution Executing");
    expect(shown.at(-1)).toBe("execution Succeeded");
    expect(shown.filter((s) => s.startsWith("execution"))).toEqual(["execution Executing", "execution Succeeded"]);
    for (const [name, line] of [
      ["add", "adding 1 and 2"],
      ["add-2", "adding 3 and 10"],
    ] as const) {
      expect(shown.filter((s) => s.startsWith(`${name} `) && !s.includes(" upload "))).toEqual([
        `${name} Starting 1`,
        `${name} Executing 1`,
        `${name} Succeeded 1`,
      ]);
      // Between its Executing and its end: the step's line, and its logs going up to the store.
      const executing = shown.indexOf(`${name} Executing 1`);
      const ended = shown.indexOf(`${name} Succeeded 1`);
      const during = shown.slice(executing + 1, ended);
      expect(during).toContain(`log ${name}: ${line}`);
      expect(during.filter((s) => s.startsWith(`${name} upload logs`))).toEqual([`${name} upload logs started`, `${name} upload logs ended`]);
    }
    // add-2 uses add's result: it starts only after add succeeded.
    expect(shown.indexOf("add-2 Starting 1")).toBeGreaterThan(shown.indexOf("add Succeeded 1"));
    // The session's onLog hears the same lines.
    expect(lines.map((l) => `log ${l.step}: ${l.line}`)).toEqual(shown.filter((s) => s.startsWith("log ")));
    // The end is told once the store says so.
    expect((await session.records.readExecution("events-chain", execution.id)).PipelineExecutionStatus).toBe("Succeeded");
  });

  it("tell a retry between the failed attempt and the next one", async ({ tempDir: root }) => {
    const { session } = inProcess(root);
    const execution = await new Pipeline({ name: "events-retry", steps: [flakyRetried(join(root, "events-flaky"), 2)], session }).start();
    const shown = (await readAll(execution.events())).filter((e) => e.type !== "log" && e.type !== "transfer").map(brief);
    expect(shown).toEqual([
      "execution Executing",
      "flaky Starting 1",
      "flaky Executing 1",
      "flaky retry after attempt 1",
      "flaky Executing 2",
      "flaky Succeeded 2",
      "execution Succeeded",
    ]);
  });

  it("are there in full for a caller that starts reading after the run ended", async ({ tempDir: root }) => {
    const { session } = inProcess(root);
    const execution = await new Pipeline({ name: "events-late", steps: [add(2, 2)], session }).start();
    await execution.wait();
    const shown = (await readAll(execution.events())).map(brief);
    // State changes are kept; lines and transfers passed while no one read.
    expect(shown).toEqual(["execution Executing", "add Starting 1", "add Executing 1", "add Succeeded 1", "execution Succeeded"]);
  });
});

describe("a recorded execution's events", () => {
  it("follow the records of a run this session does not hold, from the states they are in to the end", async ({ tempDir: root }) => {
    const runner = inProcess(root);
    const name = `events-watched-${Date.now()}`;
    const execution = await new Pipeline({ name: "events-watched", steps: [gated(name)], session: runner.session }).start();
    // Another session on the same store: it knows the execution only from its records.
    const reader = inProcessSession(root).session;
    const watched = await new Pipeline({ name: "events-watched", steps: [gated(name)], session: reader }).execution(execution.id);

    const seen: ExecutionEvent[] = [];
    for await (const event of watched.events()) {
      seen.push(event);
      // The step is running and waits at its gate: let it end, which the records must then show.
      if (event.type === "step" && event.status === "Executing") gate(name).open();
    }

    const shown = seen.map(brief);
    expect(shown[0]).toBe("execution Executing");
    expect(shown.slice(-2)).toEqual(["gated Succeeded 1", "execution Succeeded"]);
    expect(shown).toContain("gated Executing 1");
    // Only state changes: the lines and transfers stay with the process that runs it.
    expect(seen.every((e) => e.type === "execution" || e.type === "step")).toBe(true);
    const end = seen.at(-2);
    expect(end?.type === "step" && end.at.getTime()).toBe(new Date((await watched.listSteps())[0]!.EndTime!).getTime());
  });

  it("of an ended execution are its steps' last states, then its end", async ({ tempDir: root }) => {
    const { session } = inProcess(root);
    const execution = await new Pipeline({ name: "events-ended", steps: [add(add(1, 1), 1)], session }).start();
    await execution.wait();
    const reader = inProcessSession(root).session;
    const recorded = await new Pipeline({ name: "events-ended", steps: [add(add(1, 1), 1)], session: reader }).execution(execution.id);
    expect((await readAll(recorded.events())).map(brief)).toEqual(["add Succeeded 1", "add-2 Succeeded 1", "execution Succeeded"]);
  });
});
