import { once } from "node:events";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreError, ValidationError } from "../../src/errors.js";
import { LocalFileStore } from "../../src/store/local-store.js";
import { defaultArtifactRoot, openArtifactStore } from "../../src/store/open-store.js";
import { startSlowWriter } from "../support/slow-writer.js";
import { describeArtifactStoreContract, patternBytes, slowStream } from "./store-contract.js";

let base: string;
let count = 0;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "stepbox-local-store-"));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function freshRoot(): Promise<string> {
  return join(base, `store-${++count}`);
}

describeArtifactStoreContract("LocalFileStore", async () => new LocalFileStore(await freshRoot()));

/** Every file under a folder, in-flight temp files included, relative and sorted. */
async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(folder.length + 1))
    .sort();
}

describe("LocalFileStore", () => {
  it("keeps the key a/b/c as the file <root>/a/b/c, and names itself by file URL", async () => {
    const root = await freshRoot();
    const store = new LocalFileStore(root);
    await store.put("a/b/c.json", "{}");
    expect(await filesUnder(root)).toEqual(["a/b/c.json"]);
    expect(store.uri).toBe(pathToFileURL(root).href);
    expect(store.root).toBe(root);
  });

  it("refuses a relative root", () => {
    expect(() => new LocalFileStore("relative/runs")).toThrow(ValidationError);
  });

  it("hides in-flight temp files from listings and leaves none after a failed write", async () => {
    const root = await freshRoot();
    const store = new LocalFileStore(root);
    await store.put("p/e/a.json", "{}");
    await writeFile(join(root, "p/e/.b.json.0123456789ab.tmp"), "half");
    await mkdir(join(root, "p/.e2.0123456789ab.tmp"));
    expect(await store.list("p")).toEqual(["p/e/a.json"]);
    expect(await store.listChildren("p")).toEqual(["e"]);
    expect(await store.listChildren("p/e")).toEqual(["a.json"]);
    await rm(join(root, "p/e/.b.json.0123456789ab.tmp"));
    await rm(join(root, "p/.e2.0123456789ab.tmp"), { recursive: true });

    await expect(store.putStream("p/e/b.json", slowStream([Buffer.from("partial")], 1, new Error("source broke")))).rejects.toThrow("source broke");
    expect(await filesUnder(root)).toEqual(["p/e/a.json"]);
  });

  it("stores what a file stream reads: a whole file, a slice of one, the rest of one already started, and closes it", async () => {
    const root = await freshRoot();
    const store = new LocalFileStore(root);
    const source = join(root, "..", `source-${count}.bin`);
    const bytes = patternBytes(3 * 1024 * 1024 + 17);
    await writeFile(source, bytes);

    const whole = createReadStream(source);
    expect(await store.putStream("whole.bin", whole)).toEqual({ bytes: bytes.length });
    expect((await store.get("whole.bin")).equals(bytes)).toBe(true);
    if (!whole.closed) await once(whole, "close");

    expect(await store.putStream("slice.bin", createReadStream(source, { start: 10, end: 99 }))).toEqual({ bytes: 90 });
    expect((await store.get("slice.bin")).equals(bytes.subarray(10, 100))).toBe(true);

    const started = createReadStream(source, { highWaterMark: 1000 });
    const first = (await once(started, "readable")) && (started.read(100) as Buffer);
    expect(first.length).toBe(100);
    const { bytes: rest } = await store.putStream("rest.bin", started);
    expect((await store.get("rest.bin")).equals(bytes.subarray(100))).toBe(true);
    expect(rest).toBe(bytes.length - 100);
    expect(await filesUnder(root)).toEqual(["rest.bin", "slice.bin", "whole.bin"]);
  });

  it("gives a missing source file's own error back, and leaves nothing behind", async () => {
    const root = await freshRoot();
    const store = new LocalFileStore(root);
    await expect(store.putStream("gone.bin", createReadStream(join(root, "..", "no-such-file.bin")))).rejects.toMatchObject({ code: "ENOENT" });
    expect(await store.exists("gone.bin")).toBe(false);
  });

  it("reports a write that cannot happen as a StoreError naming the key and the store", async () => {
    const root = await freshRoot();
    const store = new LocalFileStore(root);
    await store.put("taken", "an object, so it cannot be a folder too");
    const error: unknown = await store.put("taken/child.json", "{}").then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toContain("taken/child.json");
    expect((error as Error).message).toContain(store.uri);
    expect(await filesUnder(root)).toEqual(["taken"]);
  });

  it("keeps the previous object whole when the writing process is killed mid-write", async () => {
    const root = await freshRoot();
    const store = new LocalFileStore(root);
    const old = patternBytes(200_000, 5);
    await store.put("p/e/results/payload.bin", old);
    // The child writes the object slowly and tells the parent once half of it is in flight.
    const child = await startSlowWriter(root, "p/e/results/payload.bin", 4);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;

    expect((await filesUnder(root)).some((file) => /\.payload\.bin\.\d+\.[0-9a-f]{12}\.tmp$/.test(file))).toBe(true);
    expect((await store.get("p/e/results/payload.bin")).equals(old)).toBe(true);
    expect(await store.list("p")).toEqual(["p/e/results/payload.bin"]);
    expect(await store.listChildren("p/e/results")).toEqual(["payload.bin"]);
  });
});

describe("openArtifactStore and defaultArtifactRoot (local)", () => {
  it("opens a folder, a relative path or a file URL as a LocalFileStore", () => {
    const absolute = openArtifactStore("/var/tmp/stepbox-runs");
    expect(absolute).toBeInstanceOf(LocalFileStore);
    expect(absolute.uri).toBe("file:///var/tmp/stepbox-runs");
    expect(openArtifactStore("runs/here", { cwd: "/srv/project" }).uri).toBe("file:///srv/project/runs/here");
    expect(openArtifactStore("file:///srv/a%20b/runs").uri).toBe("file:///srv/a%20b/runs");
    expect((openArtifactStore("file:///srv/a%20b/runs") as LocalFileStore).root).toBe("/srv/a b/runs");
  });

  it("reopens a store from its own uri", () => {
    const store = openArtifactStore("/srv/runs");
    expect(openArtifactStore(store.uri).uri).toBe(store.uri);
  });

  it("refuses an empty root, an unknown scheme and a file URL with a host", () => {
    for (const root of ["", "  ", "gs://bucket/runs", "https://example.com/runs", "file://host/runs"]) {
      expect(() => openArtifactStore(root), root).toThrow(ValidationError);
    }
  });

  it("defaults to STEPBOX_HOME, else <cwd>/.stepbox", () => {
    expect(defaultArtifactRoot({}, "/srv/project")).toBe("/srv/project/.stepbox");
    expect(defaultArtifactRoot({ STEPBOX_HOME: "" }, "/srv/project")).toBe("/srv/project/.stepbox");
    expect(defaultArtifactRoot({ STEPBOX_HOME: "/data/runs" }, "/srv/project")).toBe("/data/runs");
    expect(defaultArtifactRoot({ STEPBOX_HOME: "runs" }, "/srv/project")).toBe("/srv/project/runs");
    expect(defaultArtifactRoot({ STEPBOX_HOME: "s3://stepbox/runs" }, "/srv/project")).toBe("s3://stepbox/runs");
  });
});
