/**
 * stepbox serve driven by the real AWS SDK for SageMaker: pipelines created through it, and pipelines
 * and executions that a LocalPipelineSession recorded on the same store, in SageMaker's shapes and
 * SageMaker's errors. The session's steps run in-process (test/support/in-process-runtime.ts), so
 * these tests need no Docker engine.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CreatePipelineCommand,
  DeletePipelineCommand,
  DescribePipelineCommand,
  DescribePipelineDefinitionForExecutionCommand,
  DescribePipelineExecutionCommand,
  DescribeTrainingJobCommand,
  ListPipelineExecutionStepsCommand,
  ListPipelineExecutionsCommand,
  ListPipelineParametersForExecutionCommand,
  ListPipelinesCommand,
  RetryPipelineExecutionCommand,
  StartPipelineExecutionCommand,
  StopPipelineExecutionCommand,
  UpdatePipelineCommand,
  type SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConditionGreaterThanOrEqualTo,
  ConditionStep,
  FailStep,
  Join,
  LocalPipelineSession,
  ParameterFloat,
  ParameterInteger,
  Pipeline,
  getStep,
} from "stepbox";
import { parseTrainingJobArn } from "../../src/naming/sagemaker-arns.js";
import { startServe, type RunningServe } from "../../src/serve/server.js";
import { layout } from "../../src/store/layout.js";
import { alert, increment, pause, register, score } from "../fixtures/semantics-steps.js";
import { InProcessRuntime, inProcessSession } from "../support/in-process-runtime.js";
import { definitionText, rejection, ROLE_ARN, sageMakerClient, tempRoot } from "./client.js";

let temp: Awaited<ReturnType<typeof tempRoot>>;
let local: ReturnType<typeof inProcessSession>;
let serve: RunningServe;
let client: SageMakerClient;
let definition: string;

beforeAll(async () => {
  temp = await tempRoot();
  local = inProcessSession(temp.root);
  serve = await startServe({ session: local.session, port: 0 });
  client = sageMakerClient(serve.url);
  definition = await definitionText();
});

afterAll(async () => {
  client?.destroy();
  await serve?.close();
  await temp?.cleanup();
});

/** SageMaker's error as the SDK throws it: its type as the name, and HTTP 400. */
async function expectApiError(request: Promise<unknown>, name: string, message: RegExp): Promise<void> {
  const error = await rejection(request);
  expect({ name: error.name, status: error.$metadata.httpStatusCode }).toEqual({ name, status: 400 });
  expect(error.message).toMatch(message);
}

