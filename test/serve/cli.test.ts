/**
 * `stepbox serve` as a user starts it: the built command line in its own process, found by the AWS SDK
 * for JavaScript and by boto3 (Debian's python3-boto3, scripts/ensure-boto3.sh) at the URL it prints,
 * over a store where a LocalPipelineSession upserted a pipeline; stopped by SIGTERM.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { CreatePipelineCommand, ListPipelinesCommand } from "@aws-sdk/client-sagemaker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipelineSession, Pipeline, PipelineExecution } from "stepbox";
import { register, score } from "../fixtures/semantics-steps.js";
import { buildCli, CLI_SECRET, startCli, tempStore, type RunningCli } from "../cli/cli.js";
import { definitionText, ROLE_ARN, sageMakerClient } from "./client.js";

const BOTO3_CLIENT = join(import.meta.dirname, "..", "fixtures", "serve", "boto3_client.py");
/** Debian's python, with Debian's boto3: another python first on PATH may have its own, or none. */
const SYSTEM_PYTHON = "/usr/bin/python3";

let temp: Awaited<ReturnType<typeof tempStore>>;
let serve: RunningCli;
let endpoint: string;

beforeAll(async () => {
  await buildCli();
  temp = await tempStore();
  // Upserted with the key the command line's serve has (the CLI tests' secret), so serve can run what it stored.
  const session = new LocalPipelineSession({ artifactRoot: temp.store, secret: CLI_SECRET });
  await new Pipeline({ name: "upserted", steps: [register(score(0.9))], session }).upsert();
  serve = startCli(temp.store, ["serve", "--port", "0"]);
  endpoint = (await serve.waitFor(/export AWS_ENDPOINT_URL_SAGEMAKER=(\S+)/))[1]!;
}, 300_000);

afterAll(async () => {
  if (serve && serve.child.exitCode === null) serve.child.kill("SIGKILL");
  await temp?.cleanup();
});

describe("stepbox serve", () => {
  it("prints where it listens and how to point the AWS CLI and SDKs at it", () => {
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(serve.stdout()).toContain(`the SageMaker API at ${endpoint} (store: file://`);
    expect(serve.stdout()).toContain("aws sagemaker list-pipelines");
    expect(serve.stdout()).toContain(`AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=${endpoint}`);
  });

  it("answers the AWS SDK for JavaScript over the store, where a session's upsert() is found", async () => {
    const client = sageMakerClient(endpoint);
    try {
      await client.send(new CreatePipelineCommand({ PipelineName: "from-sdk", PipelineDefinition: await definitionText(), RoleArn: ROLE_ARN }));
      const { PipelineSummaries } = await client.send(new ListPipelinesCommand({ SortBy: "Name", SortOrder: "Ascending" }));
      expect(PipelineSummaries?.map((p) => p.PipelineName)).toEqual(["from-sdk", "upserted"]);
    } finally {
      client.destroy();
    }
  });

  it("answers boto3, a second real client, in the same shapes, and runs a pipeline for it in containers", async () => {
    const { stdout } = await promisify(execFile)(SYSTEM_PYTHON, [BOTO3_CLIENT, endpoint, "upserted"], {
      env: {
        PATH: process.env.PATH,
        AWS_ACCESS_KEY_ID: "AKIDSTEPBOXTEST",
        AWS_SECRET_ACCESS_KEY: "not-checked",
        AWS_DEFAULT_REGION: "us-east-1",
        AWS_CONFIG_FILE: "/dev/null",
        AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      },
    });
    const answered = JSON.parse(stdout) as {
      execution: { arn: string; status: string; steps: Array<[string, string]> };
      pipelines: string[];
      described: { PipelineName: string; PipelineArn: string; PipelineStatus: string; CreationTime: string; Steps: string[] };
      missing: { code: string; status: number };
    };
    expect(answered.pipelines.sort()).toEqual(["from-sdk", "upserted"]);
    expect(answered.described).toMatchObject({
      PipelineName: "upserted",
      PipelineArn: "arn:aws:sagemaker:local:000000000000:pipeline/upserted",
      PipelineStatus: "Active",
      Steps: expect.arrayContaining(["register"]),
    });
    // boto3 parsed the epoch seconds into a datetime.
    expect(Date.parse(answered.described.CreationTime)).toBeGreaterThan(Date.parse("2020-01-01"));
    expect(answered.missing).toEqual({ code: "ResourceNotFound", status: 400 });
    // The pipeline ran from its recorded definition, its steps in containers, and the store says so.
    expect(answered.execution.status).toBe("Succeeded");
    expect(answered.execution.steps).toEqual([
      ["register", "Succeeded"],
      ["score", "Succeeded"],
    ]);
    const executionId = answered.execution.arn.split("/").pop()!;
    const reader = new LocalPipelineSession({ artifactRoot: temp.store, secret: CLI_SECRET });
    expect(await new PipelineExecution(reader, "upserted", executionId).result("register")).toBe("registered a model with accuracy 0.9");
  });

  it("refuses a port that is in use, naming it", async () => {
    const port = new URL(endpoint).port;
    const second = await startCli(temp.store, ["serve", "--port", port]).exited;
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
  });

  it("stops on SIGTERM, exiting 0", async () => {
    serve.child.kill("SIGTERM");
    const ended = await serve.exited;
    expect(ended.stderr).toContain("SIGTERM: stopping");
    expect(ended.code).toBe(0);
  });
});
