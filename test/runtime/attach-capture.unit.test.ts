/**
 * The capture of an attach stream, fed Docker's multiplexed frames through docker-modem's own
 * demultiplexer: the log file holds every byte that arrived before the stream ended, the last line
 * included, whether the stream ends cleanly or breaks.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { captureAttached, DEFAULT_LOG_LIMITS } from "../../src/runtime/docker/container-logs.js";

/** One frame of Docker's multiplexed stream: stream type 1 (stdout) or 2 (stderr), then the payload's length. */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

// No engine is asked anything: the modem is only the demultiplexer.
const modem = new Docker({ socketPath: "/nonexistent" }).modem;
/** The bytes of N numbered lines on stdout, a stderr line among them, and a last line with no newline, in frames cut across chunks. */
function output(lines: number): { chunks: Buffer[]; expected: string[] } {
  const expected: string[] = [];
  const frames: Buffer[] = [];
  for (let i = 1; i <= lines; i++) {
    expected.push(`line ${i}`);
    frames.push(frame(1, `line ${i}\n`));
    if (i === lines / 2) {
      expected.push("a warning");
      frames.push(frame(2, "a warning\n"));
    }
  }
  expected.push("the end, unterminated");
  frames.push(frame(1, "the end, "), frame(1, "unterminated"));
  const all = Buffer.concat(frames);
  // Chunks of 7 bytes: headers and payloads split at every possible place.
  const chunks: Buffer[] = [];
  for (let at = 0; at < all.length; at += 7) chunks.push(all.subarray(at, at + 7));
  return { chunks, expected };
}

describe("captureAttached", () => {
  it("stores every line, the unterminated last one included, when the stream ends and closes at once", async ({ tempDir: dir }) => {
    for (let run = 0; run < 20; run++) {
      const raw = new PassThrough();
      const file = join(dir, `clean-${run}.log`);
      const live: string[] = [];
      const logs = captureAttached(raw, modem, file, (line) => live.push(line), DEFAULT_LOG_LIMITS);
      const { chunks, expected } = output(500);
      for (const chunk of chunks) raw.write(chunk);
      // The end with data still buffered, and the close right after, as the socket under an attach does.
      raw.end();
      raw.once("end", () => raw.destroy());
      await logs.done;
      expect(live).toEqual(expected);
      expect(await readFile(file, "utf8")).toBe(`${expected.join("\n")}\n`);
      expect(logs.tail.at(-1)).toBe("the end, unterminated");
    }
  });

  it("keeps what arrived, and says the rest is missing, when the stream breaks before its end", async ({ tempDir: dir }) => {
    const raw = new PassThrough();
    const file = join(dir, "broken.log");
    const logs = captureAttached(raw, modem, file, () => undefined, DEFAULT_LOG_LIMITS);
    raw.write(Buffer.concat([frame(1, "before\n"), frame(2, "half a li")]));
    await new Promise((resolve) => setImmediate(resolve));
    raw.destroy(new Error("the engine went away"));
    await logs.done;
    expect(await readFile(file, "utf8")).toBe(
      "before\nhalf a li\n[stepbox] the container's output stopped reaching stepbox before the container ended: the engine went away\n",
    );
  });
});