describe("pipelines created through serve", () => {
  it("are created, described, listed, updated and deleted, and kept in the store as a session keeps them", async () => {
    const before = Date.now() / 1000;
    const created = await client.send(
      new CreatePipelineCommand({
        PipelineName: "served",
        PipelineDisplayName: "Served",
        PipelineDescription: "made through the SDK",
        PipelineDefinition: definition,
        RoleArn: ROLE_ARN,
      }),
    );
    expect(created.PipelineArn).toBe("arn:aws:sagemaker:local:000000000000:pipeline/served");

    const described = await client.send(new DescribePipelineCommand({ PipelineName: "served" }));
    expect(described).toMatchObject({
      PipelineArn: created.PipelineArn,
      PipelineName: "served",
      PipelineDisplayName: "Served",
      PipelineDescription: "made through the SDK",
      PipelineDefinition: definition,
      RoleArn: ROLE_ARN,
      PipelineStatus: "Active",
    });
    // Epoch seconds on the wire, Dates in the SDK.
    expect(described.CreationTime).toBeInstanceOf(Date);
    expect(described.CreationTime!.getTime() / 1000).toBeGreaterThanOrEqual(Math.floor(before));
    // By ARN as well as by name.
    expect((await client.send(new DescribePipelineCommand({ PipelineName: created.PipelineArn }))).PipelineName).toBe("served");
    // The session's own reader finds it where upsert() would have put it.
    expect((await local.session.records.readPipeline("served"))?.PipelineDefinition).toBe(definition);

    const listed = await client.send(new ListPipelinesCommand({ PipelineNamePrefix: "serv" }));
    expect(listed.PipelineSummaries?.map((p) => [p.PipelineName, p.PipelineDisplayName, p.RoleArn])).toEqual([["served", "Served", ROLE_ARN]]);
    expect(listed.PipelineSummaries?.[0]?.CreationTime).toEqual(described.CreationTime);

    const changed = definition.replace("the threshold is below 0.25", "too low");
    await client.send(new UpdatePipelineCommand({ PipelineName: "served", PipelineDefinition: changed, PipelineDescription: "updated" }));
    const updated = await client.send(new DescribePipelineCommand({ PipelineName: "served" }));
    expect(updated).toMatchObject({ PipelineDefinition: changed, PipelineDescription: "updated", PipelineDisplayName: "Served" });
    expect(updated.LastModifiedTime!.getTime()).toBeGreaterThanOrEqual(described.LastModifiedTime!.getTime());
    expect(updated.CreationTime).toEqual(described.CreationTime);

    expect((await client.send(new DeletePipelineCommand({ PipelineName: "served" }))).PipelineArn).toBe(created.PipelineArn);
    await expectApiError(client.send(new DescribePipelineCommand({ PipelineName: "served" })), "ResourceNotFound", /pipeline\/served' does not exist/);
    expect(await local.session.records.readPipeline("served")).toBeUndefined();
  });

  it("refuses a name that exists, but answers the same request repeated (its ClientRequestToken) as the first time", async () => {
    const request = { PipelineName: "twice", PipelineDefinition: definition, RoleArn: ROLE_ARN, ClientRequestToken: "a".repeat(32) };
    const first = await client.send(new CreatePipelineCommand(request));
    expect((await client.send(new CreatePipelineCommand(request))).PipelineArn).toBe(first.PipelineArn);
    await expectApiError(
      client.send(new CreatePipelineCommand({ ...request, ClientRequestToken: "b".repeat(32) })),
      "ValidationException",
      /Pipeline with name \(twice\) already exists/,
    );
  });

  it("lists in pages, sorted as asked", async () => {
    for (const name of ["page-b", "page-a", "page-c"]) {
      await client.send(new CreatePipelineCommand({ PipelineName: name, PipelineDefinition: definition, RoleArn: ROLE_ARN }));
    }
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListPipelinesCommand({ PipelineNamePrefix: "page", SortBy: "Name", SortOrder: "Ascending", MaxResults: 2, NextToken: token }),
      );
      expect(page.PipelineSummaries!.length).toBeLessThanOrEqual(2);
      names.push(...page.PipelineSummaries!.map((p) => p.PipelineName!));
      token = page.NextToken;
    } while (token);
    expect(names).toEqual(["page-a", "page-b", "page-c"]);
    const newest = await client.send(new ListPipelinesCommand({ PipelineNamePrefix: "page", MaxResults: 1 }));
    expect(newest.PipelineSummaries?.map((p) => p.PipelineName)).toEqual(["page-c"]);
  });
});

describe("a pipeline created through serve and then upserted by a session", () => {
  it("keeps the role, description and display name serve recorded, and takes the session's definition", async () => {
    await client.send(
      new CreatePipelineCommand({
        PipelineName: "shared-record",
        PipelineDisplayName: "Shared",
        PipelineDescription: "made through the SDK first",
        PipelineDefinition: definition,
        RoleArn: ROLE_ARN,
      }),
    );
    const pipeline = new Pipeline({ name: "shared-record", steps: [increment(1)], session: local.session });
    await pipeline.upsert();
    const described = await client.send(new DescribePipelineCommand({ PipelineName: "shared-record" }));
    expect(described).toMatchObject({
      PipelineDisplayName: "Shared",
      PipelineDescription: "made through the SDK first",
      RoleArn: ROLE_ARN,
      PipelineDefinition: pipeline.definition(),
    });
  });
});

