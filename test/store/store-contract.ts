import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { NotFoundError, ValidationError } from "../../src/errors.js";
import type { ArtifactStore } from "../../src/store/artifact-store.js";

const MiB = 1024 * 1024;

/** Deterministic bytes that differ at every offset (so a shifted or repeated block shows). */
export function patternBytes(length: number, seed = 1): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A stream of `bytes` in chunks of uneven sizes, as a pipe or a gzip would deliver them. */
export function chunked(bytes: Buffer, sizes: readonly number[] = [1, 4095, 65536, 1_000_003, 7]): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length] ?? 65536;
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return Readable.from(chunks, { objectMode: false });
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A stream that hands out `chunks` one every `delayMs`, then (optionally) fails instead of ending. */
export function slowStream(chunks: readonly Buffer[], delayMs: number, failWith?: Error): Readable {
  return Readable.from(
    (async function* () {
      for (const chunk of chunks) {
        await sleep(delayMs);
        yield chunk;
      }
      if (failWith !== undefined) throw failWith;
    })(),
    { objectMode: false },
  );
}

/**
 * A stream that hands out all but the last chunk, tells `inFlight` once it has, and holds the last
 * chunk back until `release` settles: a write that is surely in flight for as long as a test needs.
 */
export function heldStream(chunks: readonly Buffer[], release: Promise<void>): { stream: Readable; inFlight: Promise<void> } {
  let signal: () => void = () => undefined;
  const inFlight = new Promise<void>((resolve) => {
    signal = resolve;
  });
  const stream = Readable.from(
    (async function* () {
      for (const chunk of chunks.slice(0, -1)) yield chunk;
      signal();
      await release;
      yield* chunks.slice(-1);
    })(),
    { objectMode: false },
  );
  return { stream, inFlight };
}

const INVALID_KEYS = ["", "/abs", "a/../b", "..", "a/./b", ".", "a//b", "a/", "a\\b", "a\0b", "a\nb", ".x.0123456789ab.tmp"];

/**
 * Registers the behaviour every `ArtifactStore` shares. `makeStore` gives each test a fresh, empty store;
 * the engine relies on exactly these rules and never asks which kind of store it has.
 */
