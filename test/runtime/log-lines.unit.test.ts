import { describe, expect, it } from "vitest";
import { LineSplitter } from "../../src/runtime/docker/log-lines.js";

function split(chunks: readonly (string | Buffer)[], max: number): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter(max, (line) => lines.push(line));
  for (const chunk of chunks) splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  splitter.end();
  return lines;
}

describe("LineSplitter", () => {
  it("splits on newlines across chunk boundaries, drops a trailing CR, and keeps an unterminated last line", () => {
    expect(split(["a\nb", "c\r\n", "\nd"], 64)).toEqual(["a", "bc", "", "d"]);
  });

  it("cuts a line longer than the cap into capped lines, never holding more than the cap", () => {
    const long = "x".repeat(10);
    expect(split([long.slice(0, 3), long.slice(3), "\nend\n"], 4)).toEqual(["xxxx", "xxxx", "xx", "end"]);
  });

  it("never cuts inside a UTF-8 character", () => {
    // "é" is two bytes and "€" three: a cap of 4 bytes must not split either.
    const lines = split(["aé€€", "\n"], 4);
    expect(lines.join("")).toBe("aé€€");
    for (const line of lines) {
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(4);
      expect(line).not.toContain("\uFFFD");
    }
  });

  it("handles a 64 MiB line in bounded pieces", () => {
    const lines: number[] = [];
    const splitter = new LineSplitter(256 * 1024, (line) => lines.push(line.length));
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 64; i++) splitter.push(chunk);
    splitter.end();
    expect(lines).toHaveLength(256);
    expect(Math.max(...lines)).toBe(256 * 1024);
  });
});