describe("invalid definitions", () => {
  it.each([
    ["not JSON", "{ Version: 2020", /^The PipelineDefinition cannot be run: the definition: it is not JSON: .* \(pass the text of the definition/],
    ["another version", JSON.stringify({ Version: "2019-01-01", Steps: [] }), /Version.*2019-01-01/],
    ["a step that reads a parameter it does not declare", definitionText().then((d) => d.replace('"Parameters.epochs"', '"Parameters.rounds"')), /rounds/],
  ])("refuses a definition that is %s with a ValidationException that says why", async (_what, text, message) => {
    await expectApiError(
      client.send(new CreatePipelineCommand({ PipelineName: "broken", PipelineDefinition: await text, RoleArn: ROLE_ARN })),
      "ValidationException",
      message,
    );
    expect(await local.session.records.readPipeline("broken")).toBeUndefined();
  });

  it("refuses, at CreatePipeline and UpdatePipeline, a step type the engine cannot run, naming the step, the type and the fix", async () => {
    const lambda = definition.replace('"Type": "Fail"', '"Type": "Lambda"');
    await expectApiError(
      client.send(new CreatePipelineCommand({ PipelineName: "lambda", PipelineDefinition: lambda, RoleArn: ROLE_ARN })),
      "ValidationException",
      /^The PipelineDefinition cannot be run: .*\(step "too-weak"\): "Lambda" is a step type stepbox cannot run \(stepbox runs Training, Condition, Fail steps/,
    );
    await client.send(new CreatePipelineCommand({ PipelineName: "lambda", PipelineDefinition: definition, RoleArn: ROLE_ARN }));
    await expectApiError(client.send(new UpdatePipelineCommand({ PipelineName: "lambda", PipelineDefinition: lambda })), "ValidationException", /"Lambda"/);
    expect((await client.send(new DescribePipelineCommand({ PipelineName: "lambda" }))).PipelineDefinition).toBe(definition);
  });
});

describe("malformed requests", () => {
  const post = (headers: Record<string, string>, body: string, method = "POST") =>
    fetch(`${serve.url}/`, { method, headers: { "content-type": "application/x-amz-json-1.1", ...headers }, ...(method === "POST" ? { body } : {}) });

  it("answers a body that is not JSON with a SerializationException", async () => {
    const response = await post({ "x-amz-target": "SageMaker.ListPipelines" }, "{not json");
    expect(response.status).toBe(400);
    expect(response.headers.get("x-amzn-errortype")).toBe("SerializationException");
    expect(await response.json()).toEqual({ __type: "SerializationException", message: expect.stringMatching(/not valid JSON/) });
  });

  it("answers a body far larger than any SageMaker request with a SerializationException", async () => {
    const huge = JSON.stringify({ PipelineNamePrefix: "x".repeat(9 * 1024 * 1024) });
    const response = await post({ "x-amz-target": "SageMaker.ListPipelines" }, huge);
    expect(response.status).toBe(400);
    expect(response.headers.get("x-amzn-errortype")).toBe("SerializationException");
    expect(((await response.json()) as { message: string }).message).toMatch(/larger than 8388608 bytes/);
  });

  it.each([
    [
      "an operation it does not implement",
      { "x-amz-target": "SageMaker.CreateTrainingJob" },
      "POST",
      /SageMaker.CreateTrainingJob is not an operation stepbox serve implements; it implements: SageMaker.CreatePipeline, .*Logs_20140328.GetLogEvents/,
    ],
    ["no X-Amz-Target", {}, "POST", /no X-Amz-Target header/],
    ["a GET", { "x-amz-target": "SageMaker.ListPipelines" }, "GET", /answers POST \//],
  ])("answers %s with an UnknownOperationException", async (_what, headers, method, message) => {
    const response = await post(headers, "{}", method);
    expect(response.status).toBe(400);
    expect(response.headers.get("x-amzn-errortype")).toBe("UnknownOperationException");
    const body = (await response.json()) as { __type: string; message: string };
    expect(body.__type).toBe("UnknownOperationException");
    expect(body.message).toMatch(message);
  });

  it("checks members as SageMaker does, naming each problem", async () => {
    await expectApiError(
      client.send(new CreatePipelineCommand({ PipelineName: "bad_name!", PipelineDefinition: definition } as never)),
      "ValidationException",
      /^2 validation errors detected: Value 'bad_name!' at 'pipelineName' failed to satisfy constraint: Member must satisfy regular expression pattern: .*; Value null at 'roleArn' failed to satisfy constraint: Member must not be null$/,
    );
    await expectApiError(client.send(new ListPipelinesCommand({ MaxResults: 500 })), "ValidationException", /at 'maxResults' .* less than or equal to 100/);
    await expectApiError(client.send(new ListPipelinesCommand({ SortBy: "Size" as never })), "ValidationException", /enum value set: \[Name, CreationTime\]/);
    await expectApiError(client.send(new ListPipelinesCommand({ NextToken: "made-up" })), "ValidationException", /Invalid pagination token/);
    await expectApiError(
      client.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: "arn:aws:sagemaker:local:000000000000:pipeline/x" })),
      "ValidationException",
      /regular expression pattern/,
    );
    await expectApiError(
      client.send(new StartPipelineExecutionCommand({ PipelineName: "twice", PipelineParameters: [{ Name: "epochs", Value: "many" }] })),
      "ValidationException",
      /parameter "epochs" \(Integer\) must be an integer, got 'many'/,
    );
    await expectApiError(
      client.send(new StartPipelineExecutionCommand({ PipelineName: "twice", PipelineParameters: [{ Name: "speed", Value: "1" }] })),
      "ValidationException",
      /has no parameter "speed".*its parameters are: epochs, threshold/,
    );
  });
});

