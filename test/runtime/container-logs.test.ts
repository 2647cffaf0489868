/**
 * What the engine keeps of a container's output, read from a real container: lines in the order each
 * stream wrote them, a line past the cap split as it arrives, and a log that stops growing at its
 * limit with a last line saying what was not kept, while the live stream still sees every line; and
 * that limit set on a session, for a real step.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipelineSession, Pipeline, ValidationError, type StepLogLine } from "stepbox";
import { captureLogs } from "../../src/runtime/docker/container-logs.js";
import { ensureRuntimeImage } from "../../src/runtime/docker/image.js";
import { LABEL, managedLabels } from "../../src/runtime/docker/labels.js";
import { chatty } from "../fixtures/log-steps.js";

const docker = new Docker();
let image: string;
let dir: string;

beforeAll(async () => {
  image = (await ensureRuntimeImage(docker)).tag;
  dir = await mkdtemp(join(tmpdir(), "stepbox-test-logs-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `script` with node in a sandboxed container of the runtime image, capturing its logs with `limits`. */
async function capture(script: string, limits: { maxLineBytes: number; maxLogBytes: number }) {
  const container = await docker.createContainer({
    Image: image,
    Entrypoint: ["/usr/local/bin/node", "-e", script],
    User: "1000:1000",
    Labels: managedLabels({ [LABEL.owner]: `${hostname()}:${process.pid}` }),
    HostConfig: { ReadonlyRootfs: true, NetworkMode: "none", CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"] },
  });
  const file = join(dir, `${container.id}.log`);
  const live: Array<{ line: string; stream: string }> = [];
  try {
    const logs = await captureLogs(container, file, (line, stream) => live.push({ line, stream }), limits);
    await container.start();
    await container.wait();
    await logs.done;
    return { live, kept: await readFile(file, "utf8"), tail: logs.tail };
  } finally {
    await container.remove({ force: true });
  }
}

describe("captureLogs", () => {
  it("keeps each stream's lines in order, splits a line past the cap, and stops the file at its limit with a note", async () => {
    const script = [
      "const out = (s) => process.stdout.write(s);",
      "for (let i = 0; i < 50; i++) { out(`out ${i}\\n`); process.stderr.write(`err ${i}\\n`); }",
      "out('x'.repeat(2500) + '\\n');", // 2500 bytes, no newline before the end: three pieces of at most 1000
      "for (let i = 0; i < 2000; i++) out(`filler ${i} ${'.'.repeat(40)}\\n`);",
      "out('last line\\n');",
    ].join("\n");
    const { live, kept, tail } = await capture(script, { maxLineBytes: 1000, maxLogBytes: 8 * 1024 });

    const ofStream = (name: string) => live.filter((l) => l.stream === name).map((l) => l.line);
    expect(ofStream("stderr")).toEqual(Array.from({ length: 50 }, (_, i) => `err ${i}`));
    expect(ofStream("stdout").slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => `out ${i}`));
    expect(ofStream("stdout").slice(50, 53)).toEqual(["x".repeat(1000), "x".repeat(1000), "x".repeat(500)]);
    // The live stream and the tail see every line, the kept log does not.
    expect(live.at(-1)).toEqual({ line: "last line", stream: "stdout" });
    expect(tail.at(-1)).toBe("last line");

    expect(Buffer.byteLength(kept)).toBeLessThan(8 * 1024 + 200);
    const keptLines = kept.trimEnd().split("\n");
    expect(keptLines.at(-1)).toMatch(/^\[stepbox\] log limit of 8192 bytes reached: \d+ bytes in \d+ lines were not kept$/);
    expect(kept).not.toContain("last line");
    const dropped = /: (\d+) bytes in (\d+) lines/.exec(keptLines.at(-1)!)!;
    // Every line the container printed is either kept or counted.
    expect(keptLines.length - 1 + Number(dropped[2])).toBe(live.length);
  });

  it("keeps a prefix of the output: after a line that does not fit, a shorter one is not kept either", async () => {
    const { live, kept } = await capture("process.stdout.write('a'.repeat(100) + '\\nb\\n');", { maxLineBytes: 1000, maxLogBytes: 64 });
    expect(live.map((l) => l.line)).toEqual(["a".repeat(100), "b"]);
    expect(kept).toBe("[stepbox] log limit of 64 bytes reached: 103 bytes in 2 lines were not kept\n");
  });
});

