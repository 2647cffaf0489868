/**
 * A cloud session, end to end, with nothing of AWS but its SDKs: the Pipeline object given a
 * PipelineSession deploys to `stepbox serve` (the SageMaker API on this machine) and to an s3rver
 * bucket; serve runs the executions from their definitions alone, in real containers, reading the
 * functions and arguments the session uploaded and signed, and the session reads everything back
 * through SageMaker's API and S3.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudError, type CloudPipelineExecution, LocalPipelineSession, PayloadSignatureError, type Pipeline, PipelineSession, StepFailedError } from "stepbox";
import { serialize } from "../../src/serialization/codec.js";
import { startServe, type RunningServe } from "../../src/serve/server.js";
import { CHANNEL_FOLDER, channelPipeline, failingPipeline, lingeringPipeline, mlPipeline } from "../fixtures/cloud-steps.js";
import { bareS3Client, startS3Server, useS3Env, type S3TestServer } from "../support/s3-server.js";
import { leftoverContainers } from "../support/session.js";

const ROLE_ARN = "arn:aws:iam::123456789012:role/stepbox-pipelines";
const IMAGE_URI = `123456789012.dkr.ecr.us-east-1.amazonaws.com/stepbox@sha256:${"ab".repeat(32)}`;

let s3: S3TestServer;
let restoreEnv: () => void;
let bucketClient: S3Client;
let engine: LocalPipelineSession;
let serve: RunningServe;
let cloud: PipelineSession;

function cloudSession(overrides: Partial<ConstructorParameters<typeof PipelineSession>[0]> = {}): PipelineSession {
  return new PipelineSession({
    roleArn: ROLE_ARN,
    s3Root: `s3://${s3.bucket}/cloud`,
    region: "us-east-1",
    endpoint: serve.url,
    imageUri: IMAGE_URI,
    pollIntervalMs: 100,
    ...overrides,
  });
}

beforeAll(async () => {
  s3 = await startS3Server({ bucket: "stepbox-cloud" });
  restoreEnv = useS3Env(s3);
  bucketClient = bareS3Client(s3);
  // What stands in for SageMaker: serve over a store in the same bucket the session uploads to.
  engine = new LocalPipelineSession({ artifactRoot: `s3://${s3.bucket}/cloud`, onLog: () => {}, stopGraceSeconds: 1 });
  serve = await startServe({ session: engine, port: 0 });
  cloud = cloudSession();
});

afterAll(async () => {
  cloud?.close();
  bucketClient?.destroy();
  await serve?.close();
  restoreEnv?.();
  await s3?.close();
});

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await bucketClient.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

/** Resolves once the step is listed with the status, looking at the execution as a client does. */
async function stepReaches(execution: { listSteps(): Promise<Array<{ StepName?: string; StepStatus?: string }>> }, step: string, status: string) {
  for (;;) {
    const found = (await execution.listSteps()).find((s) => s.StepName === step);
    if (found?.StepStatus === status) return;
    if (found && ["Succeeded", "Failed", "Stopped"].includes(found.StepStatus ?? "")) throw new Error(`${step} ended ${found.StepStatus}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("a pipeline given a PipelineSession", () => {
  let ml: Pipeline<PipelineSession>;
  let first: CloudPipelineExecution;

  it("upserts: its payloads signed under s3Root first, then the pipeline with the definition it emits", async () => {
    ml = mlPipeline("cloud-ml", cloud);
    const definition = JSON.parse(ml.definition());
    const trainStep = definition.Steps.find((s: { Name: string }) => s.Name === "train");
    expect(trainStep.Arguments.AlgorithmSpecification.TrainingImage).toBe(IMAGE_URI);
    expect(trainStep.Arguments.RoleArn).toBe(ROLE_ARN);
    expect(trainStep.Arguments.Environment.REMOTE_FUNCTION_SECRET_KEY).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(trainStep.Arguments.OutputDataConfig.S3OutputPath["Std:Join"].Values[0]).toBe(`s3://${s3.bucket}/cloud/cloud-ml`);
    // The same bytes again: the key pair derives from the secret and the pipeline's name.
    expect(mlPipeline("cloud-ml", cloudSession()).definition()).toBe(ml.definition());

    const { PipelineArn } = await ml.upsert();
    expect(PipelineArn).toMatch(/:pipeline\/cloud-ml$/);
    expect((await ml.describe()).PipelineDefinition).toBe(ml.definition());
    const uploaded = await keysUnder("cloud/cloud-ml/train/");
    expect(uploaded.map((k) => k.replace(/\/[0-9a-f]{16}\//, "/<build>/")).sort()).toEqual([
      "cloud/cloud-ml/train/<build>/arguments/metadata.json",
      "cloud/cloud-ml/train/<build>/arguments/payload.bin",
      "cloud/cloud-ml/train/<build>/function/code.mjs",
      "cloud/cloud-ml/train/<build>/function/metadata.json",
    ]);
    const metadata = JSON.parse(await engine.store.get(uploaded.find((k) => k.endsWith("function/metadata.json"))!.slice("cloud/".length)).then(String));
    expect(metadata).toMatchObject({ version: "2023-04-24", serialization_module: "stepbox-v8", asymmetric_signature: expect.any(String) });
    // A second upsert updates the pipeline in place.
    expect((await ml.upsert()).PipelineArn).toBe(PipelineArn);
  });

  it("starts it; serve runs the definition; wait(), listSteps(), listParameters(), describeDefinition() and result() answer", async () => {
    const execution = await ml.start({ parameters: { "min-accuracy": 0.5 }, executionDisplayName: "first-cloud-run" });
    first = execution;
    expect(execution.arn).toMatch(/:pipeline\/cloud-ml\/execution\/[a-z0-9]+$/);
    const described = await execution.wait();
    expect(described).toMatchObject({ PipelineExecutionStatus: "Succeeded", PipelineExecutionDisplayName: "first-cloud-run" });
    const steps = await execution.listSteps();
    expect(steps.map((s) => [s.StepName, s.StepStatus]).sort()).toEqual([
      ["accurate-enough", "Succeeded"],
      ["evaluate", "Succeeded"],
      ["preprocess", "Succeeded"],
      ["register", "Succeeded"],
      ["train", "Succeeded"],
    ]);
    expect((await execution.listParameters()).PipelineParameters).toContainEqual({ Name: "min-accuracy", Value: "0.5" });
    expect((await execution.describeDefinition()).PipelineDefinition).toBe(ml.definition());
    const report = (await execution.result("evaluate")) as { accuracy: number };
    expect(report.accuracy).toBeGreaterThan(0.5);
    expect(await execution.result("register")).toBe(`registered with accuracy ${report.accuracy}`);
    const model = (await execution.result("train")) as { w: number[] };
    expect(model.w).toHaveLength(2);
    await expect(execution.result("nope")).rejects.toThrow(/nope/);
    const listed = await ml.listExecutions();
    expect(listed.PipelineExecutionSummaries[0]).toMatchObject({ PipelineExecutionArn: execution.arn, PipelineExecutionStatus: "Succeeded" });
    expect((await ml.execution(execution.id)).arn).toBe(execution.arn);
  });

  it("runs a selective execution: the selected steps again, the others' results taken from the source", async () => {
    const execution = await ml.start({ selectiveExecution: { sourceExecutionId: first.id, steps: ["evaluate", "accurate-enough", "register"] } });
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    const steps = await execution.listSteps();
    const train = steps.find((s) => s.StepName === "train");
    expect(train?.SelectiveExecutionResult?.SourcePipelineExecutionArn).toBe(first.arn);
    expect(steps.find((s) => s.StepName === "evaluate")?.SelectiveExecutionResult).toBeUndefined();
    // The source's parameters: its min-accuracy, 0.5, let register run.
    expect((await execution.listParameters()).PipelineParameters).toContainEqual({ Name: "min-accuracy", Value: "0.5" });
    expect(await execution.result("evaluate")).toEqual(await first.result("evaluate"));
  });

  it("ends in the Fail step when the accuracy is below the parameter, and result() of the skipped branch says it never ran", async () => {
    const execution = await ml.start({ parameters: { "min-accuracy": 0.99 } });
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Failed");
    expect(described.FailureReason).toMatch(/accuracy is below 0.99/);
    const error = await execution.result("register").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailedError);
    expect((error as StepFailedError).status).toBe("NotRun");
  });

  it("rethrows a failing step's own error with its job's failure reason, and retry() reruns it reusing what succeeded", async () => {
    const failing = failingPipeline("cloud-failing", cloud);
    await failing.upsert();
    const execution = await failing.start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    const error = (await execution.result("explode").catch((e: unknown) => e)) as StepFailedError;
    expect(error).toBeInstanceOf(StepFailedError);
    expect(error.failureReason).toMatch(/cannot sum 3 values today/);
    expect(error.originalError).toMatchObject({ name: "RangeError", message: "cannot sum 3 values today" });
    expect(error.durationMs).toBeGreaterThan(0);
    expect(await execution.result("prepare")).toEqual([1, 2, 3]);

    const retried = await execution.retry();
    expect(retried.arn).not.toBe(execution.arn);
    expect((await retried.wait()).PipelineExecutionStatus).toBe("Failed");
    const steps = await retried.listSteps();
    expect(steps.find((s) => s.StepName === "explode")?.StepStatus).toBe("Failed");
    expect(steps.find((s) => s.StepName === "prepare")?.StepStatus).toBe("Succeeded");
    expect(await retried.result("prepare")).toEqual([1, 2, 3]);

    // A client-signed step's result carries its SHA-256, as a SageMaker job leaves it, not this engine's HMAC:
    // the session checks that digest, and refuses a result changed behind it.
    const results = `cloud-failing/${execution.id}/prepare/results`;
    expect(JSON.parse(String(await engine.store.get(`${results}/metadata.json`)))).toMatchObject({ version: "2023-04-24", sha256_hash: expect.any(String) });
    await engine.store.put(`${results}/payload.bin`, serialize([6, 6, 6], "result"));
    await expect(execution.result("prepare")).rejects.toThrow(PayloadSignatureError);
  });

  it("stop() stops a running execution, and its step reads Stopped", async () => {
    const lingering = lingeringPipeline("cloud-lingering", cloud);
    await lingering.upsert();
    const execution = await lingering.start();
    await stepReaches(execution, "linger", "Executing");
    await execution.stop();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Stopped");
    const error = (await execution.result("linger").catch((e: unknown) => e)) as StepFailedError;
    expect(error).toBeInstanceOf(StepFailedError);
    expect(error.status).toBe("Stopped");
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("uploads a file:// input channel under s3Root and names the upload in the definition", async () => {
    const pipeline = channelPipeline("cloud-channel", cloud);
    const step = JSON.parse(pipeline.definition()).Steps[0];
    expect(step.Arguments.InputDataConfig[0].DataSource.S3DataSource.S3Uri).toBe(`s3://${s3.bucket}/cloud/cloud-channel/inputs/readRows/rows`);
    await pipeline.upsert();
    expect(await keysUnder("cloud/cloud-channel/inputs/")).toEqual(["cloud/cloud-channel/inputs/readRows/rows/rows.csv"]);
    const execution = await pipeline.start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    expect(await execution.result("readRows")).toBe(await readFile(join(CHANNEL_FOLDER, "rows.csv"), "utf8"));
  });
});

describe("errors of a cloud session", () => {
  it("create() of a pipeline that exists is SageMaker's ValidationException, named", async () => {
    const twice = failingPipeline("cloud-twice", cloud);
    expect((await twice.create()).PipelineArn).toMatch(/:pipeline\/cloud-twice$/);
    const error = (await twice.create().catch((e: unknown) => e)) as CloudError;
    expect(error).toBeInstanceOf(CloudError);
    expect(error).toMatchObject({ operation: "sagemaker:CreatePipeline", awsCode: "ValidationException", resource: "pipeline cloud-twice" });
    expect(error.message).toMatch(/already exists/);
    await twice.delete();
    expect(((await twice.describe().catch((e: unknown) => e)) as CloudError).awsCode).toBe("ResourceNotFound");
  });

  it("start() of a pipeline never deployed names the fix", async () => {
    const error = (await failingPipeline("never-deployed", cloud)
      .start()
      .catch((e: unknown) => e)) as CloudError;
    expect(error).toBeInstanceOf(CloudError);
    expect(error.operation).toBe("sagemaker:StartPipelineExecution");
    expect(error.hint).toMatch(/upsert/);
  });

  it("an upload that fails during upsert leaves no pipeline behind", async () => {
    const elsewhere = cloudSession({ s3Root: "s3://no-such-bucket/cloud" });
    const pipeline = failingPipeline("half-made", elsewhere);
    await expect(pipeline.upsert()).rejects.toThrow(/no-such-bucket/);
    const described = (await pipeline.describe().catch((e: unknown) => e)) as CloudError;
    expect(described).toBeInstanceOf(CloudError);
    expect(described.awsCode).toBe("ResourceNotFound");
    elsewhere.close();
  });

  it("a session without a runtime image, and no push remembered on this machine, says how to push one", async () => {
    const saved = { image: process.env.STEPBOX_IMAGE_URI, config: process.env.XDG_CONFIG_HOME };
    delete process.env.STEPBOX_IMAGE_URI;
    // A settings folder where nothing was ever pushed from.
    const config = await mkdtemp(join(tmpdir(), "stepbox-no-push-"));
    process.env.XDG_CONFIG_HOME = config;
    const bare = cloudSession({ imageUri: undefined });
    try {
      expect(() => failingPipeline("no-image", bare).definition()).toThrow(
        expect.objectContaining({ message: expect.stringMatching(/no runtime image/), hint: expect.stringMatching(/stepbox image push/) }),
      );
    } finally {
      if (saved.image !== undefined) process.env.STEPBOX_IMAGE_URI = saved.image;
      if (saved.config === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved.config;
      bare.close();
      await rm(config, { recursive: true, force: true });
    }
  });

  it("deploying without a role or an S3 root names the option and its variable", () => {
    const saved = { role: process.env.STEPBOX_ROLE_ARN, root: process.env.STEPBOX_S3_ROOT };
    delete process.env.STEPBOX_ROLE_ARN;
    delete process.env.STEPBOX_S3_ROOT;
    try {
      const reader = new PipelineSession({ region: "us-east-1", endpoint: serve.url, imageUri: IMAGE_URI });
      expect(() => failingPipeline("no-role", reader).definition()).toThrow(/no s3Root[\s\S]*STEPBOX_S3_ROOT/);
      const rootOnly = new PipelineSession({ region: "us-east-1", endpoint: serve.url, imageUri: IMAGE_URI, s3Root: "s3://bucket/c" });
      expect(() => failingPipeline("no-role", rootOnly).definition()).toThrow(/no roleArn[\s\S]*STEPBOX_ROLE_ARN/);
    } finally {
      if (saved.role !== undefined) process.env.STEPBOX_ROLE_ARN = saved.role;
      if (saved.root !== undefined) process.env.STEPBOX_S3_ROOT = saved.root;
    }
  });

  it("bad options are refused before any call", () => {
    expect(() => cloudSession({ roleArn: "admin" })).toThrow(/roleArn "admin" is not an IAM role ARN/);
    expect(() => cloudSession({ s3Root: "s3://bucket/" })).toThrow(/s3Root/);
    expect(() => cloudSession({ region: "nowhere" })).toThrow(/region "nowhere"/);
    expect(() => new PipelineSession({ roleArn: ROLE_ARN, s3Root: "s3://b/c", colour: "red" } as never)).toThrow(/unknown option "colour"/);
  });
});
