/**
 * The entry point of every step container (ENTRYPOINT of the runtime image). Started with a function
 * step's ContainerArguments and nothing staged in /opt/ml/code, it runs as a SageMaker training job
 * would (container/cloud-job.ts). Otherwise the local engine staged the step: it verifies and loads
 * the step's bundle and arguments against their digests, calls the one step function it was asked
 * for, and leaves the result, or the error and /opt/ml/output/failure, each with its digest, for the
 * engine to collect. It holds no key: the engine signs what it keeps, on the host.
 *
 * Loading the bundle evaluates the module that defined the step; its own `pipeline.start()` runs
 * against the container build of stepbox, where starting a pipeline does nothing.
 */
import { watch } from "node:fs";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { StepDefinition } from "../dsl/function-step.js";
import { deserialize, payloadReferences, serialize, toRemoteErrorInfo } from "../serialization/codec.js";
import { checkDigestText, digestOf } from "../serialization/digest.js";
import { CONTAINER_ENV, CONTAINER_PATHS, RUNNER_EXIT } from "./contract.js";
import { runCloudJob } from "./cloud-job.js";
import { isCloudJobCommandLine, type JobArguments, parseJobArguments } from "./job-arguments.js";
import { loadStepFunction, SetupError, writeFailure } from "./load-step.js";

async function readChecked(payloadPath: string, metadataPath: string, what: string): Promise<Buffer> {
  const [payload, metadataText] = await Promise.all([readFile(payloadPath), readFile(metadataPath, "utf8")]);
  // A digest that does not match is a torn or partial write of the engine's: the step cannot run on it.
  checkDigestText(payload, metadataText, what);
  return payload;
}

async function writeWithDigest(payloadPath: string, metadataPath: string, payload: Buffer): Promise<void> {
  await mkdir(dirname(payloadPath), { recursive: true });
  await writeFile(payloadPath, payload);
  await writeFile(metadataPath, JSON.stringify(digestOf(payload)));
}