describe("unknown resources", () => {
  const unknownExecution = "arn:aws:sagemaker:local:000000000000:pipeline/twice/execution/000000000000";

  it.each([
    ["DescribePipeline", () => client.send(new DescribePipelineCommand({ PipelineName: "nowhere" })), /Pipeline '.*pipeline\/nowhere' does not exist/],
    ["UpdatePipeline", () => client.send(new UpdatePipelineCommand({ PipelineName: "nowhere", PipelineDescription: "x" })), /does not exist/],
    ["DeletePipeline", () => client.send(new DeletePipelineCommand({ PipelineName: "nowhere" })), /does not exist/],
    ["ListPipelineExecutions", () => client.send(new ListPipelineExecutionsCommand({ PipelineName: "nowhere" })), /does not exist/],
    ["StartPipelineExecution", () => client.send(new StartPipelineExecutionCommand({ PipelineName: "nowhere" })), /does not exist/],
    [
      "DescribePipelineExecution",
      () => client.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: unknownExecution })),
      /execution '.*' does not exist/,
    ],
    ["ListPipelineExecutionSteps", () => client.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: unknownExecution })), /does not exist/],
    ["StopPipelineExecution", () => client.send(new StopPipelineExecutionCommand({ PipelineExecutionArn: unknownExecution })), /does not exist/],
  ])("%s answers ResourceNotFound", async (_operation, request, message) => {
    await expectApiError(request(), "ResourceNotFound", message);
  });

  it("DescribeTrainingJob of a job no step ran answers as SageMaker does", async () => {
    await expectApiError(
      client.send(new DescribeTrainingJobCommand({ TrainingJobName: "train-000000000000" })),
      "ValidationException",
      /^Requested resource not found\.$/,
    );
  });
});

