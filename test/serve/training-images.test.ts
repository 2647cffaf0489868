/**
 * A definition written as a SageMaker user writes one, not by stepbox: Training steps of an image
 * that is not stepbox's runner (any image honouring the /opt/ml contract), created, started, stopped
 * and described through `stepbox serve` with the AWS SDK for JavaScript, run by the real engine in
 * real containers on the local Docker engine.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  CreatePipelineCommand,
  DescribePipelineExecutionCommand,
  DescribeTrainingJobCommand,
  ListPipelineExecutionStepsCommand,
  type SageMakerClient,
  StartPipelineExecutionCommand,
  StopPipelineExecutionCommand,
} from "@aws-sdk/client-sagemaker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipelineSession } from "stepbox";
import { startServe, type RunningServe } from "../../src/serve/server.js";
import { layout } from "../../src/store/layout.js";
import { ROLE_ARN, sageMakerClient, tempRoot } from "./client.js";

let temp: Awaited<ReturnType<typeof tempRoot>>;
let session: LocalPipelineSession;
let serve: RunningServe;
let client: SageMakerClient;
let image: string;
let dataDir: string;

beforeAll(async () => {
  temp = await tempRoot();
  session = new LocalPipelineSession({ artifactRoot: join(temp.root, "store"), secret: "training-images", stopGraceSeconds: 1 });
  // The runtime image stands in for any image: run with an entry point of the definition's, the engine treats it as any other.
  ({ image } = await session.runtime());
  dataDir = join(temp.root, "data");
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, "rows.csv"), "a,b\n1,2\n");
  serve = await startServe({ session, port: 0 });
  client = sageMakerClient(serve.url);
}, 300_000);

afterAll(async () => {
  client?.destroy();
  await serve?.close();
  await temp?.cleanup();
});

const S3_OUTPUT = (step: string) => ({
  "Std:Join": { On: "/", Values: ["s3://stepbox-local/images", { Get: "Execution.PipelineExecutionId" }, step, "results"] },
});

/** A Training step of `image` whose entry point is a script of its own (the image has node, and no shell). */
function scriptStep(name: string, script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Name: name,
    Type: "Training",
    Arguments: {
      RoleArn: ROLE_ARN,
      AlgorithmSpecification: { TrainingImage: image, TrainingInputMode: "File", ContainerEntrypoint: ["/usr/local/bin/node", "-e", script] },
      ResourceConfig: { InstanceType: "ml.m5.large", InstanceCount: 1, VolumeSizeInGB: 1 },
      StoppingCondition: { MaxRuntimeInSeconds: 600 },
      OutputDataConfig: { S3OutputPath: S3_OUTPUT(name) },
      EnableNetworkIsolation: true,
      ...extra,
    },
  };
}

