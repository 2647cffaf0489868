import { createHash } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { expect } from "vitest";
import { S3Store } from "../../src/store/s3-store.js";
import { it } from "../support/fixtures.js";
import { patternBytes } from "./store-contract.js";

const MiB = 1024 * 1024;
const SIZE = 1024 * MiB;
/** Generous: the store's own need is its multipart parts in flight, about partSize × (queueSize + 1) = 40 MiB. */
const RSS_BOUND = 400 * MiB;

/**
 * `size` bytes made on demand from one 1 MiB block, each chunk stamped with its offset so that a
 * dropped, repeated or reordered chunk changes the hash. Never more than a chunk exists at a time.
 */
function generated(size: number): { stream: Readable; sha256: () => string } {
  const block = patternBytes(MiB, 99);
  const hash = createHash("sha256");
  let offset = 0;
  const stream = new Readable({
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - offset)));
      chunk.writeUInt32BE(offset / MiB, 0);
      offset += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest("hex") };
}

/** Samples this process's resident set size until stopped; returns the peak. */
function sampleRss(everyMs = 20): { stop: () => number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

it("puts a 1 GiB stream in and reads it back, byte-exact by SHA-256, with bounded memory", async ({ s3 }) => {
  const store = new S3Store({
    bucket: s3.bucket,
    prefix: "large",
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    env: {},
  });
  const key = "p/e/train/output/model.tar.gz";
  const before = process.memoryUsage.rss();
  const rss = sampleRss();

  const startedUp = performance.now();
  const source = generated(SIZE);
  expect(await store.putStream(key, source.stream)).toEqual({ bytes: SIZE });
  const upSeconds = (performance.now() - startedUp) / 1000;

  const startedDown = performance.now();
  const hash = createHash("sha256");
  let received = 0;
  await pipeline(
    await store.getStream(key),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        received += chunk.length;
        done();
      },
    }),
  );
  const downSeconds = (performance.now() - startedDown) / 1000;
  const peak = rss.stop();

  expect(received).toBe(SIZE);
  expect(hash.digest("hex")).toBe(source.sha256());
  console.log(
    `1 GiB through S3Store (s3rver): put ${upSeconds.toFixed(1)} s (${(1024 / upSeconds).toFixed(0)} MiB/s), ` +
      `get ${downSeconds.toFixed(1)} s (${(1024 / downSeconds).toFixed(0)} MiB/s); ` +
      `RSS ${(before / MiB).toFixed(0)} MiB at start, peak ${(peak / MiB).toFixed(0)} MiB (+${((peak - before) / MiB).toFixed(0)} MiB)`,
  );
  expect(peak - before).toBeLessThan(RSS_BOUND);
  await store.deletePrefix("p");
}, 180_000);
