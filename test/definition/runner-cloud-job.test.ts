/**
 * The runtime image and its runner, unchanged, as a SageMaker training job: a container started with
 * only the definition's entrypoint and ContainerArguments, SageMaker's config files, the job's
 * Environment and a private network to S3. The client's part is played as stepbox's client does it:
 * the step's module bundled by the real bundler, function and arguments signed with a key that only
 * this test holds, both uploaded to a real S3-compatible server (s3rver) listening on the network's
 * gateway address, where the containers reach it.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTAINER_ENV } from "../../src/container/contract.js";
import { StepBundler } from "../../src/runtime/bundle.js";
import { ensureRuntimeImage } from "../../src/runtime/docker/image.js";
import { LABEL, managedLabels } from "../../src/runtime/docker/labels.js";
import {
  generateJobSigningKey,
  JOB_PUBLIC_KEY_ENV,
  type JobSigningKey,
  signJobPayload,
  verifyJobPayloadDigest,
} from "../../src/serialization/asymmetric-signing.js";
import { deserialize, serialize } from "../../src/serialization/codec.js";
import { add, explode } from "../fixtures/steps.js";
import { ParameterInteger } from "../../src/dsl/parameters.js";
import { bareS3Client, type S3TestServer, startS3Server } from "../support/s3-server.js";

const STEPS_MODULE = resolve(import.meta.dirname, "..", "fixtures", "steps.ts");
/** What the definition's AlgorithmSpecification says (see the definition contract). */
const ENTRYPOINT = ["/usr/local/bin/node", "/opt/stepbox/runner.mjs"];
const PIPELINE = "cloud-pipeline";
const OWNER = `${hostname()}:${process.pid}`;
/** Every container and the network of this file carry it, so the test can tell none is left. */
const RUN_LABEL = `cloud-job-test-${process.pid}-${Date.now()}`;

const docker = new Docker();
let image: string;
let network: Docker.Network;
let s3: S3TestServer;
let client: S3Client;
let key: JobSigningKey;
let scratch: string;
let code: Buffer;
const s3BaseUri = () => `s3://${s3.bucket}/root/${PIPELINE}`;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "stepbox-cloud-job-"));
  const [runtime, bundle] = await Promise.all([ensureRuntimeImage(docker), new StepBundler({ cacheDir: join(scratch, "bundles") }).bundle(STEPS_MODULE)]);
  image = runtime.tag;
  code = bundle.code;
  // Internal: the job reaches S3 and nothing else, as with a VPC endpoint and no internet route.
  network = await docker.createNetwork({
    Name: RUN_LABEL,
    Driver: "bridge",
    Internal: true,
    Labels: managedLabels({ [LABEL.owner]: OWNER, [LABEL.execution]: RUN_LABEL }),
  });
  const gateway = (await network.inspect()).IPAM?.Config?.[0]?.Gateway as string | undefined;
  if (!gateway) throw new Error(`the network ${RUN_LABEL} has no gateway address`);
  s3 = await startS3Server({ address: gateway });
  client = bareS3Client(s3);
  key = generateJobSigningKey();
}, 180_000);

afterAll(async () => {
  // A test that timed out may have left its container running: remove whatever carries this run's label.
  for (const info of await docker.listContainers({ all: true, filters: { label: [`${LABEL.execution}=${RUN_LABEL}`] } })) {
    await docker
      .getContainer(info.Id)
      .remove({ force: true, v: true })
      .catch(() => {});
  }
  client?.destroy();
  await s3?.close();
  await network?.remove().catch(() => {});
  await rm(scratch, { recursive: true, force: true });
});

const keyOf = (uri: string): string => uri.replace(`s3://${s3.bucket}/`, "");

async function put(uri: string, body: Buffer | string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: keyOf(uri), Body: body }));
}

/** The object's bytes, or undefined when there is none. */
async function get(uri: string): Promise<Buffer | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: keyOf(uri) }));
    return Buffer.from(await response.Body!.transformToByteArray());
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchKey") return undefined;
    throw error;
  }
}

/** What the client uploads for one build of a step: the signed function and the signed arguments. */
async function uploadBuild(
  step: string,
  build: string,
  args: unknown[],
  options: { tamperFunction?: boolean; argumentsKey?: JobSigningKey } = {},
): Promise<void> {
  const folder = `${s3BaseUri()}/${step}/${build}`;
  const payload = serialize(args, "args");
  const shipped = Buffer.from(code);
  // One byte of the function changed after signing, as someone with write access to the bucket would.
  if (options.tamperFunction) {
    const at = shipped.indexOf("a + b");
    expect(at).toBeGreaterThan(0);
    shipped[at + 2] = "-".charCodeAt(0);
  }
  await Promise.all([
    put(`${folder}/function/code.mjs`, shipped),
    put(`${folder}/function/metadata.json`, JSON.stringify(signJobPayload(code, key))),
    put(`${folder}/arguments/payload.bin`, payload),
    put(`${folder}/arguments/metadata.json`, JSON.stringify(signJobPayload(payload, options.argumentsKey ?? key))),
  ]);
}

