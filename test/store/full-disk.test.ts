/**
 * A store on a disk that fills up or goes read-only: the write fails with a StoreError that names the
 * file system's state and the fix, carries the errno to branch on, and leaves no temp file, so the
 * space it took is free again for the records that must say why the run failed.
 */
import { readdir } from "node:fs/promises";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreError } from "../../src/errors.js";
import { LocalFileStore } from "../../src/store/local-store.js";
import { mountSmallDisk, type SmallDisk } from "../support/small-disk.js";
import { patternBytes } from "./store-contract.js";

const MiB = 1024 * 1024;
let disk: SmallDisk | { refused: string };

beforeAll(async () => {
  disk = await mountSmallDisk(MiB);
});
afterAll(async () => {
  if ("unmount" in disk) await disk.unmount();
});

async function writeError(write: Promise<unknown>): Promise<StoreError> {
  const error: unknown = await write.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(StoreError);
  return error as StoreError;
}

async function filesUnder(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
}

describe("a local store on a small disk", () => {
  it("names a full disk (ENOSPC) and the fix, for whole and streamed writes, and frees what the failed write took", async (ctx) => {
    if ("refused" in disk) return ctx.skip(disk.refused);
    const root = `${disk.path}/full`;
    const store = new LocalFileStore(root);
    for (const write of [
      () => store.put("p/e/train/results/payload.bin", patternBytes(2 * MiB)),
      () => store.putStream("p/e/train/output/model.tar.gz", Readable.from([patternBytes(MiB / 2), patternBytes(MiB / 2, 2), patternBytes(MiB / 2, 3)])),
    ]) {
      const error = await writeError(write());
      expect(error.errno).toBe("ENOSPC");
      expect(error.code).toBe("STORE");
      expect(error.detail).toMatch(/^cannot write p\/e\/train\/\S+ to file:\/\/.*: the file system holding .*\/full is full \(ENOSPC\)$/);
      expect(error.hint).toBe("free space on that disk, or set STEPBOX_HOME (or the session's artifactRoot) to a folder on another disk");
      expect(await filesUnder(root)).toEqual([]);
    }
    // What the failed write took is free again: the record that says why still fits.
    await store.put("p/e/execution.json", JSON.stringify({ FailureReason: "the disk is full" }));
    expect(await filesUnder(root)).toEqual(["execution.json"]);
  });

  it("names a read-only disk (EROFS) and the fix, and still reads what it holds", async (ctx) => {
    if ("refused" in disk) return ctx.skip(disk.refused);
    const root = `${disk.path}/readonly`;
    const store = new LocalFileStore(root);
    await store.put("p/e/execution.json", "{}");
    await disk.readOnly();
    const error = await writeError(store.put("p/e/execution.json", '{"changed":true}'));
    expect(error.errno).toBe("EROFS");
    expect(error.detail).toMatch(/: the file system holding .*\/readonly is read-only \(EROFS\)$/);
    expect(error.hint).toMatch(/^make it writable, or set STEPBOX_HOME/);
    expect((await store.get("p/e/execution.json")).toString()).toBe("{}");
    expect(await store.list("p")).toEqual(["p/e/execution.json"]);
  });
});
