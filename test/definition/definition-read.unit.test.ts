/**
 * readDefinition reads any SageMaker pipeline definition (the SDK's, the service's, stepbox's) into
 * steps, branches and upstream edges, and refuses what SageMaker or the local engine would not run,
 * naming the place as a JSON path and the fix.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DefinitionError } from "../../src/errors.js";
import { emitDefinition } from "../../src/definition/emit-definition.js";
import { readDefinition } from "../../src/definition/read-definition.js";
import { compilePipeline } from "../../src/graph/compile.js";
import { add } from "../fixtures/scheduler-steps.js";

/** What the SageMaker Python SDK v2.257.6 wrote for small @step pipelines, and what DescribePipeline returned. */
const example = (name: string): string => readFileSync(fileURLToPath(new URL(`../fixtures/definition-examples/${name}.json`, import.meta.url)), "utf8");

/** A Training step as small as the reader accepts. */
function training(name: string, extra: Record<string, unknown> = {}, args: Record<string, unknown> = {}) {
  return { Name: name, Type: "Training", Arguments: { RoleArn: "arn:aws:iam::000000000000:role/r", ...args }, ...extra };
}

function definition(steps: unknown[], more: Record<string, unknown> = {}): string {
  return JSON.stringify({ Version: "2020-12-01", Metadata: {}, Parameters: [], Steps: steps, ...more });
}

/** The DefinitionError readDefinition throws for the text. */
function refusal(text: string): DefinitionError {
  try {
    readDefinition(text);
  } catch (error) {
    expect(error).toBeInstanceOf(DefinitionError);
    const e = error as DefinitionError;
    expect(e.code).toBe("INVALID_DEFINITION");
    expect(e.hint).toBeTruthy();
    return e;
  }
  throw new Error("readDefinition accepted the definition");
}

describe("the SDK's and the service's definitions", () => {
  it("minimal: world waits for hello through DependsOn alone", () => {
    const graph = readDefinition(example("step-decorator-minimal"));
    expect(graph.steps.map((s) => s.name)).toEqual(["hello", "world"]);
    expect(graph.upstream.get("world")).toEqual(["hello"]);
    expect(graph.upstream.get("hello")).toEqual([]);
    expect(graph.downstream.get("hello")).toEqual(["world"]);
    const world = graph.step("world");
    expect(world?.type).toBe("Training");
    if (world?.type !== "Training") return;
    expect(world.displayName).toBe("__main__.world");
    expect(world.description).toBe("Say world.");
    expect((world.arguments.Environment as Record<string, string>).GREETING).toBe("world");
    expect(graph.branches.size).toBe(0);
  });

  it("linear: parameters of three types, upstream results and two retry policies", () => {
    const graph = readDefinition(example("step-decorator-linear"));
    expect(graph.steps.map((s) => s.name)).toEqual(["preprocess", "train", "evaluate"]);
    expect(graph.parameters).toEqual([
      { Name: "InputDataUrl", Type: "String", DefaultValue: "s3://s3_bucket/abalone/abalone.csv" },
      { Name: "Epochs", Type: "Integer", DefaultValue: 10 },
      { Name: "LearningRate", Type: "Float", DefaultValue: 0.01 },
    ]);
    expect(graph.upstream.get("train")).toEqual(["preprocess"]);
    expect(graph.upstream.get("evaluate")).toEqual(["train", "preprocess"]);
    expect(graph.downstream.get("preprocess")).toEqual(["train", "evaluate"]);
    const train = graph.step("train");
    if (train?.type !== "Training") throw new Error("train is not a Training step");
    expect(train.retryPolicies).toEqual([
      { ExceptionType: ["Step.SERVICE_FAULT", "Step.THROTTLING"], BackoffRate: 2, IntervalSeconds: 10, MaxAttempts: 3 },
      { ExceptionType: ["SageMaker.CAPACITY_ERROR"], BackoffRate: 1.5, IntervalSeconds: 30, ExpireAfterMin: 60 },
    ]);
  });

  it("condition: branch steps flattened, each gated by the condition and reading what it reads", () => {
    const graph = readDefinition(example("step-decorator-condition"));
    expect(graph.steps.map((s) => s.name)).toEqual(["train", "CheckAccuracy", "register", "AccuracyTooLow"]);
    expect(graph.branches.get("CheckAccuracy")).toEqual({ ifSteps: ["register"], elseSteps: ["AccuracyTooLow"] });
    expect(graph.upstream.get("CheckAccuracy")).toEqual(["train"]);
    expect(graph.upstream.get("register")).toEqual(["train", "CheckAccuracy"]);
    expect(graph.upstream.get("AccuracyTooLow")).toEqual(["CheckAccuracy"]);
    const check = graph.step("CheckAccuracy");
    if (check?.type !== "Condition") throw new Error("CheckAccuracy is not a Condition step");
    expect(check.conditions[0]?.Type).toBe("GreaterThanOrEqualTo");
    expect(check.ifSteps).toEqual(["register"]);
    const fail = graph.step("AccuracyTooLow");
    if (fail?.type !== "Fail") throw new Error("AccuracyTooLow is not a Fail step");
    expect(fail.errorMessage).toEqual({
      "Std:Join": { On: " ", Values: ["Accuracy below", { Get: "Parameters.AccuracyThreshold" }] },
    });
  });

  it("the service's DescribePipeline: a parameter without a default, a step without DependsOn", () => {
    const graph = readDefinition(example("feature-processor-describe-pipeline"));
    expect(graph.parameters).toEqual([{ Name: "scheduled-time", Type: "String" }]);
    expect(graph.steps.map((s) => s.name)).toEqual(["test-pipeline-26-training-step"]);
  });
});

