/**
 * The transfer events the engine emits around a step's downloads and uploads: started, then bytes so
 * far that only grow, a few a second, then ended with every byte; a failed transfer ends marked failed.
 * The engine's log notes the start and the end.
 */
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { counted, trackTransfer, type TransferEvent, type TransferReport } from "../../src/engine/transfer-progress.js";

const MiB = 1024 ** 2;

/** A report whose events land in `events`, and whose pino logger (at debug level) writes into `logged`. */
function collectingReport(): { report: TransferReport; events: TransferEvent[]; logged: Array<{ event: string; bytes?: number }> } {
  const events: TransferEvent[] = [];
  const logged: Array<{ event: string; bytes?: number }> = [];
  const log = pino({ level: "debug" }, { write: (line: string) => logged.push(JSON.parse(line) as { event: string }) });
  return { report: { emit: (e) => events.push(e), log }, events, logged };
}

/** `chunks` chunks of 64 KiB, one every `everyMs`: a transfer that takes a while. */
function slowSource(chunks: number, everyMs: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent === chunks) {
        this.push(null);
        return;
      }
      sent++;
      setTimeout(() => this.push(Buffer.alloc(64 * 1024)), everyMs);
    },
  });
}

const drain = (): Writable => new Writable({ write: (_chunk, _encoding, done) => done() });

describe("trackTransfer", () => {
  it("reports started, then growing byte counts at most four a second, then ended with every byte", async () => {
    const { report, events, logged } = collectingReport();
    const started = Date.now();
    await trackTransfer(report, { step: "train", direction: "upload", what: "model.tar.gz" }, (count) => pipeline(counted(slowSource(64, 20), count), drain()));
    const took = Date.now() - started;

    expect(events[0]).toMatchObject({ phase: "started", step: "train", direction: "upload", what: "model.tar.gz", bytes: 0 });
    expect(events[0]).not.toHaveProperty("totalBytes");
    const last = events.at(-1)!;
    expect(last).toMatchObject({ phase: "ended", bytes: 4 * MiB });
    expect(last.durationMs).toBeGreaterThan(0);
    expect(last).not.toHaveProperty("failed");

    const progress = events.slice(1, -1);
    expect(progress.every((e) => e.phase === "progress")).toBe(true);
    // 64 chunks over more than a second: several reports, but not one per chunk.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(took / 250));
    // Each report has more than the one before; the last chunk may come just after a report, so the end can equal it.
    const counts = [0, ...progress.map((e) => e.bytes)];
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThan(counts[i - 1]!);
    expect(last.bytes).toBeGreaterThanOrEqual(counts.at(-1)!);
    // The log keeps the start and the end, not every count.
    expect(logged.map((e) => [e.event, e.bytes])).toEqual([
      ["transfer.started", undefined],
      ["transfer.ended", 4 * MiB],
    ]);
  });

  it("carries a known total, and marks a transfer that failed while rethrowing its error", async () => {
    const { report, events } = collectingReport();
    const broken = new Error("connection reset");
    const moving = trackTransfer(report, { step: "train", direction: "download", what: "input data", totalBytes: 10 * MiB }, async (count) => {
      count(MiB);
      throw broken;
    });
    await expect(moving).rejects.toBe(broken);
    expect(events.map((e) => [e.phase, e.bytes, e.totalBytes, e.failed])).toEqual([
      ["started", 0, 10 * MiB, undefined],
      ["ended", MiB, 10 * MiB, true],
    ]);
  });
});

describe("counted", () => {
  it("passes a source's error on to the reader", async () => {
    const source = new Readable({ read() {} });
    const reading = pipeline(
      counted(source, () => {}),
      drain(),
    );
    source.destroy(new Error("disk gone"));
    await expect(reading).rejects.toThrow("disk gone");
  });
});
