/**
 * The definition stepbox emits against the ones the SageMaker Python SDK emitted for the same three
 * `@step` pipelines (../shared/reference/definition-examples/), compared structurally: step types,
 * nesting, Arguments keys, expression forms, ContainerArguments flags, DependsOn, RetryPolicies,
 * conditions. Then what only stepbox promises: CreateTrainingJobRequest members only (read from
 * @aws-sdk/client-sagemaker), names SageMaker accepts, the same bytes from any checkout, payloads
 * whose reference records match the property references. No Docker.
 */
import { createHash } from "node:crypto";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConditionEquals,
  ConditionIn,
  ConditionNot,
  ConditionOr,
  ConditionStep,
  ExecutionVariables,
  FailStep,
  Join,
  LocalPipelineSession,
  ParameterString,
  StepErrorRetryPolicy,
  ValidationError,
  step,
} from "stepbox";
import { CONTAINER_ENV } from "../../src/container/contract.js";
import {
  LOCAL_ROOT,
  MAX_DEFINITION_LENGTH,
  STEPBOX_ENTRYPOINT,
  emitDefinition,
  functionJobArguments,
  functionPayloadKeys,
  localStepSettings,
  resultJsonPath,
} from "../../src/definition/emit-definition.js";
import { compilePipeline } from "../../src/graph/compile.js";
import { deserialize, payloadReferences } from "../../src/serialization/codec.js";
import { referenceName } from "../../src/serialization/pipeline-references.js";
import { build as buildCondition } from "../fixtures/sdk-examples/pipelines/condition.js";
import { build as buildLinear, parts as linearParts } from "../fixtures/sdk-examples/pipelines/linear.js";
import { build as buildMinimal } from "../fixtures/sdk-examples/pipelines/minimal.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
// Copies of ../shared/reference/definition-examples/, kept with the tests so that a fresh clone has them.
const EXAMPLES = resolve(ROOT, "test", "fixtures", "definition-examples");
const FIXTURE_PROJECT = join(ROOT, "test", "fixtures", "sdk-examples");

type Step = { Name: string; Type: string; Arguments: Record<string, any>; DependsOn?: string[]; [key: string]: any };
type Definition = { Version: string; Metadata: object; Parameters: unknown[]; PipelineExperimentConfig: unknown; Steps: Step[] };

const session = new LocalPipelineSession({ artifactRoot: join(tmpdir(), "stepbox-unused"), secret: "s" });

/** Every step with where it sits: `top`, or `<condition>.IfSteps` / `<condition>.ElseSteps`. */
function flatten(steps: readonly Step[], where = "top"): Map<string, { step: Step; where: string }> {
  const found = new Map<string, { step: Step; where: string }>();
  for (const s of steps) {
    found.set(s.Name, { step: s, where });
    if (s.Type === "Condition") {
      for (const branch of ["IfSteps", "ElseSteps"]) for (const [k, v] of flatten(s.Arguments[branch], `${s.Name}.${branch}`)) found.set(k, v);
    }
  }
  return found;
}

/** The flags of ContainerArguments, in order, without their values. */
const flagsOf = (args: readonly unknown[]): string[] => args.filter((a): a is string => typeof a === "string" && a.startsWith("--"));

/** Flags only the Python SDK's job driver reads: the client's Python, SDK version and dependency file. */
const SDK_ONLY_FLAGS = new Set(["--client_python_version", "--client_sagemaker_pysdk_version", "--dependency_settings"]);

/**
 * A property reference's value as a form: stepbox passes a parameter as `{"Get"}` so the engine gets
 * its typed value, where the SDK joins it to a string (the documented difference); both read the same
 * property.
 */
function referenceForm(value: any): string {
  const joined = value?.["Std:Join"];
  if (joined && joined.On === "" && joined.Values.length === 1 && /^Parameters\./.test(joined.Values[0]?.Get)) return `Get ${joined.Values[0].Get}`;
  if (joined) return `Join(${JSON.stringify(joined.On)}) ${JSON.stringify(joined.Values)}`;
  return `Get ${value.Get}`;
}

/** Name → value form of `--property_references`, in order. */
const propertyReferences = (args: readonly unknown[]): Array<[string, string]> =>
  functionJobArguments(args.map((a) => (typeof a === "string" ? a : "<expression>"))).propertyReferences.map(([name], i) => {
    const at = args.indexOf("--property_references") + 1 + 2 * i;
    return [name, referenceForm(args[at + 1])];
  });

