import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepStoreTempFiles } from "../../src/session/store-temp-sweep.js";
import { LocalFileStore } from "../../src/store/local-store.js";
import { writerPid } from "../../src/store/temp-files.js";
import { buildCli, cli } from "../cli/cli.js";
import { deadPid, exited } from "../support/processes.js";
import { startSlowWriter } from "../support/slow-writer.js";
import { patternBytes } from "./store-contract.js";

let base: string;
let count = 0;

beforeAll(async () => {
  await buildCli();
  base = await mkdtemp(join(tmpdir(), "stepbox-temp-files-"));
}, 300_000);
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const freshRoot = (): string => join(base, `store-${++count}`);

/** Temp files under a folder, relative. */
async function tempFilesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".tmp"))
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

/** A temp file as a writer leaves it, last changed `ageMs` ago. */
async function leftTempFile(root: string, relativePath: string, ageMs: number): Promise<void> {
  const path = join(root, relativePath);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, "half");
  const at = new Date(Date.now() - ageMs);
  await utimes(path, at, at);
}

/** Kills a child process while it streams an object into the store; its temp file stays. */
async function killWriterMidWrite(root: string): Promise<number> {
  const child = await startSlowWriter(root, "p/e/train/results/payload.bin", 2);
  child.kill("SIGKILL");
  await exited(child);
  return child.pid!;
}

describe("the local store's temp files", () => {
  it("name the writer's pid, and no reader or listing shows one while it is in flight", async () => {
    const root = freshRoot();
    const store = new LocalFileStore(root);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const body = Readable.from(
      (async function* () {
        yield patternBytes(1000);
        await held;
        yield patternBytes(1000, 2);
      })(),
    );
    const writing = store.putStream("p/e/results/payload.bin", body);
    // The temp file exists once the first chunk is written; wait for it on the file system.
    let temps: string[] = [];
    while (temps.length === 0) temps = await tempFilesUnder(root).catch(() => []);
    expect(temps).toHaveLength(1);
    expect(writerPid(temps[0]!.split("/").pop()!)).toBe(process.pid);
    expect(await store.list("")).toEqual([]);
    expect(await store.listChildren("p/e/results")).toEqual([]);
    expect(await store.exists("p/e/results/payload.bin")).toBe(false);
    // A live writer keeps its temp file, however old the sweep is told to count it.
    expect((await sweepStoreTempFiles(store, 0)).removed).toEqual([]);
    release();
    await writing;
    expect(await store.list("p")).toEqual(["p/e/results/payload.bin"]);
    expect(await tempFilesUnder(root)).toEqual([]);
  });

  it("of a killed writer are swept once they are old enough; a live writer's, a fresh one and objects stay", async () => {
    const root = freshRoot();
    const store = new LocalFileStore(root);
    await store.put("p/e/train/results/payload.bin", "the old result");
    const killed = await killWriterMidWrite(root);
    const [left] = await tempFilesUnder(root);
    expect(writerPid(left!.split("/").pop()!)).toBe(killed);

    const gone = await deadPid();
    await leftTempFile(root, `p/e/.execution.json.${gone}.0123456789ab.tmp`, 10 * 60_000);
    await leftTempFile(root, "p/e/.step.json.0123456789ab.tmp", 10 * 60_000); // named before temp names carried the pid
    await leftTempFile(root, `p/e/.fresh.json.${gone}.0123456789ab.tmp`, 0);
    await leftTempFile(root, `p/e/.live.json.${process.pid}.0123456789ab.tmp`, 10 * 60_000);

    // The killed writer's file was just written to: too fresh for the default age.
    const first = await sweepStoreTempFiles(store);
    expect(first.failed).toEqual([]);
    expect(first.removed.map((path) => path.slice(root.length + 1)).sort()).toEqual([
      `p/e/.execution.json.${gone}.0123456789ab.tmp`,
      "p/e/.step.json.0123456789ab.tmp",
    ]);

    const second = await sweepStoreTempFiles(store, 0);
    expect(second.removed.map((path) => path.slice(root.length + 1)).sort()).toEqual([`p/e/.fresh.json.${gone}.0123456789ab.tmp`, left].sort());
    expect(await tempFilesUnder(root)).toEqual([`p/e/.live.json.${process.pid}.0123456789ab.tmp`]);
    expect((await store.get("p/e/train/results/payload.bin")).toString()).toBe("the old result");
  });

  it("of killed writers are swept by stepbox gc, which reports how many", async () => {
    const root = freshRoot();
    const gone = await deadPid();
    await leftTempFile(root, `p/e/.execution.json.${gone}.0123456789ab.tmp`, 10 * 60_000);
    const dry = await cli(root, ["gc", "--older-than", "1d", "--dry-run", "--json"]);
    expect(JSON.parse(dry.stdout)).toMatchObject({ DryRun: true, RemovedTempFiles: 0 });
    expect(await tempFilesUnder(root)).toHaveLength(1);
    const gc = await cli(root, ["gc", "--older-than", "1d"]);
    expect(gc.stderr).toBe("");
    expect(gc.stdout).toMatch(/^removed 1 temp file\(s\) that killed writes left\n/);
    expect(await tempFilesUnder(root)).toEqual([]);
  });
});
