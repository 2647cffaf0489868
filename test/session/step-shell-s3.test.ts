/**
 * A shell into a step whose input channel came from S3: the step's download is gone once it ended, so
 * the shell downloads the objects again. The S3 side is a real s3rver, reached through the AWS_*
 * variables a user sets; the shell runs in a real Docker container.
 */
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pipeline, ValidationError, type PipelineExecution } from "stepbox";
import { parseTempName } from "../../src/runtime/temp-paths.js";
import { pipedShell } from "../support/shell.js";
import { readJobRecord, writeJobRecord } from "../../src/store/job-records.js";
import { bareS3Client, startS3Server, useS3Env, type S3TestServer } from "../support/s3-server.js";
import { leftoverContainers, testSession } from "../support/session.js";
import { checkS3Rows, SHELL_BUCKET } from "../fixtures/s3-shell-steps.js";

let s3: S3TestServer;
let client: S3Client;
let ctx: Awaited<ReturnType<typeof testSession>>;
let execution: PipelineExecution;
let restoreEnv: (() => void) | undefined;
const ROWS = "a,b\n1,2\n";

async function putObject(key: string, body: string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: Buffer.from(body) }));
}

/** The temp folders of channel downloads and shells that exist now. */
async function shellTempFolders(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => ["channel", "shell"].includes(parseTempName(name)?.kind ?? ""));
}

beforeAll(async () => {
  s3 = await startS3Server({ bucket: SHELL_BUCKET });
  restoreEnv = useS3Env(s3);
  client = bareS3Client(s3);
  await putObject("shell/train/rows.csv", ROWS);
  await putObject("shell/train/nested/notes.txt", "from s3\n");
  ctx = await testSession();
  execution = await new Pipeline({ name: "shell-s3", steps: [checkS3Rows(5)], session: ctx.session }).start();
  await execution.wait();
});

afterAll(async () => {
  restoreEnv?.();
  client?.destroy();
  await ctx?.cleanup();
  await s3?.close();
});

/** Runs the piped commands in a shell into the step; what it printed, and its exit code. */
function shell(commands: string): Promise<{ code: number; out: string; err: string }> {
  return pipedShell(commands, { session: ctx.session, pipelineName: "shell-s3", executionId: execution.id, stepName: "checkS3Rows" });
}

describe("openStepShell on a step with an s3:// channel", () => {
  it("records the channel's URI and listing with the step", async () => {
    expect((await execution.describe()).PipelineExecutionStatus).toBe("Failed");
    const job = await readJobRecord(ctx.session.store, "shell-s3", execution.id, "checkS3Rows");
    expect(job?.channels).toEqual([
      {
        name: "train",
        hostPath: expect.any(String),
        uri: `s3://${SHELL_BUCKET}/shell/train`,
        listing: { objects: 2, bytes: 16, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      },
    ]);
  });

  it("downloads the objects again, mounts them read-only where the step saw them, and removes them after", async () => {
    const before = await shellTempFolders();
    const { code, out, err } = await shell(
      [
        "cd /opt/ml/input/data/train && ls -R",
        "cat rows.csv nested/notes.txt",
        "touch new.csv 2>/dev/null || echo read-only",
        "/usr/local/bin/node /opt/stepbox/runner.mjs; echo rerun-exit=$?",
        "",
      ].join("\n"),
    );
    expect(code).toBe(0);
    expect(out).toContain(".:\nnested\nrows.csv\n\n./nested:\nnotes.txt\n");
    expect(out).toContain(`${ROWS}from s3\n`);
    expect(out).toContain("read-only");
    // The rerun sees the data the step saw, and fails as it did.
    expect(out).toContain("rerun-exit=1");
    expect(err).toContain("RangeError: expected at least 5 rows, got 1");
    expect(err).toContain(`stepbox shell: downloading input channel "train" from s3://${SHELL_BUCKET}/shell/train (2 object(s), 16 bytes)`);
    expect(err).not.toContain("warning:");
    expect(await leftoverContainers(execution.id)).toEqual([]);
    expect((await shellTempFolders()).filter((name) => !before.includes(name))).toEqual([]);
  });

  it("warns when the objects changed since the step ran, and shows them as they are now", async () => {
    const before = await shellTempFolders();
    const grown = `${ROWS}3,4\n5,6\n7,8\n9,10\n`;
    await putObject("shell/train/rows.csv", grown);
    try {
      const { out, err } = await shell("cat /opt/ml/input/data/train/rows.csv\n/usr/local/bin/node /opt/stepbox/runner.mjs; echo rerun-exit=$?\n");
      expect(err).toMatch(
        new RegExp(
          `^warning: input channel "train" \\(s3://${SHELL_BUCKET}/shell/train\\) changed since the step ran \\(2 object\\(s\\), 16 bytes then, 2 object\\(s\\), 33 bytes now\\): the shell has the objects as they are now, not as the step saw them$`,
          "m",
        ),
      );
      expect(out).toContain(grown);
      expect(out).toContain("rerun-exit=0");
      expect(await leftoverContainers(execution.id)).toEqual([]);
      expect((await shellTempFolders()).filter((name) => !before.includes(name))).toEqual([]);
    } finally {
      await putObject("shell/train/rows.csv", ROWS);
    }
  });

  it("refuses, naming the URI, when the objects are gone", async () => {
    await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: "shell/train/rows.csv" }));
    await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: "shell/train/nested/notes.txt" }));
    try {
      const error = await shell("exit\n").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^step "checkS3Rows" of execution ${execution.id}: input channel "train": there are no objects under s3://${SHELL_BUCKET}/shell/train/ at http://127\\.0\\.0\\.1:\\d+`,
        ),
      );
    } finally {
      await putObject("shell/train/rows.csv", ROWS);
      await putObject("shell/train/nested/notes.txt", "from s3\n");
    }
  });

  it("refuses a job record that predates channel URIs, since the step's download is gone", async () => {
    const job = (await readJobRecord(ctx.session.store, "shell-s3", execution.id, "checkS3Rows"))!;
    await writeJobRecord(ctx.session.store, { ...job, channels: job.channels.map(({ name, hostPath }) => ({ name, hostPath })) });
    try {
      const error = await shell("exit\n").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toMatch(
        /^input channel "train" of step "checkS3Rows" was the folder \/\S+, which no longer exists\n  hint: .*predates stepbox keeping where a channel came from/,
      );
    } finally {
      await writeJobRecord(ctx.session.store, job);
    }
  });
});