async function main(): Promise<number> {
  let fn: StepDefinition["fn"];
  let args: unknown[];
  try {
    const definitionKey = process.env[CONTAINER_ENV.definitionKey];
    if (!definitionKey) throw new SetupError(`${CONTAINER_ENV.definitionKey} is not set`);
    await readChecked(CONTAINER_PATHS.codeBundle, CONTAINER_PATHS.codeMetadata, "the step's code bundle");
    const argumentBytes = await readChecked(CONTAINER_PATHS.argumentsPayload, CONTAINER_PATHS.argumentsMetadata, "the step's arguments");
    args = deserialize(argumentBytes) as unknown[];
    fn = await loadStepFunction(CONTAINER_PATHS.codeBundle, definitionKey);
  } catch (error) {
    const info = toRemoteErrorInfo(error);
    process.stderr.write(`stepbox runner: ${info.name}: ${info.message}\n`);
    await writeFailure(info);
    return RUNNER_EXIT.setupError;
  }

  let result: unknown;
  try {
    result = await (fn as (...a: unknown[]) => unknown)(...args);
  } catch (error) {
    const info = toRemoteErrorInfo(error);
    process.stderr.write(`${info.stack ?? `${info.name}: ${info.message}`}\n`);
    let payload: Buffer;
    try {
      payload = serialize(error, "error");
    } catch {
      payload = serialize(info, "error");
    }
    await writeWithDigest(CONTAINER_PATHS.exceptionPayload, CONTAINER_PATHS.exceptionMetadata, payload);
    await writeFailure(info);
    return RUNNER_EXIT.stepError;
  }

  try {
    await writeWithDigest(CONTAINER_PATHS.resultsPayload, CONTAINER_PATHS.resultsMetadata, serialize(result, "result"));
  } catch (error) {
    const info = toRemoteErrorInfo(error);
    process.stderr.write(`stepbox runner: ${info.name}: ${info.message}\n`);
    await writeWithDigest(CONTAINER_PATHS.exceptionPayload, CONTAINER_PATHS.exceptionMetadata, serialize(info, "error"));
    await writeFailure(info);
    return RUNNER_EXIT.stepError;
  }
  return RUNNER_EXIT.success;
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/** Started as SageMaker starts a training job: with the definition's ContainerArguments, nothing staged in /opt/ml/code. */
async function isCloudJob(argv: readonly string[]): Promise<boolean> {
  // The local engine stages the code and may pass the same arguments: then the job is a local one.
  return isCloudJobCommandLine(argv) && !(await exists(CONTAINER_PATHS.codeBundle));
}

/** A cloud job: the S3 client is loaded from its own module only now (see container/job-s3.ts). */
async function cloudJob(argv: readonly string[]): Promise<number> {
  let job: JobArguments;
  let openJobStorage: typeof import("./job-s3.js").openJobStorage;
  try {
    job = parseJobArguments(argv);
    ({ openJobStorage } = (await import(CONTAINER_PATHS.jobS3Module).catch((cause: unknown) => {
      throw new SetupError(
        `cannot load the S3 client ${CONTAINER_PATHS.jobS3Module}: ${String(cause)}; build the image with stepbox's runtime-image/Dockerfile`,
      );
    })) as typeof import("./job-s3.js"));
  } catch (error) {
    // Nowhere to store the error yet: the failure file is all the job leaves.
    const info = toRemoteErrorInfo(error);
    process.stderr.write(`stepbox runner: ${info.name}: ${info.message}\n`);
    await writeFailure(info);
    return 1;
  }
  const storage = openJobStorage({ ...(job.region ? { region: job.region } : {}) });
  try {
    return await runCloudJob(job, {
      storage,
      env: process.env,
      workDir: join(tmpdir(), "stepbox-job"),
      codec: { references: payloadReferences, deserialize: (bytes, resolve) => deserialize(bytes, { resolve }) },
    });
  } finally {
    storage.close();
  }
}

/**
 * How often the start marker is looked for besides the folder's change events, which a file system
 * may not pass on (a host folder shared into a VM, as Docker Desktop's are): one cheap check each time.
 */
const START_POLL_MS = 25;

/**
 * Waits for the engine's start marker when the engine started this container ahead of its step (see
 * CONTAINER_ENV.waitForStart): until then nothing of the step is here to read. Woken by the folder's
 * change events, and looked for every START_POLL_MS as well.
 */
async function startMarker(): Promise<void> {
  if (process.env[CONTAINER_ENV.waitForStart] !== "1") return;
  let wake = (): void => {};
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(dirname(CONTAINER_PATHS.startMarker), () => wake());
  } catch {
    // No change events here: the poll alone finds the marker.
  }
  try {
    while (!(await exists(CONTAINER_PATHS.startMarker))) {
      await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(START_POLL_MS)]);
    }
  } finally {
    watcher?.close();
  }
}

async function start(): Promise<number> {
  const argv = process.argv.slice(2);
  await startMarker();
  return (await isCloudJob(argv)) ? cloudJob(argv) : main();
}

/** Resolves once everything written to `stream` so far has left this process (or cannot: the pipe is gone). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableEnded || stream.destroyed) return Promise.resolve();
  // Writes complete in order: the callback of an empty one comes after every write before it.
  return new Promise((resolve) => stream.write("", () => resolve()));
}

/**
 * Exits once stdout and stderr are drained. process.exit drops what Node still holds for a pipe: once
 * the pipe's 64 KiB are full (the engine reads slower than a step prints), the rest waits in this
 * process, and a step that printed fast and returned at once would lose the end of its log.
 */
async function exitDrained(code: number): Promise<never> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}

// The step's module may leave timers or a never-settling top-level await behind: exit explicitly.
start().then(
  (code) => exitDrained(code),
  (error: unknown) => {
    process.stderr.write(`stepbox runner crashed: ${String(error)}\n`);
    return exitDrained(RUNNER_EXIT.setupError);
  },
);
