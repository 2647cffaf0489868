/**
 * bench/store-throughput: upload and download throughput of a 256 MiB artifact through each artifact
 * store, against a baseline measured in the same run on the same file:
 * - LocalFileStore (putStream from the file, getStream into a file) against `cp` of the file,
 * - S3Store against a bare client-s3 upload (lib-storage, same part size and concurrency) and GetObject,
 *   both to s3rver on 127.0.0.1 (a child process, as in the tests).
 * Every download is checked against the file's SHA-256 outside the timed part. Rounds alternate the
 * sides so drift on a noisy machine hits each alike; the table gives medians.
 *
 * Run: npx tsx bench/store-throughput.ts [rounds]   (prints its section of BENCHMARKS.md)
 */
import { execFile } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { LocalFileStore } from "../src/store/local-store.js";
import { S3Store } from "../src/store/s3-store.js";
import { startS3Server } from "../test/support/s3-server.js";
import { median, progress, targetLine, writeBenchmarkSection } from "./report.js";

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
/** The S3Store's defaults, given to the bare upload too so that both move the same parts. */
const PART_SIZE = 8 * MiB;
const QUEUE_SIZE = 4;

const rounds = Number(process.argv[2] ?? 3);
const work = await mkdtemp(join(tmpdir(), "stepbox-bench-store-"));
const s3 = await startS3Server({ bucket: "stepbox-bench" });

async function writeArtifact(path: string): Promise<string> {
  const hash = createHash("sha256");
  async function* blocks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < SIZE / MiB; i++) {
      // Random, like a compressed archive: nothing on the way can shortcut repeated or zero blocks.
      const block = randomFillSync(Buffer.allocUnsafe(MiB));
      hash.update(block);
      yield block;
    }
  }
  await pipeline(blocks(), createWriteStream(path));
  return hash.digest("hex");
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

const source = join(work, "model.tar.gz");
const expected = await writeArtifact(source);

async function seconds(task: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await task();
  return (performance.now() - started) / 1000;
}

async function checkDownload(path: string, what: string): Promise<void> {
  const { size } = await stat(path);
  if (size !== SIZE || (await fileSha256(path)) !== expected) throw new Error(`${what} gave back different bytes (${size} bytes)`);
  await rm(path);
}

async function download(stream: Readable, path: string): Promise<void> {
  await pipeline(stream, createWriteStream(path));
}

const local = new LocalFileStore(join(work, "local-store"));
const connection = {
  endpoint: s3.endpoint,
  region: s3.region,
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
};
const s3Store = new S3Store({ bucket: s3.bucket, prefix: "store", ...connection, partSizeBytes: PART_SIZE, queueSize: QUEUE_SIZE, spoolDir: work, env: {} });
// The checksum settings that s3rver needs (see shared/reference/environment.md); the store sets the same.
const bare = new S3Client({ ...connection, forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
const KEY = "p/e/train/output/model.tar.gz";

type Side = "cp" | "durable" | "local" | "bare" | "s3";
const sides: Record<Side, { up: () => Promise<void>; down: (path: string) => Promise<void> }> = {
  cp: {
    up: async () => void (await promisify(execFile)("cp", [source, join(work, "cp-copy")])),
    down: async (path) => void (await promisify(execFile)("cp", [join(work, "cp-copy"), path])),
  },
  // What the local store can reach at best: a copy made durable as the store makes it (fsync before it
  // counts), and a download through a Node stream, which is what getStream hands its reader.
  durable: {
    up: async () => {
      await promisify(execFile)("cp", [source, join(work, "durable-copy")]);
      await promisify(execFile)("sync", [join(work, "durable-copy")]);
    },
    down: async (path) => pipeline(createReadStream(join(work, "durable-copy"), { highWaterMark: MiB }), createWriteStream(path)),
  },
  local: {
    up: async () => void (await local.putStream(KEY, createReadStream(source))),
    down: async (path) => download(await local.getStream(KEY), path),
  },
  bare: {
    up: async () =>
      void (await new Upload({
        client: bare,
        params: { Bucket: s3.bucket, Key: `bare/${KEY}`, Body: createReadStream(source), ContentLength: SIZE },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
      }).done()),
    down: async (path) => {
      const object = await bare.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `bare/${KEY}` }));
      await download(object.Body as Readable, path);
    },
  },
  s3: {
    up: async () => void (await s3Store.putStream(KEY, createReadStream(source))),
    down: async (path) => download(await s3Store.getStream(KEY), path),
  },
};