describe("branches, edges and order", () => {
  it("takes branch members written as names of top-level steps", () => {
    const graph = readDefinition(
      definition([
        training("a"),
        {
          Name: "check",
          Type: "Condition",
          Arguments: { Conditions: [{ Type: "Equals", LeftValue: 1, RightValue: 1 }], IfSteps: ["b"], ElseSteps: [] },
        },
        training("b"),
      ]),
    );
    expect(graph.branches.get("check")).toEqual({ ifSteps: ["b"], elseSteps: [] });
    expect(graph.upstream.get("b")).toEqual(["check"]);
    expect(graph.steps.map((s) => s.name)).toEqual(["a", "check", "b"]);
  });

  it("orders steps stably by appearance among those ready, and counts JsonGet's StepName as a read", () => {
    const graph = readDefinition(
      definition([
        training("late", {}, { X: { "Std:JsonGet": { StepName: "z", S3Uri: "s3://b/k", Path: "a" } } }),
        training("z"),
        training("m", { DependsOn: ["z"] }),
        training("a"),
      ]),
    );
    expect(graph.steps.map((s) => s.name)).toEqual(["z", "late", "m", "a"]);
    expect(graph.upstream.get("late")).toEqual(["z"]);
  });

  it("takes Not as {Expression} (the SDK) and as {Condition}, as Expression", () => {
    const graph = readDefinition(
      definition([
        {
          Name: "check",
          Type: "Condition",
          Arguments: {
            Conditions: [
              { Type: "Not", Expression: { Type: "Equals", LeftValue: 1, RightValue: 2 } },
              { Type: "Not", Condition: { Type: "In", QueryValue: 1, Values: [2] } },
            ],
          },
        },
      ]),
    );
    const check = graph.step("check");
    if (check?.type !== "Condition") throw new Error("not a condition");
    expect(check.conditions).toEqual([
      { Type: "Not", Expression: { Type: "Equals", LeftValue: 1, RightValue: 2 } },
      { Type: "Not", Expression: { Type: "In", QueryValue: 1, Values: [2] } },
    ]);
  });
});

