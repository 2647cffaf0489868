/**
 * The Docker runtime through the port alone (runtime/step-runtime.ts): a job spec in, an outcome
 * out, read only through the outcome's methods, with real containers. And no key in any step's
 * container: what a step can read of its environment holds nothing of the execution's key.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pipeline } from "stepbox";
import { IntegrityError } from "../../src/errors.js";
import { createLogger } from "../../src/logging/logger.js";
import { StepBundler } from "../../src/runtime/bundle.js";
import { startDockerRuntime } from "../../src/runtime/docker/start-docker-runtime.js";
import type { JobOutcome, JobSpec, LogStreamName } from "../../src/runtime/step-runtime.js";
import { deserialize, serialize } from "../../src/serialization/codec.js";
import { deriveExecutionKey } from "../../src/serialization/signing.js";
import { echoes, readsEnviron, tearsItsResult, throwsWithCause } from "../fixtures/runtime-steps.js";
import { leftoverContainers, testSession, workFolders } from "../support/session.js";

type Started = Awaited<ReturnType<typeof startDockerRuntime>>;
type Definition = (typeof echoes)["definition"];

let started: Started;
let checkpoints: string;
const bundler = new StepBundler();

beforeAll(async () => {
  started = await startDockerRuntime({ logger: createLogger() });
  checkpoints = await mkdtemp(join(tmpdir(), "stepbox-runtime-checkpoints-"));
});
afterAll(async () => {
  await rm(checkpoints, { recursive: true, force: true });
});

/** A job for one step definition with these arguments, and where its lines go. */
async function jobFor(definition: Definition, args: unknown[]): Promise<{ job: JobSpec; lines: Array<[string, string, LogStreamName]> }> {
  const executionId = randomBytes(6).toString("hex");
  const stepName = definition.baseName;
  const lines: Array<[string, string, LogStreamName]> = [];
  const jobName = `${stepName}-${executionId}`;
  const job: JobSpec = {
    pipelineName: "runtime-port",
    executionId,
    stepName,
    jobName,
    jobArn: `arn:aws:sagemaker:local:000000000000:training-job/${jobName}`,
    image: started.image,
    definitionKey: definition.key,
    entrypoint: undefined,
    containerArguments: [],
    environment: {},
    cpus: 1,
    memoryBytes: 512 * 1024 ** 2,
    network: false,
    instanceCount: 1,
    checkpointsDir: join(checkpoints, executionId),
    storeUri: "file:///nowhere",
    // This live process: another session's orphan sweep leaves the containers alone.
    owner: `${hostname()}:${process.pid}`,
    function: { code: (await bundler.bundle(definition.sourceFile!)).code, arguments: serialize(args, "args") },
    instanceType: "ml.m5.large",
    hyperparameters: {},
    channels: [],
    maxRuntimeSeconds: 120,
    stopGraceSeconds: 2,
    outputLimitBytes: 64 * 1024 ** 2,
    onLogLine: (host, line, stream) => lines.push([host, line, stream]),
    signal: new AbortController().signal,
    killSignal: new AbortController().signal,
  };
  return { job, lines };
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** name → content of every file in a gzipped tar. */
async function tarFiles(gzipped: Readable): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, body, next) => {
      void readAll(body).then((content) => {
        if (header.type === "file") files.set(header.name, content.toString("utf8"));
        next();
      }, reject);
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  gzipped.pipe(createGunzip()).pipe(extract);
  await done;
  return files;
}

/** Runs the job and hands the outcome to `collect`; then checks that the runtime left nothing behind. */
async function run<T>(job: JobSpec, collect: (outcome: JobOutcome) => Promise<T>): Promise<T> {
  const collected = await started.runtime.run(job, collect);
  await started.runtime.drain(job.executionId);
  expect(await leftoverContainers(job.executionId)).toEqual([]);
  expect(await workFolders()).toEqual([]);
  return collected;
}

describe("DockerRuntime, through the port", () => {
  it("hands back the result with its digest checked, the model archive and the log", async () => {
    const { job, lines } = await jobFor(echoes.definition, ["hi"]);
    await run(job, async (outcome) => {
      expect(outcome.hosts).toMatchObject([{ host: "algo-1", exitCode: 0, oomKilled: false }]);
      expect(outcome.hosts[0]!.logStream).toMatch(new RegExp(`^${job.jobName}/algo-1-\\d+$`));
      expect(outcome.stopped).toBeUndefined();
      expect(outcome.firstFailedHost).toBeUndefined();

      const result = await outcome.result();
      expect(deserialize(result!)).toEqual({ echoed: "hi" });
      expect(await outcome.error("algo-1")).toBeUndefined();
      expect(await outcome.failure("algo-1")).toBeUndefined();

      expect(await tarFiles((await outcome.archive("model"))!)).toEqual(new Map([["weights/w.txt", "hi"]]));
      expect(await outcome.archive("output")).toBeUndefined();

      const log = outcome.log("algo-1");
      const text = await readAll(log.open());
      expect(text.byteLength).toBe(log.bytes);
      expect(text.toString("utf8")).toContain("echoing hi");
    });
    expect(lines).toContainEqual(["algo-1", "echoing hi", "stdout"]);
  });

  it("hands back a throwing step's error and failure text", async () => {
    const { job } = await jobFor(throwsWithCause.definition, []);
    await run(job, async (outcome) => {
      expect(outcome.hosts[0]!.exitCode).toBe(1);
      expect(outcome.firstFailedHost).toBe("algo-1");
      expect(await outcome.result()).toBeUndefined();
      const error = deserialize((await outcome.error("algo-1"))!) as Error;
      expect(error.message).toBe("the step gave up");
      expect((error.cause as Error).message).toBe("the cause");
      expect(await outcome.failure("algo-1")).toBe("Error: the step gave up");
      await expect(outcome.failure("algo-2")).rejects.toThrow(/no host "algo-2"/);
    });
  });

  it("refuses a result whose bytes are not the ones its digest was written for", async () => {
    const { job } = await jobFor(tearsItsResult.definition, []);
    await run(job, async (outcome) => {
      expect(outcome.hosts[0]!.exitCode).toBe(0);
      await expect(outcome.result()).rejects.toThrow(IntegrityError);
    });
  });
});

describe("a step's container", () => {
  it("holds no key: nothing of it in /proc/self/environ, /proc/1/environ or process.env", async () => {
    const ctx = await testSession();
    try {
      const execution = await new Pipeline({ name: "no-key", steps: [readsEnviron()], session: ctx.session }).start();
      expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
      const seen = (await execution.result("readsEnviron")) as { self: string; init: string; env: string };
      const key = deriveExecutionKey(await ctx.session.masterKey(), execution.id).toString("hex");
      // Each is read: a step that could not read its init's environment would prove nothing.
      expect(seen.self).toContain("TRAINING_JOB_NAME=");
      expect(seen.init).toContain("TRAINING_JOB_NAME=");
      for (const text of [seen.self, seen.init, seen.env]) {
        expect(text).not.toContain("STEPBOX_SECRET_KEY");
        expect(text).not.toContain(key);
        expect(text).not.toContain(key.slice(0, 16));
      }
    } finally {
      await ctx.cleanup();
    }
  });
});