interface JobRun {
  exitCode: number;
  logs: string;
  /** /opt/ml/output/failure, if the job wrote one. */
  failure: string | undefined;
}

/**
 * Runs one training job as SageMaker would start it: entrypoint and arguments from the definition,
 * config files in /opt/ml/input/config, the job's Environment plus the platform's variables.
 */
async function runJob(step: string, definitionKey: string, build: string, execution: string, extraArgs: string[] = []): Promise<JobRun> {
  const job = await mkdtemp(join(scratch, "job-"));
  const config = join(job, "config");
  const output = join(job, "output");
  await Promise.all([sharedFolder(config), sharedFolder(output)]);
  await Promise.all([
    writeFile(
      join(config, "resourceconfig.json"),
      JSON.stringify({
        current_host: "algo-1",
        hosts: ["algo-1"],
        current_group_name: "homogeneousCluster",
        current_instance_type: "ml.m5.large",
        instance_groups: [{ instance_group_name: "homogeneousCluster", instance_type: "ml.m5.large", hosts: ["algo-1"] }],
        network_interface_name: "eth0",
      }),
    ),
    writeFile(join(config, "hyperparameters.json"), "{}"),
    writeFile(join(config, "inputdataconfig.json"), "{}"),
  ]);
  const jobName = `pipelines-${execution}-${step}`.slice(0, 63);
  const containerArguments = [
    "--s3_base_uri",
    s3BaseUri(),
    "--region",
    s3.region,
    "--pipeline_step_name",
    step,
    "--pipeline_execution_id",
    execution,
    "--func_step_s3_dir",
    build,
    "--property_references",
    "Execution.PipelineExecutionId",
    execution,
    ...extraArgs,
  ];
  const environment = {
    // The request's Environment, as the definition has it: nothing secret.
    [CONTAINER_ENV.definitionKey]: definitionKey,
    [JOB_PUBLIC_KEY_ENV]: key.publicKeyPem,
    // What the platform adds: the job's name and ARN, the region, credentials and (here) the S3 endpoint.
    TRAINING_JOB_NAME: jobName,
    TRAINING_JOB_ARN: `arn:aws:sagemaker:${s3.region}:000000000000:training-job/${jobName}`,
    AWS_REGION: s3.region,
    AWS_DEFAULT_REGION: s3.region,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
  const container = await docker.createContainer({
    Image: image,
    Entrypoint: ENTRYPOINT,
    Cmd: containerArguments,
    Env: Object.entries(environment).map(([name, value]) => `${name}=${value}`),
    Labels: managedLabels({ [LABEL.owner]: OWNER, [LABEL.execution]: RUN_LABEL, [LABEL.step]: step }),
    HostConfig: {
      NetworkMode: network.id,
      Binds: [`${config}:/opt/ml/input/config:ro`, `${output}:/opt/ml/output`],
    },
  });
  try {
    // Asked before the start, so that the exit cannot be missed: "not-running" would answer at once.
    const exited = container.wait({ condition: "next-exit" });
    await container.start();
    const { StatusCode } = (await exited) as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
    const failure = await readFile(join(output, "failure"), "utf8").catch(() => undefined);
    return { exitCode: StatusCode, logs, failure };
  } finally {
    await container.remove({ force: true, v: true });
  }
}

/** A folder the container's user (uid 1000) can write in, whoever runs the test. */
async function sharedFolder(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o777);
}