describe("an execution that a LocalPipelineSession ran on the same store", () => {
  const threshold = new ParameterFloat({ name: "threshold", defaultValue: 0.9 });
  let executionArn: string;
  let scoreStep: string;
  let alertStep: string;

  beforeAll(async () => {
    const model = score(0.5);
    const alerted = alert(model);
    const fail = new FailStep({ name: "too-weak", errorMessage: new Join({ on: " ", values: ["accuracy is below", threshold] }), dependsOn: [alerted] });
    const check = new ConditionStep({
      name: "good-enough",
      conditions: [new ConditionGreaterThanOrEqualTo({ left: model.get("accuracy"), right: threshold })],
      ifSteps: [register(model)],
      elseSteps: [alerted, fail],
    });
    const pipeline = new Pipeline({ name: "condition", steps: [check], parameters: [threshold], session: local.session });
    const execution = await pipeline.start({ parameters: { threshold: 0.75 } });
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    executionArn = execution.arn;
    scoreStep = getStep(model).name;
    alertStep = getStep(alerted).name;
  });

  it("is listed and described", async () => {
    expect((await client.send(new ListPipelinesCommand({}))).PipelineSummaries?.map((p) => p.PipelineName)).toContain("condition");
    const pipeline = await client.send(new DescribePipelineCommand({ PipelineName: "condition" }));
    expect(pipeline.LastRunTime).toBeInstanceOf(Date);
    const { PipelineExecutionSummaries: summaries } = await client.send(new ListPipelineExecutionsCommand({ PipelineName: "condition" }));
    expect(summaries).toEqual([
      {
        PipelineExecutionArn: executionArn,
        StartTime: expect.any(Date),
        PipelineExecutionStatus: "Failed",
        PipelineExecutionDisplayName: expect.any(String),
        PipelineExecutionFailureReason: "Step 'too-weak' failed with message: accuracy is below 0.75",
      },
    ]);
    const described = await client.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: executionArn }));
    expect(described).toMatchObject({
      PipelineArn: "arn:aws:sagemaker:local:000000000000:pipeline/condition",
      PipelineExecutionArn: executionArn,
      PipelineExecutionStatus: "Failed",
      FailureReason: "Step 'too-weak' failed with message: accuracy is below 0.75",
      PipelineExperimentConfig: { ExperimentName: "condition", TrialName: executionArn.split("/").at(-1) },
      ParallelismConfiguration: { MaxParallelExecutionSteps: expect.any(Number) },
    });
    expect(described.CreationTime).toBeInstanceOf(Date);
    expect(described.LastModifiedTime!.getTime()).toBeGreaterThanOrEqual(described.CreationTime!.getTime());
  });

  it("lists its steps in SageMaker's shapes, newest first: the condition's outcome, the Fail step's message, each job's ARN", async () => {
    const { PipelineExecutionSteps: steps } = await client.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: executionArn }));
    const byName = new Map(steps!.map((s) => [s.StepName, s]));
    expect([...byName.keys()].sort()).toEqual([alertStep, "good-enough", scoreStep, "too-weak"].sort());
    expect(byName.get("good-enough")).toMatchObject({
      StepStatus: "Succeeded",
      Metadata: { Condition: { Outcome: "False" } },
      AttemptCount: expect.any(Number),
    });
    expect(byName.get("too-weak")).toMatchObject({
      StepStatus: "Failed",
      FailureReason: "accuracy is below 0.75",
      Metadata: { Fail: { ErrorMessage: "accuracy is below 0.75" } },
    });
    expect(byName.get(scoreStep)).toMatchObject({ StepStatus: "Succeeded", Metadata: { TrainingJob: { Arn: expect.stringMatching(/:training-job\//) } } });
    // Only SageMaker's members: stepbox's own (Attempts, Failure) stay in the store and the library.
    expect(Object.keys(byName.get(scoreStep)!.Metadata!)).toEqual(["TrainingJob"]);
    expect(Object.keys(byName.get(scoreStep)!.Metadata!.TrainingJob!)).toEqual(["Arn"]);
    const starts = steps!.map((s) => s.StartTime!.getTime());
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
    const ascending = await client.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: executionArn, SortOrder: "Ascending", MaxResults: 1 }));
    expect(ascending.PipelineExecutionSteps?.map((s) => s.StepName)).toEqual([scoreStep]);
    expect(ascending.NextToken).toBeDefined();
  });

  it("answers its parameters and the definition it ran", async () => {
    const { PipelineParameters } = await client.send(new ListPipelineParametersForExecutionCommand({ PipelineExecutionArn: executionArn }));
    expect(PipelineParameters).toEqual([{ Name: "threshold", Value: "0.75" }]);
    const { PipelineDefinition, CreationTime } = await client.send(new DescribePipelineDefinitionForExecutionCommand({ PipelineExecutionArn: executionArn }));
    const id = executionArn.split("/").at(-1)!;
    expect(PipelineDefinition).toBe(await readFile(join(temp.root, layout.executionDefinition("condition", id)), "utf8"));
    expect(CreationTime).toBeInstanceOf(Date);
  });

  it("describes the training job that ran a step, from its record and job.json", async () => {
    const { PipelineExecutionSteps: steps } = await client.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: executionArn }));
    const arn = steps!.find((s) => s.StepName === scoreStep)!.Metadata!.TrainingJob!.Arn!;
    const { jobName } = parseTrainingJobArn(arn);
    const job = await client.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName }));
    expect(job).toMatchObject({
      TrainingJobName: jobName,
      TrainingJobArn: arn,
      TrainingJobStatus: "Completed",
      SecondaryStatus: "Completed",
      AlgorithmSpecification: { TrainingImage: "in-process", TrainingInputMode: "File" },
      ResourceConfig: { InstanceType: expect.stringMatching(/^ml\./), InstanceCount: 1 },
      Environment: expect.any(Object),
    });
    expect(job.TrainingStartTime).toBeInstanceOf(Date);
    expect(job.TrainingEndTime!.getTime()).toBeGreaterThanOrEqual(job.TrainingStartTime!.getTime());
    expect(job.SecondaryStatusTransitions?.map((t) => t.Status)).toContain("Completed");
    expect(job.SecondaryStatusTransitions?.[0]?.StartTime).toBeInstanceOf(Date);
  });

  it("is not stopped once it has ended", async () => {
    await expectApiError(
      client.send(new StopPipelineExecutionCommand({ PipelineExecutionArn: executionArn })),
      "ValidationException",
      /is Failed: only an Executing/,
    );
  });
});

