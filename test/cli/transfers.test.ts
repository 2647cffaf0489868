/**
 * `stepbox run` off a terminal shows a step's large transfers as a line when each starts and one when
 * it ends, with its size and speed: the s3:// input data coming down, the model going up. Small ones
 * (the step's logs) pass without a line. Real Docker engine, real S3-compatible server (s3rver).
 */
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRANSFER_BUCKET } from "../fixtures/cli/transfers.js";
import { bareS3Client, startS3Server, useS3Env, type S3TestServer } from "../support/s3-server.js";
import { FIXTURES, buildCli, cli, startedExecution, tempStore } from "./cli.js";

const MiB = 1024 ** 2;
let ctx: Awaited<ReturnType<typeof tempStore>>;
let s3: S3TestServer;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  await buildCli();
  ctx = await tempStore();
  s3 = await startS3Server({ bucket: TRANSFER_BUCKET });
  // The CLI's child process takes its environment from this one: the AWS_* variables a user sets.
  restoreEnv = useS3Env(s3);
  const client = bareS3Client(s3);
  try {
    await client.send(new PutObjectCommand({ Bucket: TRANSFER_BUCKET, Key: "weights/base.bin", Body: randomBytes(3 * MiB) }));
  } finally {
    client.destroy();
  }
}, 300_000);

afterAll(async () => {
  restoreEnv?.();
  await s3?.close();
  await ctx?.cleanup();
});

describe("stepbox run, off a terminal", () => {
  it("prints a line as the input download and the model upload start, and one as each ends, with size and speed", async () => {
    const r = await cli(ctx.store, ["run", join(FIXTURES, "transfers.ts")]);
    // stderr is not checked empty: the AWS SDK warns there about Node versions it will drop.
    expect(r.code, r.stderr).toBe(0);
    startedExecution(r.stdout);
    const lines = r.stdout.trimEnd().split("\n");
    const at = (pattern: RegExp): number => lines.findIndex((l) => pattern.test(l));

    const downloadStart = at(/^trainLarge: downloading input data \(3\.0 MiB\)$/);
    const downloadEnd = at(/^trainLarge: downloaded input data: 3\.0 MiB in [\d.]+ m?s \([\d.]+ MiB\/s\)$/);
    const uploadStart = at(/^trainLarge: uploading model\.tar\.gz$/);
    // The gzip of random bytes is a little larger than they are.
    const uploadEnd = at(/^trainLarge: uploaded model\.tar\.gz: 6\.0 MiB in [\d.]+ m?s \([\d.]+ MiB\/s\)$/);
    expect(
      [downloadStart, downloadEnd, uploadStart, uploadEnd].every((i) => i >= 0),
      r.stdout,
    ).toBe(true);
    expect(downloadStart).toBeLessThan(downloadEnd);
    expect(downloadEnd).toBeLessThan(uploadStart);
    expect(uploadStart).toBeLessThan(uploadEnd);
    expect(uploadEnd).toBeLessThan(at(/^trainLarge: Succeeded in /));
    // One line at each end of each large transfer, none for the small log upload, no progress flood.
    expect(lines.filter((l) => /^trainLarge: (download|upload)/.test(l))).toHaveLength(4);
    expect(r.stdout).not.toMatch(/ logs/);
  });
});