async function until(arn: string, ended: (status: string) => boolean): Promise<string> {
  for (;;) {
    const { PipelineExecutionStatus: status } = await client.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: arn }));
    if (ended(status!)) return status!;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("Training steps of an image other than stepbox's runner", () => {
  it("run with their hyperparameters and channels, leave their model in the store, and feed a condition", async () => {
    const train = scriptStep(
      "train",
      // What a training image does: read its config and data, write its model.
      [
        'const fs = require("node:fs");',
        'fs.copyFileSync("/opt/ml/input/config/hyperparameters.json", "/opt/ml/model/hyperparameters.json");',
        'fs.copyFileSync("/opt/ml/input/data/train/rows.csv", "/opt/ml/model/rows.csv");',
        'console.log("trained", process.env.SM_MARK);',
      ].join(" "),
      {
        HyperParameters: { epochs: { "Std:Join": { On: "", Values: [{ Get: "Parameters.Epochs" }] } } },
        InputDataConfig: [{ ChannelName: "train", DataSource: { S3DataSource: { S3Uri: pathToFileURL(dataDir).href, S3DataType: "S3Prefix" } } }],
        Environment: { SM_MARK: "from-the-definition" },
      },
    );
    const definition = {
      Version: "2020-12-01",
      Parameters: [{ Name: "Epochs", Type: "Integer", DefaultValue: 1 }],
      Steps: [
        train,
        {
          Name: "check",
          Type: "Condition",
          Arguments: {
            Conditions: [{ Type: "GreaterThan", LeftValue: { Get: "Parameters.Epochs" }, RightValue: 2 }],
            IfSteps: [scriptStep("evaluate", 'console.log("evaluating")')],
            ElseSteps: [
              {
                Name: "too-short",
                Type: "Fail",
                Arguments: { ErrorMessage: { "Std:Join": { On: " ", Values: ["only", { Get: "Parameters.Epochs" }, "epochs"] } } },
              },
            ],
          },
          DependsOn: ["train"],
        },
      ],
    };
    await client.send(new CreatePipelineCommand({ PipelineName: "images", PipelineDefinition: JSON.stringify(definition), RoleArn: ROLE_ARN }));
    const { PipelineExecutionArn: arn } = await client.send(
      new StartPipelineExecutionCommand({ PipelineName: "images", PipelineParameters: [{ Name: "Epochs", Value: "3" }] }),
    );
    expect(await until(arn!, (s) => s !== "Executing")).toBe("Succeeded");
    const { PipelineExecutionSteps: steps } = await client.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: arn }));
    expect(steps!.map((s) => [s.StepName, s.StepStatus]).sort()).toEqual([
      ["check", "Succeeded"],
      ["evaluate", "Succeeded"],
      ["train", "Succeeded"],
    ]);
    expect(steps!.find((s) => s.StepName === "check")!.Metadata?.Condition?.Outcome).toBe("True");

    const jobName = steps!
      .find((s) => s.StepName === "train")!
      .Metadata!.TrainingJob!.Arn!.split("/")
      .pop()!;
    const job = await client.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName }));
    expect(job.TrainingJobStatus).toBe("Completed");
    expect(job.HyperParameters).toEqual({ epochs: "3" });
    const executionId = arn!.split("/").pop()!;
    // The output path the definition gave, evaluated for this execution.
    expect(job.OutputDataConfig?.S3OutputPath).toBe(`s3://stepbox-local/images/${executionId}/train/results`);
    const model = await session.store.get(layout.output("images", executionId, "train", "model.tar.gz"));
    expect(model.byteLength).toBeGreaterThan(0);
    const log = (await session.store.list(layout.logs("images", executionId, "train"))).filter((k) => k.endsWith(".log"));
    expect((await session.store.get(log[0]!)).toString("utf8")).toContain("trained from-the-definition");
  }, 300_000);

  it("fail with the job's exit code and last lines", async () => {
    const definition = {
      Version: "2020-12-01",
      Steps: [scriptStep("crash", 'console.log("about to fail"); process.exit(3)')],
    };
    await client.send(new CreatePipelineCommand({ PipelineName: "crashing", PipelineDefinition: JSON.stringify(definition), RoleArn: ROLE_ARN }));
    const { PipelineExecutionArn: arn } = await client.send(new StartPipelineExecutionCommand({ PipelineName: "crashing" }));
    expect(await until(arn!, (s) => s !== "Executing")).toBe("Failed");
    const { PipelineExecutionSteps: steps } = await client.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: arn }));
    expect(steps![0]!.FailureReason).toMatch(/^AlgorithmError: exit code 3[\s\S]*about to fail/);
  }, 300_000);

  it("stop when the execution is stopped", async () => {
    const definition = { Version: "2020-12-01", Steps: [scriptStep("sleeper", 'console.log("started"); setTimeout(() => {}, 600000)')] };
    await client.send(new CreatePipelineCommand({ PipelineName: "sleeping", PipelineDefinition: JSON.stringify(definition), RoleArn: ROLE_ARN }));
    const { PipelineExecutionArn: arn } = await client.send(new StartPipelineExecutionCommand({ PipelineName: "sleeping" }));
    // Stopped once its step runs in its container.
    for (;;) {
      const { PipelineExecutionSteps: steps } = await client.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: arn }));
      if (steps?.[0]?.Metadata?.TrainingJob?.Arn && steps[0].StepStatus === "Executing") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await client.send(new StopPipelineExecutionCommand({ PipelineExecutionArn: arn, ClientRequestToken: "stop-the-sleeper-0000000000000000" }));
    expect(await until(arn!, (s) => s !== "Executing" && s !== "Stopping")).toBe("Stopped");
  }, 300_000);
});
