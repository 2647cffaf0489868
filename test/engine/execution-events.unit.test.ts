/**
 * The hub one execution's events go through: listeners hear events in the order emitted; an iterator
 * replays the state changes so far, buffers everything from when it was taken, and ends after the
 * execution's end (or throws the run's own failure).
 */
import { describe, expect, it } from "vitest";
import { type ExecutionEvent, ExecutionEventHub, StateChanges } from "../../src/engine/execution-events.js";
import type { StepRecord } from "../../src/store/records.js";

const at = new Date("2026-01-01T00:00:00Z");
const executing: ExecutionEvent = { type: "execution", status: "Executing", at };
const succeeded: ExecutionEvent = { type: "execution", status: "Succeeded", at };
const line = (text: string): ExecutionEvent => ({ type: "log", step: "train", stream: "stdout", line: text });

function stepRecord(status: StepRecord["StepStatus"], attempt = 1): StepRecord {
  return { StepName: "train", StepDisplayName: "train", StepDescription: "", StepStatus: status, AttemptCount: attempt, Metadata: {} };
}

async function readAll(events: AsyncIterable<ExecutionEvent>): Promise<ExecutionEvent[]> {
  const seen: ExecutionEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

describe("ExecutionEventHub", () => {
  it("tells listeners each event in order until they unsubscribe", () => {
    const hub = new ExecutionEventHub();
    const heard: ExecutionEvent[] = [];
    const unsubscribe = hub.subscribe((e) => heard.push(e));
    hub.emit(executing);
    hub.emit(line("one"));
    unsubscribe();
    hub.emit(line("two"));
    expect(heard).toEqual([executing, line("one")]);
  });

  it("replays the state changes so far to a late iterator, then buffers every event until the end, and ends there", async () => {
    const hub = new ExecutionEventHub();
    hub.emit(executing);
    // A line before the iterator is taken passes once: only state changes are kept.
    hub.emit(line("before"));
    const events = hub.iterate();
    hub.emit(line("after"));
    hub.emit({ type: "attempt", step: "train", attempt: 1, delaySeconds: 2 });
    hub.emit(succeeded);
    // Nothing is told after the end.
    hub.emit(line("late"));
    expect(await readAll(events)).toEqual([executing, line("after"), { type: "attempt", step: "train", attempt: 1, delaySeconds: 2 }, succeeded]);
  });

  it("wakes a reader waiting for the next event", async () => {
    const hub = new ExecutionEventHub();
    const reading = readAll(hub.iterate());
    // The reader is waiting now; each emit must reach it.
    await new Promise((resolve) => setImmediate(resolve));
    hub.emit(executing);
    await new Promise((resolve) => setImmediate(resolve));
    hub.emit(line("x"));
    hub.emit(succeeded);
    expect(await reading).toEqual([executing, line("x"), succeeded]);
  });

  it("gives an iterator taken after the end the whole recorded story, ended", async () => {
    const hub = new ExecutionEventHub();
    hub.emit(executing);
    hub.emit(succeeded);
    expect(await readAll(hub.iterate())).toEqual([executing, succeeded]);
  });

  it("throws the run's failure to readers once their buffered events are read", async () => {
    const hub = new ExecutionEventHub();
    const events = hub.iterate();
    hub.emit(executing);
    const broken = new Error("the engine broke");
    hub.fail(broken);
    expect(await events.next()).toEqual({ value: executing, done: false });
    await expect(events.next()).rejects.toBe(broken);
    await expect(readAll(hub.iterate())).rejects.toBe(broken);
  });

  it("stops buffering for a reader that leaves early", async () => {
    const hub = new ExecutionEventHub();
    const events = hub.iterate();
    hub.emit(executing);
    for await (const event of events) {
      expect(event).toEqual(executing);
      break;
    }
    hub.emit(line("unread"));
    expect(await events.next()).toEqual({ value: undefined, done: true });
  });
});

describe("StateChanges", () => {
  it("tells a step's change of status or attempt, not a rewrite of the same state", () => {
    const changes = new StateChanges();
    const told = [
      changes.step(stepRecord("Starting"), at),
      changes.step(stepRecord("Executing"), at),
      changes.step({ ...stepRecord("Executing"), Metadata: { TrainingJob: { Arn: "x" } as never } }, at),
      changes.step(stepRecord("Executing", 2), at),
      changes.step({ ...stepRecord("Failed", 2), FailureReason: "AlgorithmError: boom" }, at),
    ];
    expect(told.map((e) => e && [e.status, e.attempt, e.failureReason])).toEqual([
      ["Starting", 1, undefined],
      ["Executing", 1, undefined],
      undefined,
      ["Executing", 2, undefined],
      ["Failed", 2, "AlgorithmError: boom"],
    ]);
  });
});