describe("refusals", () => {
  it("text that is not JSON", () => {
    expect(refusal("{").message).toMatch(/the definition: it is not JSON/);
  });

  it("another Version, or no Steps list", () => {
    expect(refusal(JSON.stringify({ Version: "2021-01-01", Steps: [] })).message).toMatch(/^Version: is "2021-01-01", not "2020-12-01"/);
    expect(refusal(JSON.stringify({ Version: "2020-12-01" })).message).toMatch(/^Steps: is missing, not a list of steps/);
  });

  it("a step type it cannot run, naming the step, the type and the supported ones", () => {
    const e = refusal(definition([training("a"), { Name: "prep", Type: "Processing", Arguments: {} }]));
    expect(e.step).toBe("prep");
    expect(e.message).toMatch(/^Steps\[1\]\.Type \(step "prep"\): "Processing" is a step type stepbox cannot run/);
    expect(e.hint).toMatch(/Training, Condition, Fail/);
  });

  it("a bad step name, and a name used twice (a branch step included)", () => {
    expect(refusal(definition([training("has space")])).message).toMatch(/^Steps\[0\]\.Name: "has space" is not a step name/);
    expect(refusal(definition([training("x".repeat(65))])).message).toMatch(/is not a step name/);
    const e = refusal(
      definition([
        training("a"),
        { Name: "c", Type: "Condition", Arguments: { Conditions: [{ Type: "Equals", LeftValue: 1, RightValue: 1 }], IfSteps: [training("a")] } },
      ]),
    );
    expect(e.message).toMatch(/^Steps\[1\]\.Arguments\.IfSteps\[0\] \(step "a"\): the name "a" is already the name of Steps\[0\]/);
  });

  it("a branch naming a step that does not exist, or a step put in two branches", () => {
    const cond = (ifSteps: unknown[], elseSteps: unknown[]) => ({
      Name: "c",
      Type: "Condition",
      Arguments: { Conditions: [{ Type: "Equals", LeftValue: 1, RightValue: 1 }], IfSteps: ifSteps, ElseSteps: elseSteps },
    });
    expect(refusal(definition([training("a"), cond(["nope"], [])])).message).toMatch(
      /^Steps\[1\]\.Arguments\.IfSteps\[0\] \(step "c"\): names "nope", which is not a step of this definition/,
    );
    expect(refusal(definition([training("a"), cond(["a"], ["a"])])).message).toMatch(
      /ElseSteps\[0\] \(step "c"\): puts "a" in a branch where Steps\[1\]\.Arguments\.IfSteps\[0\] already put it/,
    );
  });

  it("DependsOn naming a step that does not exist", () => {
    const e = refusal(definition([training("a"), training("b", { DependsOn: ["a", "trian"] })]));
    expect(e.message).toMatch(/^Steps\[1\]\.DependsOn\[1\] \(step "b"\): names "trian", which is not a step/);
    expect(e.hint).toMatch(/a, b/);
  });

  it("a Get of a step, parameter or execution variable that does not exist", () => {
    expect(refusal(definition([training("a", {}, { X: { Get: "Steps.nope.OutputDataConfig.S3OutputPath" } })])).message).toMatch(
      /^Steps\[0\]\.Arguments\.X\.Get \(step "a"\): reads step "nope", which is not a step of this definition/,
    );
    const p = refusal(definition([training("a", {}, { L: [{ Get: "Parameters.Missing" }] })]));
    expect(p.message).toMatch(/Arguments\.L\[0\]\.Get \(step "a"\): reads parameter "Missing", which the definition does not declare/);
    expect(refusal(definition([training("a", {}, { X: { Get: "Execution.StartTime" } })])).message).toMatch(
      /reads execution variable "StartTime", which SageMaker does not have/,
    );
    expect(refusal(definition([training("a", {}, { X: { Get: "Steps.a" } })])).message).toMatch(/"Steps.a" names nothing a Get can read/);
    expect(refusal(definition([training("a")], { PipelineExperimentConfig: { ExperimentName: { Get: "Execution.Nope" } } })).message).toMatch(
      /^PipelineExperimentConfig\.ExperimentName\.Get: reads execution variable "Nope"/,
    );
  });

  it("a Std:JsonGet of a step that does not exist, a bad Path, or a property file", () => {
    const jsonGet = (body: Record<string, unknown>) =>
      definition([
        training("a"),
        {
          Name: "c",
          Type: "Condition",
          Arguments: { Conditions: [{ Type: "GreaterThan", LeftValue: { "Std:JsonGet": body }, RightValue: 1 }] },
        },
      ]);
    expect(
      refusal(jsonGet({ S3Uri: { "Std:Join": { On: "/", Values: [{ Get: "Steps.b.OutputDataConfig.S3OutputPath" }, "results.json"] } }, Path: "Result" }))
        .message,
    ).toMatch(/^Steps\[1\]\.Arguments\.Conditions\[0\]\.LeftValue\.Std:JsonGet\.S3Uri\.Std:Join\.Values\[0\]\.Get \(step "c"\): reads step "b"/);
    expect(refusal(jsonGet({ StepName: "b", S3Uri: "s3://x/y", Path: "Result" })).message).toMatch(/StepName \(step "c"\): "b" is not a step/);
    expect(refusal(jsonGet({ S3Uri: "s3://x/y", Path: "Result[x]" })).message).toMatch(/Path \(step "c"\): "Result\[x\]" is not a JSON path/);
    expect(refusal(jsonGet({ PropertyFile: { Get: "Steps.a.PropertyFiles.Report" }, Path: "mse" })).message).toMatch(
      /reads a property file, which only Processing steps write/,
    );
  });

  it("parameters of an unknown type, with a default of another type, or declared twice", () => {
    const withParameters = (parameters: unknown[]) => definition([training("a")], { Parameters: parameters });
    expect(refusal(withParameters([{ Name: "P", Type: "Number" }])).message).toMatch(/^Parameters\[0\]\.Type: "Number" is not a parameter type/);
    expect(refusal(withParameters([{ Name: "E", Type: "Integer", DefaultValue: 1.5 }])).message).toMatch(
      /^Parameters\[0\]\.DefaultValue: 1\.5 is not a Integer \(parameter "E"\)/,
    );
    expect(refusal(withParameters([{ Name: "E", Type: "Integer", DefaultValue: "10" }])).message).toMatch(/"10" is not a Integer/);
    expect(refusal(withParameters([{ Name: "B", Type: "Boolean", DefaultValue: "true" }])).message).toMatch(/is not a Boolean/);
    expect(refusal(withParameters([{ Name: "S", Type: "String", DefaultValue: 3 }])).message).toMatch(/is not a String/);
    expect(
      refusal(
        withParameters([
          { Name: "S", Type: "String" },
          { Name: "S", Type: "Float" },
        ]),
      ).message,
    ).toMatch(/^Parameters\[1\]\.Name: a parameter named "S" is already declared/);
  });

  it("a cycle, named step by step", () => {
    const e = refusal(
      definition([training("a", { DependsOn: ["c"] }), training("b", {}, { X: { Get: "Steps.a.TrainingJobName" } }), training("c", { DependsOn: ["b"] })]),
    );
    expect(e.message).toMatch(/^Steps\[0\] \(step "a"\): its steps form a cycle: a -> b -> c -> a/);
    expect(e.step).toBe("a");
    const self = refusal(definition([training("a", {}, { X: { Get: "Steps.a.TrainingJobName" } })]));
    expect(self.message).toMatch(/cycle: a -> a/);
  });

  it("a cycle through a branch: the condition reads a step of its own branch", () => {
    const e = refusal(
      definition([
        {
          Name: "c",
          Type: "Condition",
          Arguments: {
            Conditions: [{ Type: "Equals", LeftValue: { Get: "Steps.b.TrainingJobName" }, RightValue: "x" }],
            IfSteps: [training("b")],
          },
        },
      ]),
    );
    expect(e.message).toMatch(/^Steps\[0\] \(step "c"\): its steps form a cycle: c -> b -> c/);
  });

  it("conditions of an unknown type or missing operands", () => {
    const cond = (condition: unknown) => definition([{ Name: "c", Type: "Condition", Arguments: { Conditions: [condition] } }]);
    expect(refusal(cond({ Type: "Between", LeftValue: 1, RightValue: 2 })).message).toMatch(
      /^Steps\[0\]\.Arguments\.Conditions\[0\]\.Type \(step "c"\): "Between" is not a condition type/,
    );
    expect(refusal(cond({ Type: "GreaterThan", LeftValue: 1 })).message).toMatch(/a GreaterThan condition has no RightValue/);
    expect(refusal(cond({ Type: "Not" })).message).toMatch(/a Not condition has no Expression/);
    expect(refusal(cond({ Type: "Or", Conditions: [{ Type: "Equals", LeftValue: 1 }] })).message).toMatch(
      /Conditions\[0\]\.Conditions\[0\] \(step "c"\): a Equals condition has no RightValue/,
    );
  });
});

describe("a definition larger than CreatePipeline takes", () => {
  it("is read, as the local engine runs it: a 1,000-step chain", () => {
    let value: unknown = 0;
    for (let i = 0; i < 1000; i++) value = add(value as number, 1);
    const { json } = emitDefinition(compilePipeline("long", [value]), [], {
      root: "s3://stepbox-local",
      pipelineName: "long",
      imageUri: "stepbox-runtime",
      region: "us-east-1",
      roleArn: "arn:aws:iam::000000000000:role/stepbox-local",
    });
    expect(json.length).toBeGreaterThan(1_048_576);
    const graph = readDefinition(json);
    expect(graph.steps).toHaveLength(1000);
    expect(graph.upstream.get("add-1000")).toEqual(["add-999"]);
  });
});
