/**
 * What a cloud session meets besides answers: the jobs' logs through CloudWatch Logs (serve answers
 * those calls from the logs its engine stored), and AWS's errors (serve's --fault switch answers
 * ThrottlingException and AccessDeniedException on purpose): throttling retried with backoff,
 * refusals named.
 */
import { CloudWatchLogsClient, DescribeLogStreamsCommand, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudError, LocalPipelineSession, PipelineSession } from "stepbox";
import { trainingJobLogs } from "../../src/cloud/training-job-logs.js";
import { parseFault } from "../../src/serve/faults.js";
import { SERVE_OPERATIONS, startServe, type RunningServe } from "../../src/serve/server.js";
import { failingPipeline, mlPipeline } from "../fixtures/cloud-steps.js";
import { startS3Server, useS3Env, type S3TestServer } from "../support/s3-server.js";

const ROLE_ARN = "arn:aws:iam::123456789012:role/stepbox-pipelines";
const IMAGE_URI = `123456789012.dkr.ecr.us-east-1.amazonaws.com/stepbox@sha256:${"cd".repeat(32)}`;

let s3: S3TestServer;
let restoreEnv: () => void;
let engine: LocalPipelineSession;
const serves: RunningServe[] = [];
const sessions: PipelineSession[] = [];

async function serveWith(faults: string[] = []): Promise<RunningServe> {
  const serve = await startServe({ session: engine, port: 0, faults: faults.map((f) => parseFault(f, SERVE_OPERATIONS)) });
  serves.push(serve);
  return serve;
}

function sessionAt(serve: RunningServe, maxAttempts = 5): PipelineSession {
  const session = new PipelineSession({
    roleArn: ROLE_ARN,
    s3Root: `s3://${s3.bucket}/cloud`,
    region: "us-east-1",
    endpoint: serve.url,
    logsEndpoint: serve.url,
    imageUri: IMAGE_URI,
    pollIntervalMs: 100,
    maxAttempts,
  });
  sessions.push(session);
  return session;
}

beforeAll(async () => {
  s3 = await startS3Server({ bucket: "stepbox-cloud-logs" });
  restoreEnv = useS3Env(s3);
  engine = new LocalPipelineSession({ artifactRoot: `s3://${s3.bucket}/cloud`, onLog: () => {}, stopGraceSeconds: 1 });
});

afterAll(async () => {
  for (const session of sessions) session.close();
  for (const serve of serves) await serve.close();
  restoreEnv?.();
  await s3?.close();
});

describe("the logs of a cloud execution's steps", () => {
  it("are read through CloudWatch Logs: the streams of the step's training job, every line in order, followed to the step's end", async () => {
    const serve = await serveWith();
    const cloud = sessionAt(serve);
    const ml = mlPipeline("logged", cloud);
    await ml.upsert();
    const execution = await ml.start({ parameters: { epochs: 7 } });
    // Followed from the start: the lines come once the step's job has written them, and the read ends with the step.
    const followed: string[] = [];
    for await (const event of execution.stepLogs("train", { follow: true })) followed.push(event.message);
    expect(followed).toContain("trained for 7 epochs");
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");

    const job = (await execution.listSteps())
      .find((s) => s.StepName === "train")!
      .Metadata!.TrainingJob!.Arn!.split("/")
      .at(-1)!;
    const read = [];
    for await (const event of trainingJobLogs(cloud, job)) read.push(event);
    expect(read.map((e) => e.message)).toEqual(followed);
    expect(read[0]!.stream).toMatch(new RegExp(`^${job}/algo-1-\\d+$`));

    // The SDK's own client sees SageMaker's group, the stream, and pages that end on a repeated token.
    const logs = new CloudWatchLogsClient({ endpoint: serve.url, region: "us-east-1", credentials: { accessKeyId: "AKID", secretAccessKey: "x" } });
    try {
      const { logStreams } = await logs.send(new DescribeLogStreamsCommand({ logGroupName: "/aws/sagemaker/TrainingJobs", logStreamNamePrefix: `${job}/` }));
      expect(logStreams?.map((s) => s.logStreamName)).toEqual([read[0]!.stream]);
      const first = await logs.send(
        new GetLogEventsCommand({ logGroupName: "/aws/sagemaker/TrainingJobs", logStreamName: read[0]!.stream, startFromHead: true, limit: 1 }),
      );
      expect(first.events?.map((e) => e.message)).toEqual([followed[0]]);
      const rest = await logs.send(
        new GetLogEventsCommand({
          logGroupName: "/aws/sagemaker/TrainingJobs",
          logStreamName: read[0]!.stream,
          startFromHead: true,
          nextToken: first.nextForwardToken,
        }),
      );
      expect(rest.events?.map((e) => e.message)).toEqual(followed.slice(1));
      const after = await logs.send(
        new GetLogEventsCommand({
          logGroupName: "/aws/sagemaker/TrainingJobs",
          logStreamName: read[0]!.stream,
          startFromHead: true,
          nextToken: rest.nextForwardToken,
        }),
      );
      expect({ events: after.events, token: after.nextForwardToken }).toEqual({ events: [], token: rest.nextForwardToken });
      // Without startFromHead, CloudWatch answers the newest events first.
      const newest = await logs.send(new GetLogEventsCommand({ logGroupName: "/aws/sagemaker/TrainingJobs", logStreamName: read[0]!.stream, limit: 1 }));
      expect(newest.events?.map((e) => e.message)).toEqual([followed.at(-1)]);
      await expect(logs.send(new GetLogEventsCommand({ logGroupName: "/aws/sagemaker/TrainingJobs", logStreamName: `${job}/algo-9-1` }))).rejects.toMatchObject(
        {
          name: "ResourceNotFoundException",
        },
      );
      await expect(logs.send(new DescribeLogStreamsCommand({ logGroupName: "/aws/lambda/other", logStreamNamePrefix: `${job}/` }))).rejects.toMatchObject({
        name: "ResourceNotFoundException",
      });
    } finally {
      logs.destroy();
    }
  });
});