export function describeArtifactStoreContract(name: string, makeStore: () => Promise<ArtifactStore>): void {
  describe(`${name}: the ArtifactStore contract`, () => {
    it("gets back what it put, as a string or a Buffer", async () => {
      const store = await makeStore();
      await store.put("p/e/step.json", '{"ok":true}');
      await store.put("p/e/payload.bin", Buffer.from([1, 2, 3]));
      expect((await store.get("p/e/step.json")).toString("utf8")).toBe('{"ok":true}');
      expect(await store.get("p/e/payload.bin")).toEqual(Buffer.from([1, 2, 3]));
    });

    it("replaces an object on a second put", async () => {
      const store = await makeStore();
      await store.put("k", "first, and longer than the second");
      await store.put("k", "second");
      expect((await store.get("k")).toString()).toBe("second");
    });

    it("keeps binary bytes exact, empty objects and non-ASCII keys included", async () => {
      const store = await makeStore();
      const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      // Bytes that look like aws-chunked framing must come back as they went in.
      const framing = Buffer.from("a\r\nraw\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "latin1");
      const body = Buffer.concat([every, framing, patternBytes(100_000)]);
      await store.put("bin/all.bin", body);
      await store.put("bin/empty.bin", Buffer.alloc(0));
      await store.put("unicode/naïve café/ü 1 + 2 & <3>.txt", "ünïcödé");
      expect((await store.get("bin/all.bin")).equals(body)).toBe(true);
      expect((await store.get("bin/empty.bin")).length).toBe(0);
      expect((await store.get("unicode/naïve café/ü 1 + 2 & <3>.txt")).toString()).toBe("ünïcödé");
      expect(await store.list("unicode")).toEqual(["unicode/naïve café/ü 1 + 2 & <3>.txt"]);
    });

    it("streams a multi-MiB object in and out byte for byte", async () => {
      const store = await makeStore();
      const body = patternBytes(21 * MiB + 12_345, 7);
      const { bytes } = await store.putStream("big/output.tar.gz", chunked(body));
      expect(bytes).toBe(body.length);
      const back = await readAll(await store.getStream("big/output.tar.gz"));
      expect(back.length).toBe(body.length);
      expect(back.equals(body)).toBe(true);
      expect((await store.get("big/output.tar.gz")).equals(body)).toBe(true);
    });

    it("streams an empty stream in as an empty object", async () => {
      const store = await makeStore();
      expect(await store.putStream("logs/empty.log", Readable.from([]))).toEqual({ bytes: 0 });
      expect((await readAll(await store.getStream("logs/empty.log"))).length).toBe(0);
    });

    it("tells whether an object exists; a folder is not an object", async () => {
      const store = await makeStore();
      await store.put("p/e/execution.json", "{}");
      expect(await store.exists("p/e/execution.json")).toBe(true);
      expect(await store.exists("p/e")).toBe(false);
      expect(await store.exists("p/e/execution")).toBe(false);
      expect(await store.exists("p/e/execution.json.bak")).toBe(false);
      expect(await store.exists("nothing/here")).toBe(false);
    });

    it("lists every key under a prefix, recursively and sorted, and no neighbour sharing its letters", async () => {
      const store = await makeStore();
      const keys = ["run/b/2.json", "run/a.json", "run/b/1.json", "run/b/c/d/deep.bin", "run-2/x.json", "runner.json", "z.json"];
      for (const key of keys) await store.put(key, key);
      expect(await store.list("run")).toEqual(["run/a.json", "run/b/1.json", "run/b/2.json", "run/b/c/d/deep.bin"]);
      expect(await store.list("run/b")).toEqual(["run/b/1.json", "run/b/2.json", "run/b/c/d/deep.bin"]);
      expect(await store.list("run/a.json")).toEqual(["run/a.json"]);
      expect(await store.list("")).toEqual([...keys].sort());
      expect(await store.list("absent")).toEqual([]);
      expect(await store.list("run/b/1")).toEqual([]);
    });

    it("lists the immediate children of a prefix, objects and folders, sorted", async () => {
      const store = await makeStore();
      for (const key of ["p/pipeline.json", "p/e2/execution.json", "p/e1/execution.json", "p/e1/train/step.json", "q/pipeline.json"]) {
        await store.put(key, "{}");
      }
      expect(await store.listChildren("")).toEqual(["p", "q"]);
      expect(await store.listChildren("p")).toEqual(["e1", "e2", "pipeline.json"]);
      expect(await store.listChildren("p/e1")).toEqual(["execution.json", "train"]);
      expect(await store.listChildren("p/pipeline.json")).toEqual([]);
      expect(await store.listChildren("absent")).toEqual([]);
    });

    it("deletes a whole prefix, or one object, and nothing beside it", async () => {
      const store = await makeStore();
      for (const key of ["p/e1/a.json", "p/e1/s/b.bin", "p/e1/s/t/c.log", "p/e10/a.json", "p/e1.json", "p/keep.json"]) {
        await store.put(key, key);
      }
      await store.deletePrefix("p/e1");
      expect(await store.list("")).toEqual(["p/e1.json", "p/e10/a.json", "p/keep.json"]);
      expect(await store.listChildren("p")).toEqual(["e1.json", "e10", "keep.json"]);
      await store.deletePrefix("p/keep.json");
      expect(await store.exists("p/keep.json")).toBe(false);
      await store.deletePrefix("p/e10/a.json");
      // A folder that the delete emptied is gone too, as on S3 where folders are only prefixes.
      expect(await store.listChildren("p")).toEqual(["e1.json"]);
      await expect(store.deletePrefix("never/was")).resolves.toBeUndefined();
    });

    it("deletes more objects than one request can carry", async () => {
      const store = await makeStore();
      const keys = Array.from({ length: 1_050 }, (_, i) => `many/${String(i).padStart(4, "0")}.json`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((key) => store.put(key, "1")));
      await store.put("other.json", "1");
      expect(await store.list("many")).toEqual(keys);
      expect(await store.listChildren("many")).toHaveLength(1_050);
      await store.deletePrefix("many");
      expect(await store.list("")).toEqual(["other.json"]);
    });

    it("answers NotFoundError, naming the key, for an absent object", async () => {
      const store = await makeStore();
      await store.put("p/e/x.json", "{}");
      for (const read of [(key: string) => store.get(key), (key: string) => store.getStream(key)]) {
        for (const key of ["p/e/missing.json", "p/e", "nowhere/at/all"]) {
          const error: unknown = await read(key).then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(error).toBeInstanceOf(NotFoundError);
          expect(error).toMatchObject({ code: "NOT_FOUND", key });
        }
      }
    });

    it("refuses invalid keys with a ValidationError that names the key, whatever the method", async () => {
      const store = await makeStore();
      for (const key of INVALID_KEYS) {
        const calls: Array<() => Promise<unknown>> = [
          () => store.put(key, "x"),
          () => store.putStream(key, Readable.from([Buffer.from("x")])),
          () => store.get(key),
          () => store.getStream(key),
          () => store.exists(key),
          () => store.deletePrefix(key),
        ];
        if (key !== "")
          calls.push(
            () => store.list(key),
            () => store.listChildren(key),
          );
        for (const call of calls) {
          const error: unknown = await call().then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(error, `key ${JSON.stringify(key)}`).toBeInstanceOf(ValidationError);
          expect((error as Error).message).toContain(JSON.stringify(key));
        }
      }
      expect(await store.list("")).toEqual([]);
    });

    it("never shows a reader part of an object while a slow write is in flight", async () => {
      const store = await makeStore();
      const old = patternBytes(300_000, 3);
      await store.put("p/e/results/payload.bin", old);
      const next = patternBytes(600_000, 4);
      const pieces = Array.from({ length: 10 }, (_, i) => next.subarray(i * 60_000, (i + 1) * 60_000));
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const overwrite = heldStream(pieces, released);
      const create = heldStream(pieces, released);
      const writes = Promise.all([store.putStream("p/e/results/payload.bin", overwrite.stream), store.putStream("p/e/fresh.bin", create.stream)]);
      await Promise.all([overwrite.inFlight, create.inFlight]);
      for (let read = 0; read < 5; read++) {
        expect((await store.get("p/e/results/payload.bin")).equals(old)).toBe(true);
        expect((await readAll(await store.getStream("p/e/results/payload.bin"))).equals(old)).toBe(true);
        expect(await store.exists("p/e/fresh.bin")).toBe(false);
        await expect(store.get("p/e/fresh.bin")).rejects.toBeInstanceOf(NotFoundError);
        expect(await store.list("p")).toEqual(["p/e/results/payload.bin"]);
        expect(await store.listChildren("p/e")).toEqual(["results"]);
        await sleep(10);
      }
      release();
      await writes;
      expect((await store.get("p/e/results/payload.bin")).equals(next)).toBe(true);
      expect((await store.get("p/e/fresh.bin")).equals(next)).toBe(true);
    });

    it("keeps the previous object when the source stream fails, and gives back the source's error", async () => {
      const store = await makeStore();
      await store.put("logs/job.log", "complete old log");
      const failure = new Error("the container's log stream broke");
      const error: unknown = await store.putStream("logs/job.log", slowStream([Buffer.from("partial new "), Buffer.from("log")], 5, failure)).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBe(failure);
      expect((await store.get("logs/job.log")).toString()).toBe("complete old log");
      expect(await store.list("logs")).toEqual(["logs/job.log"]);
      await expect(store.putStream("logs/new.log", slowStream([Buffer.from("x")], 5, failure))).rejects.toBe(failure);
      expect(await store.exists("logs/new.log")).toBe(false);
    });

    it("ends concurrent writes of one key with one of them, whole", async () => {
      const store = await makeStore();
      const bodies = Array.from({ length: 6 }, (_, i) => patternBytes(50_000 + i, 10 + i));
      await Promise.all(bodies.map((body, i) => (i % 2 === 0 ? store.put("race.bin", body) : store.putStream("race.bin", chunked(body)))));
      const final = await store.get("race.bin");
      expect(bodies.some((body) => body.equals(final))).toBe(true);
      expect(await store.list("")).toEqual(["race.bin"]);
    });
  });
}