describe("a running execution that a LocalPipelineSession runs", () => {
  it("keeps its pipeline from being deleted, and is stopped through the store's stop request", async () => {
    const execution = await new Pipeline({ name: "paused", steps: [pause(600_000)], session: local.session }).start();
    const arn = execution.arn;
    // Its step has started once the step's record says so.
    for (;;) {
      const { PipelineExecutionSteps: steps } = await client.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: arn }));
      if (steps?.[0]?.StepStatus === "Executing") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await client.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: arn }))).PipelineExecutionStatus).toBe("Executing");
    await expectApiError(client.send(new DeletePipelineCommand({ PipelineName: "paused" })), "ConflictException", /has running executions/);
    expect((await client.send(new StopPipelineExecutionCommand({ PipelineExecutionArn: arn }))).PipelineExecutionArn).toBe(arn);
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Stopped");
    expect((await client.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: arn }))).PipelineExecutionStatus).toBe("Stopped");
    const { PipelineExecutionSteps: steps } = await client.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: arn }));
    expect(steps?.map((s) => s.StepStatus)).toEqual(["Stopped"]);
    await client.send(new DeletePipelineCommand({ PipelineName: "paused" }));
  });
});

describe("a failure inside serve", () => {
  it("is a 500 InternalFailure that says what broke, logged, and serve goes on answering", async () => {
    const logged: Array<{ event?: string; msg?: string }> = [];
    const logger = pino({ level: "info" }, { write: (line: string) => logged.push(JSON.parse(line) as { event?: string }) });
    const session = new LocalPipelineSession({ artifactRoot: temp.root, secret: "test-secret", runtime: new InProcessRuntime(), logger });
    const watched = await startServe({ session, port: 0 });
    const other = sageMakerClient(watched.url);
    try {
      const execution = await new Pipeline({ name: "damaged", steps: [score(0.1)], session }).start();
      await execution.wait();
      await writeFile(join(temp.root, layout.execution("damaged", execution.id)), "{ half a record");
      const error = await rejection(other.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: execution.arn })));
      expect({ name: error.name, status: error.$metadata.httpStatusCode }).toEqual({ name: "InternalFailure", status: 500 });
      expect(error.message).toMatch(/execution record at .*damaged\/.*execution.json is damaged: it is not valid JSON/);
      expect(logged.filter((l) => l.event === "serve.internal-failure")).toHaveLength(1);
      // The process is still there, and so is every other answer.
      expect((await other.send(new DescribePipelineCommand({ PipelineName: "damaged" }))).PipelineName).toBe("damaged");
    } finally {
      other.destroy();
      await watched.close();
    }
  });
});