async function leftovers(): Promise<string[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL.execution}=${RUN_LABEL}`] } });
  return containers.map((c) => c.Names.join(","));
}

describe("the runner as a cloud job", () => {
  it("runs the step from S3 and puts its result and results.json where the definition says", async () => {
    const build = "0123456789abcdef";
    const execution = "exec0000000001";
    await uploadBuild("add", build, [2, 3]);
    const run = await runJob("add", add.definition.key, build, execution, ["--serialize_output_to_json", "true"]);
    expect(run.exitCode, run.logs).toBe(0);
    expect(run.failure).toBeUndefined();

    // OutputDataConfig.S3OutputPath = Std:Join [<base>, <execution>, <step>, "results"]
    const results = `${s3BaseUri()}/${execution}/add/results`;
    const payload = await get(`${results}/payload.bin`);
    const metadata = JSON.parse((await get(`${results}/metadata.json`))!.toString("utf8"));
    expect(payload).toBeDefined();
    verifyJobPayloadDigest(payload!, metadata, "the result");
    expect(metadata.asymmetric_signature).toBeUndefined();
    expect(deserialize(payload!)).toBe(5);
    expect(JSON.parse((await get(`${results}/results.json`))!.toString("utf8"))).toEqual({ Result: 5, Exception: null });
    expect(await get(`${s3BaseUri()}/${execution}/add/exception/payload.bin`)).toBeUndefined();
    expect(await leftovers()).toEqual([]);
  }, 120_000);

  it("writes no results.json unless the definition asks for it", async () => {
    const build = "1111111111111111";
    const execution = "exec0000000002";
    await uploadBuild("add", build, [40, 2]);
    const run = await runJob("add", add.definition.key, build, execution);
    expect(run.exitCode, run.logs).toBe(0);
    expect(deserialize((await get(`${s3BaseUri()}/${execution}/add/results/payload.bin`))!)).toBe(42);
    expect(await get(`${s3BaseUri()}/${execution}/add/results/results.json`)).toBeUndefined();
  }, 120_000);

  it("fails on a tampered function with the SDK's integrity message in /opt/ml/output/failure, and runs none of it", async () => {
    const build = "2222222222222222";
    const execution = "exec0000000003";
    await uploadBuild("add", build, [2, 3], { tamperFunction: true });
    const run = await runJob("add", add.definition.key, build, execution, ["--serialize_output_to_json", "true"]);
    expect(run.exitCode, run.logs).toBe(1);
    expect(run.failure).toContain("Integrity check for the serialized function or data failed. Please restrict access to your S3 bucket");
    expect(run.failure).toContain("the step's function");
    expect(await get(`${s3BaseUri()}/${execution}/add/results/payload.bin`)).toBeUndefined();
    // The error is stored where the client looks for it, with its digest.
    const exception = `${s3BaseUri()}/${execution}/add/exception`;
    const payload = (await get(`${exception}/payload.bin`))!;
    verifyJobPayloadDigest(payload, JSON.parse((await get(`${exception}/metadata.json`))!.toString("utf8")), "the exception");
    expect((deserialize(payload) as Error).message).toContain("Integrity check for the serialized function or data failed");
    expect(await leftovers()).toEqual([]);
  }, 120_000);

  it("fails on arguments signed with a key other than the build's", async () => {
    const build = "4444444444444444";
    const execution = "exec0000000005";
    await uploadBuild("add", build, [2, 3], { argumentsKey: generateJobSigningKey() });
    const run = await runJob("add", add.definition.key, build, execution);
    expect(run.exitCode, run.logs).toBe(1);
    expect(run.failure).toMatch(
      /^PayloadSignatureError: Integrity check for the serialized function or data failed\. Please restrict access to your S3 bucket/,
    );
    expect(run.failure).toContain("the step's arguments: its signature does not verify under the job's public key");
    expect(await get(`${s3BaseUri()}/${execution}/add/results/payload.bin`)).toBeUndefined();
  }, 120_000);

  it("resolves an upstream result and a parameter in its arguments", async () => {
    const execution = "exec0000000006";
    await uploadBuild("add", "5555555555555555", [20, 1]);
    expect((await runJob("add", add.definition.key, "5555555555555555", execution)).exitCode).toBe(0);
    const upstream = add(20, 1);
    const n = new ParameterInteger({ name: "n", defaultValue: 1 });
    const folder = `${s3BaseUri()}/add-2/6666666666666666`;
    const payload = serialize([upstream, n], "args", {
      reference: (value) =>
        value === upstream ? { kind: "StepResult", step: "add", path: [] } : { kind: "Value", expression: { Get: "Parameters.n" }, parameterType: "Integer" },
    });
    await Promise.all([
      put(`${folder}/function/code.mjs`, code),
      put(`${folder}/function/metadata.json`, JSON.stringify(signJobPayload(code, key))),
      put(`${folder}/arguments/payload.bin`, payload),
      put(`${folder}/arguments/metadata.json`, JSON.stringify(signJobPayload(payload, key))),
    ]);
    const run = await runJob("add-2", add.definition.key, "6666666666666666", execution, [
      "Parameters.n",
      "21",
      "Steps.add.OutputDataConfig.S3OutputPath",
      `${s3BaseUri()}/${execution}/add/results`,
      "--serialize_output_to_json",
      "true",
    ]);
    expect(run.exitCode, run.logs).toBe(0);
    expect(JSON.parse((await get(`${s3BaseUri()}/${execution}/add-2/results/results.json`))!.toString("utf8"))).toEqual({ Result: 42, Exception: null });
  }, 120_000);

  it("stores the step's own error under exception/ and exits 1", async () => {
    const build = "3333333333333333";
    const execution = "exec0000000004";
    await uploadBuild("explode", build, ["diverged at epoch 3"]);
    const run = await runJob("explode", explode.definition.key, build, execution);
    expect(run.exitCode, run.logs).toBe(1);
    expect(run.failure).toBe("ModelDidNotConverge: diverged at epoch 3");
    const error = deserialize((await get(`${s3BaseUri()}/${execution}/explode/exception/payload.bin`))!) as Error & { code?: string };
    expect(error.name).toBe("ModelDidNotConverge");
    expect(error.code).toBe("E_CONVERGE");
    expect((error.cause as Error).message).toBe("learning rate too high");
    expect(await leftovers()).toEqual([]);
  }, 120_000);
});