const times: Record<Side, { up: number[]; down: number[] }> = {
  cp: { up: [], down: [] },
  durable: { up: [], down: [] },
  local: { up: [], down: [] },
  bare: { up: [], down: [] },
  s3: { up: [], down: [] },
};
try {
  for (let round = 0; round < rounds; round++) {
    for (const side of Object.keys(sides) as Side[]) {
      times[side].up.push(await seconds(sides[side].up));
      const out = join(work, `download-${side}`);
      times[side].down.push(await seconds(() => sides[side].down(out)));
      await checkDownload(out, side);
    }
    progress(`round ${round + 1}/${rounds} done`);
  }
} finally {
  bare.destroy();
  await s3.close();
  await rm(work, { recursive: true, force: true });
}

const rate = (xs: number[]): number => SIZE / MiB / median(xs);
const ratio = (side: Side, baseline: Side, way: "up" | "down"): number => rate(times[side][way]) / rate(times[baseline][way]);
const row = (what: string, side: Side, baseline: Side): string =>
  `| ${what} | ${rate(times[side].up).toFixed(0)} | ${(rate(times[side].up) / rate(times[baseline].up)).toFixed(2)} | ` +
  `${rate(times[side].down).toFixed(0)} | ${(rate(times[side].down) / rate(times[baseline].down)).toFixed(2)} |`;
const table = [
  "| what | upload MiB/s | ratio to baseline | download MiB/s | ratio to baseline |",
  "|---|---|---|---|---|",
  row("`cp` of the file (baseline for the local store)", "cp", "cp"),
  row("LocalFileStore: putStream from the file, getStream into a file", "local", "cp"),
  row("durable baselines: `cp` then fsync of the copy (upload); a Node stream copy of the file (download)", "durable", "cp"),
  row("bare client-s3 to s3rver: lib-storage Upload, GetObject (baseline for S3)", "bare", "bare"),
  row("S3Store to s3rver: putStream (spool + SHA-256, then upload), getStream (SHA-256 checked)", "s3", "bare"),
  "",
  `256 MiB artifact, median of ${rounds} rounds, sides alternating; every download's bytes checked. ` +
    `S3 uses ${PART_SIZE / MiB} MiB parts, ${QUEUE_SIZE} at a time, on both sides; s3rver (a child process on ` +
    "127.0.0.1, writing to the same disk) bounds both S3 rows, so their ratio is what stepbox costs, not what S3 would give. " +
    "The local store syncs every object to disk before it renames it into place (a crash never leaves a partial object), where " +
    "`cp` does not sync. Upload: the body is `createReadStream(file)` untouched, so the store has the kernel copy the file " +
    "(as `cp` does) and syncs it once; any other stream (a gzip of a tar, as the engine's archives are) goes through " +
    "the stream's own chunks. Download: a stream out of the store in 1 MiB chunks into a file, where `cp` never leaves the kernel.",
  "",
  `Against the durable baselines the local store is ${ratio("local", "durable", "up").toFixed(2)}x (upload) and ` +
    `${ratio("local", "durable", "down").toFixed(2)}x (download): what separates it from \`cp\` is the fsync that durability ` +
    "costs on this disk and the Node stream a reader gets, not the store's own work.",
  "",
  targetLine(
    "LocalFileStore moves a 256 MiB artifact at >= 0.7x `cp`, both ways",
    ratio("local", "cp", "up") >= 0.7 && ratio("local", "cp", "down") >= 0.7,
    `upload ${ratio("local", "cp", "up").toFixed(2)}x, download ${ratio("local", "cp", "down").toFixed(2)}x; ` +
      `a durable cp reaches ${ratio("durable", "cp", "up").toFixed(2)}x, a Node stream copy ${ratio("durable", "cp", "down").toFixed(2)}x`,
  ),
].join("\n");
await writeBenchmarkSection("Store throughput", table, `npx tsx bench/store-throughput.ts ${rounds}`);