describe("a step's stored log", () => {
  it("holds every line of a step that prints fast and returns at once while the engine reads slowly", async () => {
    // The step prints about 1 MiB in one burst, far past a pipe's 64 KiB, and returns. The live display
    // here is slow (it hashes each line), and the engine reads the container's output no faster than
    // it hands lines on: when the step returns, most of what it printed is still in its process, and
    // must reach the log before that process exits.
    const lines = 60_000;
    const root = join(dir, "slow-reader-store");
    let shown = 0;
    const slowDisplay = (l: StepLogLine): void => {
      createHash("sha256").update(l.line.repeat(50)).digest();
      shown += 1;
    };
    const session = new LocalPipelineSession({ artifactRoot: root, secret: "test-secret", onLog: slowDisplay });
    const step = chatty(lines);
    const pipeline = new Pipeline({ name: "slow-reader", steps: [step], session });
    const execution = await pipeline.start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");

    const printed = [...Array.from({ length: lines }, (_, i) => `line ${i} ${".".repeat(40)}`), "last line"];
    const logs = join(root, "slow-reader", execution.id, pipeline.stepName(step), "logs");
    const files = (await readdir(logs, { recursive: true })).filter((f) => f.endsWith(".log"));
    expect(files).toHaveLength(1);
    const kept = (await readFile(join(logs, files[0]!), "utf8")).trimEnd().split("\n");
    expect(shown).toBe(printed.length);
    expect(kept.length).toBe(printed.length);
    expect(kept.at(-1)).toBe("last line");
    expect(kept).toEqual(printed);
  });
});

describe("a session's logLimitBytes", () => {
  it("caps the log the store keeps of a step, with a last line saying what was not kept, and the live stream gets every line", async () => {
    const limit = 4096;
    const live: StepLogLine[] = [];
    const session = new LocalPipelineSession({ artifactRoot: join(dir, "store"), secret: "test-secret", onLog: (l) => live.push(l), logLimitBytes: limit });
    const execution = await new Pipeline({ name: "log-cap", steps: [chatty(500)], session }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");

    const printed = live.filter((l) => l.step === "chatty").map((l) => l.line);
    expect(printed).toHaveLength(501);
    expect(printed.at(-1)).toBe("last line");
    const logs = join(dir, "store", "log-cap", execution.id, "chatty", "logs");
    const files = (await readdir(logs, { recursive: true })).filter((f) => f.endsWith(".log"));
    expect(files).toHaveLength(1);
    const kept = await readFile(join(logs, files[0]!), "utf8");
    const lines = kept.trimEnd().split("\n");
    const note = lines.at(-1)!;
    expect(note).toMatch(new RegExp(`^\\[stepbox\\] log limit of ${limit} bytes reached: \\d+ bytes in \\d+ lines were not kept$`));
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(limit + Buffer.byteLength(`${note}\n`));
    // What is kept is the start of what was printed, and every line printed is kept or counted.
    expect(lines.slice(0, -1)).toEqual(printed.slice(0, lines.length - 1));
    expect(lines.length - 1 + Number(/in (\d+) lines/.exec(note)![1])).toBe(printed.length);
  });

  it("is a whole number of bytes > 0", () => {
    for (const logLimitBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => new LocalPipelineSession({ artifactRoot: join(dir, "store"), secret: "s", logLimitBytes })).toThrow(ValidationError);
    }
    expect(() => new LocalPipelineSession({ artifactRoot: join(dir, "store"), secret: "s", logLimitBytes: 0 })).toThrow(
      /logLimitBytes must be a whole number of bytes > 0, got 0/,
    );
  });
});