describe("AWS errors a cloud session meets", () => {
  it("throttling is retried with backoff by the SDK; past its attempts it is a CloudError that says so", async () => {
    const serve = await serveWith(["StartPipelineExecution=ThrottlingException:2", "ListPipelineExecutions=ThrottlingException"]);
    const patient = failingPipeline("throttled", sessionAt(serve, 3));
    await patient.upsert();
    // Two throttled answers, then the third attempt starts it.
    const execution = await patient.start();
    expect(execution.arn).toMatch(/execution/);
    await execution.wait();

    const impatient = failingPipeline("throttled", sessionAt(serve, 2));
    const error = (await impatient.listExecutions().catch((e: unknown) => e)) as CloudError;
    expect(error).toBeInstanceOf(CloudError);
    expect(error).toMatchObject({ operation: "sagemaker:ListPipelineExecutions", awsCode: "ThrottlingException", resource: "pipeline throttled" });
    expect(error.hint).toMatch(/throttled sagemaker:ListPipelineExecutions on all 2 attempts/);
  });

  it("wait() keeps polling through throttling instead of failing", async () => {
    const serve = await serveWith(["DescribePipelineExecution=ThrottlingException:4"]);
    const pipeline = failingPipeline("polled", sessionAt(serve, 1));
    await pipeline.upsert();
    const execution = await pipeline.start();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
  });

  it("AccessDenied is a CloudError naming the call, the resource and the permission to grant", async () => {
    const serve = await serveWith(["CreatePipeline=AccessDeniedException"]);
    const denied = failingPipeline("denied", sessionAt(serve));
    const error = (await denied.upsert().catch((e: unknown) => e)) as CloudError;
    expect(error).toBeInstanceOf(CloudError);
    expect(error).toMatchObject({ operation: "sagemaker:CreatePipeline", awsCode: "AccessDeniedException", resource: "pipeline denied", httpStatus: 400 });
    expect(error.message).toMatch(/is not authorized to perform: sagemaker:CreatePipeline/);
    expect(error.hint).toMatch(/allow sagemaker:CreatePipeline on pipeline denied/);
  });

  it("a --fault that names no operation or no known error is refused", () => {
    expect(() => parseFault("CreatePipelines=ThrottlingException", SERVE_OPERATIONS)).toThrow(/no operation CreatePipelines/);
    expect(() => parseFault("CreatePipeline=Teapot", SERVE_OPERATIONS)).toThrow(/Teapot is not an error/);
    expect(() => parseFault("CreatePipeline", SERVE_OPERATIONS)).toThrow(/<Operation>=<ErrorCode>/);
  });
});
