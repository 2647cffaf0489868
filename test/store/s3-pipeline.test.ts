/**
 * stepbox with S3: a whole pipeline whose artifact root is a bucket, read back by a second process,
 * and s3:// input channels. The S3 side is a real s3rver on 127.0.0.1; the steps run in real Docker
 * containers. The endpoint and credentials reach stepbox the way users give them: AWS_* variables.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipelineSession, Pipeline, StoreError, getStep, ValidationError, type StepLogLine } from "stepbox";
import { CHANNEL_BUCKET, makeRows, missingBucket, missingPrefix, readsS3Channels, total } from "../fixtures/s3-steps.js";
import { parseTempName } from "../../src/runtime/temp-paths.js";
import { S3Prefix } from "../../src/store/s3-prefix.js";
import { bareS3Client, s3Env, startS3Server, useS3Env, type S3TestServer } from "../support/s3-server.js";
import { leftoverContainers, testSession } from "../support/session.js";

let s3: S3TestServer;
let client: S3Client;
let local: Awaited<ReturnType<typeof testSession>>;
let restoreEnv: (() => void) | undefined;

async function putObject(key: string, body: string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: Buffer.from(body) }));
}

async function objectKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys.sort();
}

/** Every file under a folder, by its path below it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** The channel downloads that exist in the temp folder now. */
async function channelDownloads(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => parseTempName(name)?.kind === "channel");
}

beforeAll(async () => {
  s3 = await startS3Server({ bucket: CHANNEL_BUCKET });
  restoreEnv = useS3Env(s3);
  client = bareS3Client(s3);
  await putObject("datasets/train/part-0.csv", "a,b\n1,2\n");
  await putObject("datasets/train/nested/part-1.csv", "a,b\n3,4\n");
  // A console's "folder" marker: not a file of the channel.
  await putObject("datasets/train/empty-folder/", "");
  await putObject("datasets/labels.csv", "label\nyes\n");
  // A sibling that shares the prefix as a string but is not under the folder.
  await putObject("datasets/train-old/stale.csv", "stale\n");
  local = await testSession();
});

afterAll(async () => {
  restoreEnv?.();
  client?.destroy();
  await local?.cleanup();
  await s3?.close();
});

describe("an artifact root in S3", () => {
  it("runs a whole pipeline with every record and artifact in the bucket, and another process reads it", async () => {
    const lines: StepLogLine[] = [];
    const root = `s3://${s3.bucket}/runs`;
    const session = new LocalPipelineSession({ artifactRoot: root, secret: "test-secret", onLog: (line) => lines.push(line), stopGraceSeconds: 2 });
    expect(session.store.uri).toBe(root);
    const output = total(makeRows(4));
    const pipeline = new Pipeline({ name: "s3-run", steps: [output], session });
    const execution = await pipeline.start();
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Succeeded");
    expect(await execution.result("total")).toEqual({ total: 10, count: 4 });
    expect(await leftoverContainers(execution.id)).toEqual([]);
    expect(lines).toContainEqual({ step: "makeRows", stream: "stdout", line: "made 4 rows" });

    const steps = await execution.listSteps();
    expect(steps.map((s) => [s.StepName, s.StepStatus])).toEqual([
      ["total", "Succeeded"],
      ["makeRows", "Succeeded"],
    ]);
    const made = steps.find((s) => s.StepName === "makeRows")!;
    expect(made.Metadata.TrainingJob?.ModelArtifacts?.S3ModelArtifacts).toBe(`${root}/s3-run/${execution.id}/makeRows/output/model.tar.gz`);

    const keys = await objectKeys(`runs/s3-run/${execution.id}/`);
    const under = (step: string, rest: string): string => `runs/s3-run/${execution.id}/${step}/${rest}`;
    expect(keys).toEqual(
      expect.arrayContaining([
        `runs/s3-run/${execution.id}/execution.json`,
        under("makeRows", "step.json"),
        under("makeRows", "function/code.mjs"),
        under("makeRows", "function/manifest.json"),
        under("makeRows", "arguments/payload.bin"),
        under("makeRows", "results/payload.bin"),
        under("makeRows", "results/metadata.json"),
        under("makeRows", "output/model.tar.gz"),
        under("total", "step.json"),
        under("total", "results/payload.bin"),
      ]),
    );
    expect(keys.some((k) => k.startsWith(under("makeRows", `logs/makeRows-${execution.id}/algo-1-`)))).toBe(true);
    expect(await objectKeys("runs/s3-run/pipeline.json")).toEqual(["runs/s3-run/pipeline.json"]);

    // The same pipeline on the local store lays out the same files, object for object.
    const onDisk = await new Pipeline({ name: "s3-run", steps: [output], session: local.session }).start();
    expect((await onDisk.wait()).PipelineExecutionStatus).toBe("Succeeded");
    const localFiles = await filesUnder(join(local.root, "s3-run", onDisk.id));
    const normalize = (paths: string[], id: string): string[] => paths.map((p) => p.replaceAll(id, "<id>").replace(/algo-(\d+)-\d+/, "algo-$1-<epoch>")).sort();
    expect(
      normalize(
        keys.map((k) => k.slice(`runs/s3-run/${execution.id}/`.length)),
        execution.id,
      ),
    ).toEqual(normalize(localFiles, onDisk.id));

    // A second process that shares nothing with this one but the bucket, the settings and the secret.
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/s3-reader.ts", "s3-run", "total"], {
      env: { ...process.env, ...s3Env(s3), STEPBOX_HOME: root },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, stderr).toBe(0);
    const read = JSON.parse(stdout) as {
      store: string;
      executions: Array<{ PipelineExecutionArn: string; PipelineExecutionStatus: string }>;
      steps: Array<{ StepName: string; StepStatus: string }>;
      result: unknown;
    };
    expect(read.store).toBe(root);
    expect(read.executions).toEqual([expect.objectContaining({ PipelineExecutionArn: execution.arn, PipelineExecutionStatus: "Succeeded" })]);
    expect(read.steps.map((s) => [s.StepName, s.StepStatus])).toEqual([
      ["total", "Succeeded"],
      ["makeRows", "Succeeded"],
    ]);
    expect(read.result).toEqual({ total: 10, count: 4 });
  });
});