/** DescribePipelineExecution until the execution has ended, or its step has started. */
async function until(client: SageMakerClient, arn: string, done: (status: string, steps: string[]) => boolean): Promise<string> {
  for (;;) {
    const { PipelineExecutionStatus: status } = await client.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: arn }));
    const { PipelineExecutionSteps: steps } = await client.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: arn }));
    if (
      done(
        status!,
        steps!.map((s) => s.StepStatus!),
      )
    )
      return status!;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("executions started through serve", () => {
  const x = new ParameterInteger({ name: "x", defaultValue: 1 });
  let started: RunningServe;
  let other: SageMakerClient;
  let counted: Pipeline;
  let paused: Pipeline;

  beforeAll(async () => {
    counted = new Pipeline({ name: "counted", steps: [increment(x)], parameters: [x], session: local.session });
    paused = new Pipeline({ name: "paused-serve", steps: [pause(600_000)], session: local.session });
    await counted.upsert();
    await paused.upsert();
    started = await startServe({ session: local.session, port: 0 });
    other = sageMakerClient(started.url);
  });

  afterAll(async () => {
    other?.destroy();
    await started?.close();
  });

  it("start with the parameters given, typed as the definition declares them, once per ClientRequestToken", async () => {
    const request = {
      PipelineName: "counted",
      PipelineParameters: [{ Name: "x", Value: "41" }],
      PipelineExecutionDisplayName: "answer",
      PipelineExecutionDescription: "adds one",
      ParallelismConfiguration: { MaxParallelExecutionSteps: 1 },
      ClientRequestToken: "c".repeat(32),
    };
    const { PipelineExecutionArn: arn } = await other.send(new StartPipelineExecutionCommand(request));
    expect((await other.send(new StartPipelineExecutionCommand(request))).PipelineExecutionArn).toBe(arn);
    expect(await until(other, arn!, (status) => status !== "Executing")).toBe("Succeeded");
    expect(await other.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: arn }))).toMatchObject({
      PipelineExecutionDisplayName: "answer",
      PipelineExecutionDescription: "adds one",
      ParallelismConfiguration: { MaxParallelExecutionSteps: 1 },
    });
    const id = arn!.split("/").at(-1)!;
    expect(await (await counted.execution(id)).result("increment")).toBe(42);
    expect((await other.send(new ListPipelineExecutionsCommand({ PipelineName: "counted" }))).PipelineExecutionSummaries).toHaveLength(1);
  });

  it("are stopped through the running execution, retried as a new one, and stopped when serve closes", async () => {
    const { PipelineExecutionArn: arn } = await other.send(new StartPipelineExecutionCommand({ PipelineName: "paused-serve" }));
    await until(other, arn!, (_status, steps) => steps[0] === "Executing");
    await other.send(new StopPipelineExecutionCommand({ PipelineExecutionArn: arn }));
    expect(await until(other, arn!, (status) => status !== "Executing" && status !== "Stopping")).toBe("Stopped");

    const { PipelineExecutionArn: retried } = await other.send(new RetryPipelineExecutionCommand({ PipelineExecutionArn: arn }));
    expect(retried).not.toBe(arn);
    await until(other, retried!, (_status, steps) => steps[0] === "Executing");
    expect(await other.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: retried }))).toMatchObject({
      PipelineExecutionStatus: "Executing",
      SelectiveExecutionConfig: { SourcePipelineExecutionArn: arn },
    });

    await started.close();
    const id = retried!.split("/").at(-1)!;
    expect((await local.session.records.readExecution("paused-serve", id)).PipelineExecutionStatus).toBe("Stopped");
  });
});