/** The steps whose output a non-function step (a condition, a Fail step) reads: only they write results.json in stepbox. */
function readByNonFunctionSteps(steps: Map<string, { step: Step }>): Set<string> {
  const text = JSON.stringify(
    [...steps.values()].filter(({ step }) => step.Type !== "Training").map(({ step }) => ({ ...step.Arguments, IfSteps: [], ElseSteps: [] })),
  );
  return new Set([...text.matchAll(/"Get":"Steps\.([^.]+)\./g)].map((m) => m[1]!));
}

let trainingMembers: string[];

beforeAll(async () => {
  const sdk = (await import("@aws-sdk/client-sagemaker")) as unknown as Record<string, unknown[]>;
  trainingMembers = sdk.CreateTrainingJobRequest$![4] as string[];
});

const EXAMPLE_PIPELINES = [
  ["step-decorator-minimal.json", buildMinimal],
  ["step-decorator-linear.json", buildLinear],
  ["step-decorator-condition.json", buildCondition],
] as const;

describe.each(EXAMPLE_PIPELINES)("the definition of the pipeline of %s", (file, build) => {
  let sdk: Definition;
  let ours: Definition;
  let sdkSteps: Map<string, { step: Step; where: string }>;
  let ourSteps: Map<string, { step: Step; where: string }>;

  beforeAll(async () => {
    sdk = JSON.parse(await readFile(join(EXAMPLES, file), "utf8"));
    ours = JSON.parse(build(session).definition());
    sdkSteps = flatten(sdk.Steps);
    ourSteps = flatten(ours.Steps);
  });

  it("has the SDK's top level, parameters, steps, types and nesting", () => {
    expect(Object.keys(ours)).toEqual(Object.keys(sdk));
    expect([ours.Version, ours.Metadata, ours.PipelineExperimentConfig]).toEqual([sdk.Version, sdk.Metadata, sdk.PipelineExperimentConfig]);
    expect(ours.Parameters).toEqual(sdk.Parameters);
    const shape = (steps: typeof sdkSteps) => Object.fromEntries([...steps].map(([name, { step, where }]) => [name, `${step.Type} at ${where}`]));
    expect(shape(ourSteps)).toEqual(shape(sdkSteps));
  });

  it("has the SDK's DependsOn, display names of the form module.function, descriptions, retry policies and step keys", () => {
    for (const [name, { step: theirs }] of sdkSteps) {
      const mine = ourSteps.get(name)!.step;
      expect(mine.DependsOn, name).toEqual(theirs.DependsOn);
      expect(mine.Description, name).toEqual(theirs.Description);
      expect(mine.RetryPolicies, name).toEqual(theirs.RetryPolicies);
      if (theirs.Type === "Training") {
        expect(theirs.DisplayName).toBe(`__main__.${name}`);
        expect(mine.DisplayName).toBe(`pipelines.${file.replace(/^step-decorator-|\.json$/g, "")}.${name}`);
      }
      expect(Object.keys(mine).sort(), name).toEqual(Object.keys(theirs).sort());
    }
  });

  it("writes each function step as the SDK's Training step: Arguments keys, entry point, output path and flags", () => {
    for (const [name, { step: theirs }] of sdkSteps) {
      if (theirs.Type !== "Training") continue;
      const mine = ourSteps.get(name)!.step;
      // The SDK's channels carry its bootstrap scripts and pip dependencies; stepbox's runner is in its image.
      expect(Object.keys(mine.Arguments), name).toEqual(Object.keys(theirs.Arguments).filter((k) => k !== "InputDataConfig"));
      for (const key of ["StoppingCondition", "RetryStrategy", "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining"]) {
        expect(mine.Arguments[key], `${name} ${key}`).toEqual(theirs.Arguments[key]);
      }
      const { KeepAlivePeriodInSeconds, InstanceType, ...resources } = theirs.Arguments.ResourceConfig;
      expect(mine.Arguments.ResourceConfig).toEqual({ ...resources, InstanceType, KeepAlivePeriodInSeconds });
      const userEnvironment = Object.fromEntries(Object.entries(theirs.Arguments.Environment).filter(([k]) => k !== "AWS_DEFAULT_REGION"));
      expect(mine.Arguments.Environment).toEqual({ ...userEnvironment, [CONTAINER_ENV.definitionKey]: expect.stringMatching(/^pipelines\//) });

      const base = `${LOCAL_ROOT}/${theirs.Arguments.OutputDataConfig.S3OutputPath["Std:Join"].Values[0].split("/").pop()}`;
      const sdkOutput = theirs.Arguments.OutputDataConfig.S3OutputPath["Std:Join"];
      expect(mine.Arguments.OutputDataConfig).toEqual({ S3OutputPath: { "Std:Join": { ...sdkOutput, Values: [base, ...sdkOutput.Values.slice(1)] } } });

      const spec = mine.Arguments.AlgorithmSpecification;
      expect(Object.keys(spec)).toEqual(Object.keys(theirs.Arguments.AlgorithmSpecification));
      expect(spec.TrainingInputMode).toBe("File");
      expect(spec.ContainerEntrypoint).toEqual(STEPBOX_ENTRYPOINT);

      // stepbox writes results.json only for a non-function reader; the SDK also for a function reader.
      const jsonReaders = readByNonFunctionSteps(sdkSteps);
      const expectedFlags = flagsOf(theirs.Arguments.AlgorithmSpecification.ContainerArguments).filter(
        (f) => !SDK_ONLY_FLAGS.has(f) && (f !== "--serialize_output_to_json" || jsonReaders.has(name)),
      );
      expect(flagsOf(spec.ContainerArguments), name).toEqual(expectedFlags);
      expect(propertyReferences(spec.ContainerArguments), name).toEqual(propertyReferences(theirs.Arguments.AlgorithmSpecification.ContainerArguments));
      const value = (args: readonly unknown[], flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
      for (const flag of ["--pipeline_step_name", "--pipeline_execution_id", "--serialize_output_to_json"]) {
        expect(value(spec.ContainerArguments, flag), `${name} ${flag}`).toEqual(
          flag === "--serialize_output_to_json" && !jsonReaders.has(name) ? undefined : value(theirs.Arguments.AlgorithmSpecification.ContainerArguments, flag),
        );
      }
      expect(value(spec.ContainerArguments, "--s3_base_uri")).toBe(base);
      expect(value(spec.ContainerArguments, "--func_step_s3_dir")).toMatch(/^[0-9a-f]{16}$/);
    }
  });

  it("writes conditions and Fail steps exactly as the SDK does", () => {
    for (const [name, { step: theirs }] of sdkSteps) {
      if (theirs.Type === "Training") continue;
      const mine = ourSteps.get(name)!.step;
      const withoutBranches = (s: Step) => ({ ...s.Arguments, IfSteps: s.Arguments.IfSteps?.length, ElseSteps: s.Arguments.ElseSteps?.length });
      expect(withoutBranches(mine), name).toEqual(withoutBranches(theirs));
    }
  });

  it("holds only CreateTrainingJobRequest members in Training Arguments, names SageMaker accepts, and fits CreatePipeline's limit", () => {
    expect(build(session).definition().length).toBeLessThanOrEqual(MAX_DEFINITION_LENGTH);
    expect(trainingMembers).toContain("AlgorithmSpecification");
    for (const [name, { step }] of ourSteps) {
      expect(name).toMatch(/^[A-Za-z0-9\-_]{1,64}$/);
      if (step.Type === "Training")
        expect(
          Object.keys(step.Arguments).filter((k) => !trainingMembers.includes(k)),
          name,
        ).toEqual([]);
    }
    for (const p of ours.Parameters as Array<{ Name: string }>) expect(p.Name).toMatch(/^[A-Za-z0-9\-_]{1,256}$/);
  });
});

const CTX = { root: LOCAL_ROOT, imageUri: "stepbox-runtime", region: "eu-west-1", roleArn: "arn:aws:iam::000000000000:role/stepbox-local" };

/** emitDefinition on a pipeline's parts, without a session. */
function emit(parts: { name: string; parameters: any[]; steps: unknown[] }, ctx: Partial<typeof CTX> = {}) {
  const emitted = emitDefinition(compilePipeline(parts.name, parts.steps), parts.parameters, { ...CTX, pipelineName: parts.name, ...ctx });
  return { ...emitted, definition: JSON.parse(emitted.json) as Definition };
}

const containerArguments = (definition: Definition, name: string): unknown[] =>
  flatten(definition.Steps).get(name)!.step.Arguments.AlgorithmSpecification.ContainerArguments;

describe("a definition's payloads", () => {
  it("are each function step's arguments, whose reference records name its property references, under a build that hashes them", () => {
    const { definition, functionSteps } = emit(linearParts());
    expect(functionSteps.map((f) => f.step.name)).toEqual(["preprocess", "train", "evaluate"]);
    for (const { step: s, build, argumentsPayload } of functionSteps) {
      const args = containerArguments(definition, s.name);
      const job = functionJobArguments(args.map((a) => (typeof a === "string" ? a : "<expression>")));
      expect(job).toMatchObject({ s3BaseUri: `${LOCAL_ROOT}/StepDecoratorLinear`, stepName: s.name, buildDir: build, serializeOutputToJson: false });
      expect(build).toBe(createHash("sha256").update(s.definition.key).update("\0").update(argumentsPayload).digest("hex").slice(0, 16));
      const names = [...new Set(payloadReferences(argumentsPayload).map(referenceName))];
      expect(job.propertyReferences.map(([name]) => name)).toEqual(["Execution.PipelineExecutionId", ...names]);
    }
    const train = functionSteps[1]!;
    expect(payloadReferences(train.argumentsPayload)).toEqual([
      { kind: "StepResult", step: "preprocess", path: [] },
      { kind: "Value", expression: { Get: "Parameters.Epochs" }, parameterType: "Integer" },
      { kind: "Value", expression: { Get: "Parameters.LearningRate" }, parameterType: "Float" },
    ]);
    const resolved = deserialize(train.argumentsPayload, {
      resolve: (ref) =>
        ref.kind === "StepResult"
          ? { train: "t" }
          : ({ "Parameters.Epochs": 12, "Parameters.LearningRate": 0.5 } as Record<string, unknown>)[referenceName(ref)],
    });
    expect(resolved).toEqual([{ train: "t" }, 12, 0.5]);
  });

  it("change the build when the arguments change, and only the steps whose arguments changed", () => {
    const one = emit({ name: "p", parameters: [], steps: [echo(1)] });
    const two = emit({ name: "p", parameters: [], steps: [echo(2)] });
    expect(one.functionSteps[0]!.build).not.toBe(two.functionSteps[0]!.build);
    expect(emit({ name: "p", parameters: [], steps: [echo(1)] }).json).toBe(one.json);
  });
});

const echo = step(function echo(value: unknown) {
  return value;
});
const pair = step(function pair(): [number, { k: string }] {
  return [1, { k: "v" }];
});

describe("what the definition writes", () => {
  it("reads a step's output in a condition, a Fail message or a Join as Std:JsonGet over its results.json, which the producer then writes", () => {
    const produced = pair();
    const region = new ParameterString({ name: "Region", defaultValue: "eu" });
    const check = new ConditionStep({
      name: "check",
      conditions: [
        new ConditionOr({
          conditions: [
            new ConditionIn({ value: produced.get(1).get("k"), inValues: ["v", region] }),
            new ConditionNot({ expression: new ConditionEquals({ left: ExecutionVariables.PIPELINE_NAME, right: "x" }) }),
          ],
        }),
      ],
      ifSteps: [echo(new Join({ on: "/", values: ["s3://b", produced.get(0), ExecutionVariables.PIPELINE_EXECUTION_ID] }))],
      elseSteps: [new FailStep({ name: "stop", errorMessage: new Join({ on: " ", values: ["got", produced] }) })],
    });
    const { definition } = emit({ name: "p", parameters: [region], steps: [check] });
    const jsonGet = (path: string) => ({
      "Std:JsonGet": { S3Uri: { "Std:Join": { On: "/", Values: [{ Get: "Steps.pair.OutputDataConfig.S3OutputPath" }, "results.json"] } }, Path: path },
    });
    const steps = flatten(definition.Steps);
    expect(steps.get("check")!.step.Arguments.Conditions).toEqual([
      {
        Type: "Or",
        Conditions: [
          { Type: "In", QueryValue: jsonGet("Result[1]['k']"), Values: ["v", { Get: "Parameters.Region" }] },
          { Type: "Not", Condition: { Type: "Equals", LeftValue: { Get: "Execution.PipelineName" }, RightValue: "x" } },
        ],
      },
    ]);
    expect(steps.get("stop")).toMatchObject({
      where: "check.ElseSteps",
      step: { Arguments: { ErrorMessage: { "Std:Join": { On: " ", Values: ["got", jsonGet("Result")] } } } },
    });
    // The Join the function step receives is evaluated by the pipeline and named by its JSON in the property references.
    const joinExpression = { "Std:Join": { On: "/", Values: ["s3://b", jsonGet("Result[0]"), { Get: "Execution.PipelineExecutionId" }] } };
    const echoArgs = containerArguments(definition, "echo");
    expect(echoArgs.slice(echoArgs.indexOf("--property_references") + 1)).toEqual([
      "Execution.PipelineExecutionId",
      { Get: "Execution.PipelineExecutionId" },
      JSON.stringify(joinExpression),
      joinExpression,
    ]);
    expect(steps.get("echo")).toMatchObject({ where: "check.IfSteps", step: { DependsOn: ["pair"] } });
    expect(containerArguments(definition, "pair").slice(-2)).toEqual(["--serialize_output_to_json", "true"]);
    expect(functionJobArguments(containerArguments(definition, "pair").map((a) => (typeof a === "string" ? a : "x"))).serializeOutputToJson).toBe(true);
  });

  it("writes JSONPaths with indexes and quoted keys", () => {
    expect(resultJsonPath([])).toBe("Result");
    expect(resultJsonPath([1, "k", 0])).toBe("Result[1]['k'][0]");
    expect(resultJsonPath(["it's"])).toBe("Result['it\\'s']");
  });

  it("keeps local-only settings beside the definition: the local override and StepErrorRetryPolicy", () => {
    const flaky = step(
      function flaky() {
        return 1;
      },
      {
        local: { cpus: 1 },
        cacheConfig: { enableCaching: true, expireAfter: "P30D" },
        hyperparameters: { depth: 3 },
        inputs: { train: "s3://bucket/train" },
        network: true,
        retryPolicies: [new StepErrorRetryPolicy({ errorNames: ["FlakyError"], maxAttempts: 2 })],
      },
    );
    const parts = { name: "p", parameters: [], steps: [flaky()] };
    const { definition } = emit(parts);
    const s = flatten(definition.Steps).get("flaky")!.step;
    expect(s.RetryPolicies).toBeUndefined();
    expect(s.CacheConfig).toEqual({ Enabled: true, ExpireAfter: "P30D" });
    expect(s.Arguments).toMatchObject({
      HyperParameters: { depth: "3" },
      EnableNetworkIsolation: false,
      InputDataConfig: [
        {
          ChannelName: "train",
          DataSource: { S3DataSource: { S3Uri: "s3://bucket/train", S3DataType: "S3Prefix", S3DataDistributionType: "FullyReplicated" } },
        },
      ],
    });
    expect(JSON.stringify(definition)).not.toMatch(/FlakyError|cpus/);
    expect([...localStepSettings(compilePipeline("p", parts.steps))]).toEqual([
      ["flaky", { local: { cpus: 1 }, errorRetryPolicies: [{ errorNames: ["FlakyError"], intervalSeconds: 1, backoffRate: 2, maxAttempts: 2, position: 0 }] }],
    ]);
  });

  it("puts payloads under an s3:// store's URI", () => {
    const { definition } = emit({ name: "p", parameters: [], steps: [echo(1)] }, { root: "s3://bucket/some/prefix" });
    expect(containerArguments(definition, "echo").slice(0, 2)).toEqual(["--s3_base_uri", "s3://bucket/some/prefix/p"]);
  });

  it("refuses a root that is not s3:// and a name SageMaker refuses", () => {
    expect(() => emit({ name: "p", parameters: [], steps: [echo(1)] }, { root: "file:///tmp/store" })).toThrow(
      /root 'file:\/\/\/tmp\/store' is not an s3:\/\/bucket\[\/prefix\] URI/,
    );
    const long = step(
      function long(n: number) {
        return n;
      },
      { name: "x".repeat(63) },
    );
    expect(() => emit({ name: "p", parameters: [], steps: [long(1), long(2)] })).toThrow(ValidationError);
    expect(() => emit({ name: "p", parameters: [], steps: [long(1), long(2)] })).toThrow(/step name "x{63}-2" does not fit a SageMaker definition/);
  });

  it("names the runner as the runtime image's ENTRYPOINT does", async () => {
    const dockerfile = await readFile(join(ROOT, "runtime-image", "Dockerfile"), "utf8");
    expect(JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)![1]!)).toEqual(STEPBOX_ENTRYPOINT);
  });
});

describe("reading a function job back", () => {
  it("parses the SDK's own ContainerArguments, skipping the flags stepbox does not know", async () => {
    const sdk: Definition = JSON.parse(await readFile(join(EXAMPLES, "step-decorator-linear.json"), "utf8"));
    const evaluate = sdk.Steps.find((s) => s.Name === "evaluate")!;
    const job = functionJobArguments(evaluate.Arguments.AlgorithmSpecification.ContainerArguments);
    expect(job).toEqual({
      s3BaseUri: "s3://s3_bucket/StepDecoratorLinear",
      stepName: "evaluate",
      buildDir: "2026-11-24-16-19-13-578",
      propertyReferences: [
        ["Execution.PipelineExecutionId", { Get: "Execution.PipelineExecutionId" }],
        ["Steps.train.OutputDataConfig.S3OutputPath", { "Std:Join": { On: "", Values: [{ Get: "Steps.train.OutputDataConfig.S3OutputPath" }] } }],
        ["Steps.preprocess.OutputDataConfig.S3OutputPath", { "Std:Join": { On: "", Values: [{ Get: "Steps.preprocess.OutputDataConfig.S3OutputPath" }] } }],
      ],
      serializeOutputToJson: false,
    });
  });

  it("takes a property value that looks like a flag as a value, and names a missing flag", () => {
    const args = [
      "--s3_base_uri",
      "s3://b/p",
      "--pipeline_step_name",
      "s",
      "--func_step_s3_dir",
      "0123",
      "--property_references",
      "Parameters.X",
      "--odd",
      "--verbose",
      "--serialize_output_to_json",
      "True",
    ];
    expect(functionJobArguments(args)).toMatchObject({ propertyReferences: [["Parameters.X", "--odd"]], serializeOutputToJson: true });
    expect(() => functionJobArguments(["--s3_base_uri", "s3://b/p", "--pipeline_step_name", "s"])).toThrow(/have no --func_step_s3_dir/);
  });

  it("gives the store keys of a build", () => {
    expect(functionPayloadKeys("p", "train", "0123456789abcdef")).toEqual({
      function: {
        code: "p/train/0123456789abcdef/function/code.mjs",
        metadata: "p/train/0123456789abcdef/function/metadata.json",
        manifest: "p/train/0123456789abcdef/function/manifest.json",
      },
      arguments: { payload: "p/train/0123456789abcdef/arguments/payload.bin", metadata: "p/train/0123456789abcdef/arguments/metadata.json" },
    });
    expect(() => functionPayloadKeys("p", "a/b", "x")).toThrow(/the step "a\/b" cannot be one part of a store key/);
  });
});

let checkouts: string[] = [];

describe("a definition built in two checkouts of one project", () => {
  let first: string;
  let second: string;

  beforeAll(async () => {
    const definitionIn = async (dir: string): Promise<string> => {
      const loaded = (await import(join(dir, "pipelines", "condition.ts"))) as { build: typeof buildCondition };
      return loaded.build(session).definition();
    };
    for (let i = 0; i < 2; i++) {
      const dir = await mkdtemp(join(tmpdir(), "stepbox-checkout-"));
      checkouts.push(dir);
      await cp(FIXTURE_PROJECT, dir, { recursive: true });
    }
    first = await definitionIn(checkouts[0]!);
    second = await definitionIn(checkouts[1]!);
  });

  afterAll(async () => {
    await Promise.all(checkouts.map((dir) => rm(dir, { recursive: true, force: true })));
    checkouts = [];
  });

  it("is the same bytes, naming no folder of this machine, and the same as in this checkout", () => {
    expect(checkouts[0]).not.toBe(checkouts[1]);
    expect(second).toBe(first);
    expect(buildCondition(session).definition()).toBe(first);
    for (const folder of [tmpdir(), homedir(), ...checkouts, process.cwd(), dirname(ROOT)]) expect(first).not.toContain(folder);
  });
});