describe("s3:// input channels", () => {
  it("downloads the objects under the prefix into /opt/ml/input/data/<channel>/, read-only, and removes them after the step", async () => {
    const before = await channelDownloads();
    const execution = await new Pipeline({ name: "s3-channels", steps: [readsS3Channels()], session: local.session }).start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    const seen = (await execution.result("readsS3Channels")) as Record<string, unknown>;
    expect(seen.train).toEqual({ "part-0.csv": "a,b\n1,2\n", "nested/part-1.csv": "a,b\n3,4\n" });
    expect(seen.labels).toEqual({ "labels.csv": "label\nyes\n" });
    expect(seen.writeError).toBe("EROFS");
    const channel = { TrainingInputMode: "File", S3DistributionType: "FullyReplicated", RecordWrapperType: "None" };
    expect(seen.config).toEqual({ train: channel, labels: channel });
    expect(await leftoverContainers(execution.id)).toEqual([]);
    expect((await channelDownloads()).filter((name) => !before.includes(name))).toEqual([]);
  });

  it("reuses the cached result while the objects are unchanged, and runs again when one changes", async () => {
    const output = readsS3Channels();
    const pipeline = new Pipeline({ name: "s3-channel-cache", steps: [output], session: local.session });
    const first = await pipeline.start();
    await first.wait();
    const hit = await pipeline.start();
    await hit.wait();
    const [cached] = await hit.listSteps();
    expect(cached?.StepStatus).toBe("Succeeded");
    expect(cached?.CacheHitResult?.SourcePipelineExecutionArn).toBe(first.arn);

    await putObject("datasets/train/part-0.csv", "a,b\n5,6\n");
    const miss = await pipeline.start();
    await miss.wait();
    const [rerun] = await miss.listSteps();
    expect(rerun?.StepStatus).toBe("Succeeded");
    expect(rerun?.CacheHitResult).toBeUndefined();
    expect(rerun?.CacheMissReason).toMatch(/changed since execution \w+: its container options or inputs/);
    expect(((await miss.result(getStep(output).name)) as { train: unknown }).train).toEqual({ "part-0.csv": "a,b\n5,6\n", "nested/part-1.csv": "a,b\n3,4\n" });
    expect(await leftoverContainers(miss.id)).toEqual([]);
  });

  it("refuses a prefix with no objects before anything runs, naming the channel, the URI and the fix", async () => {
    const pipeline = new Pipeline({ name: "s3-missing-prefix", steps: [missingPrefix()], session: local.session });
    const error = await pipeline.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(
      /step "missingPrefix": input channel "train": there are no objects under s3:\/\/stepbox-test\/no\/such\/prefix\/ at http:\/\/127\.0\.0\.1:\d+/,
    );
    expect((error as Error).message).toMatch(/hint: upload the channel's files there \(aws s3 cp --recursive/);
    expect((await pipeline.listExecutions()).PipelineExecutionSummaries).toEqual([]);
  });

  it("refuses a bucket that does not exist before anything runs, naming the channel and the bucket", async () => {
    const pipeline = new Pipeline({ name: "s3-missing-bucket", steps: [missingBucket()], session: local.session });
    const error = await pipeline.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(
      /step "missingBucket": input channel "train": cannot list s3:\/\/no-such-bucket-here\/train: the bucket "no-such-bucket-here" does not exist at http:\/\/127\.0\.0\.1:\d+/,
    );
    expect((error as Error).message).toMatch(/hint: create it and upload the data/);
    expect((await pipeline.listExecutions()).PipelineExecutionSummaries).toEqual([]);
  });

  it("refuses an object that changed between the listing and its download, and writes nothing of it", async () => {
    await putObject("datasets/changing/a.csv", "first\n");
    const prefix = new S3Prefix(`s3://${s3.bucket}/datasets/changing`, { context: 'input channel "c"' });
    const [listed] = await prefix.list();
    expect(listed).toMatchObject({ path: "a.csv", key: "datasets/changing/a.csv", size: 6 });
    await putObject("datasets/changing/a.csv", "second, longer\n");
    const dir = await mkdtemp(join(tmpdir(), "stepbox-s3-prefix-"));
    try {
      await expect(prefix.download(listed!, join(dir, "a.csv"))).rejects.toThrow(
        /^input channel "c": s3:\/\/stepbox-test\/datasets\/changing\/a\.csv changed while it was being downloaded: its ETag is now \w+, the listing showed \w+\n  hint: /,
      );
      await expect(stat(join(dir, "a.csv"))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
