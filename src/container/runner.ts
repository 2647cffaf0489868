/**
 * The entry point of every step container (ENTRYPOINT of the runtime image). It verifies and loads
 * the step's bundle and arguments against their digests, calls the one step function it was asked
 * for, and leaves the result, or the error and /opt/ml/output/failure, each with its digest, for the
 * engine to collect. It holds no key: the engine signs what it keeps, on the host.
 *
 * Loading the bundle evaluates the module that defined the step; its own `pipeline.start()` runs
 * against the container build of stepbox, where starting a pipeline does nothing.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import type { StepDefinition } from "../dsl/function-step.js";
import { deserialize, serialize, toRemoteErrorInfo } from "../serialization/codec.js";
import { checkDigestText, digestOf } from "../serialization/digest.js";
import { CONTAINER_ENV, CONTAINER_GLOBALS, CONTAINER_PATHS, RUNNER_EXIT } from "./contract.js";

/** SageMaker returns the first 1024 characters of the failure file as FailureReason. */
const FAILURE_LIMIT = 1024;

class SetupError extends Error {
  override name = "StepboxSetupError";
}

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

/** Loads the bundle and waits until it has registered the wanted definition (or finished loading without it). */
async function loadStepFunction(definitionKey: string): Promise<StepDefinition["fn"]> {
  const registered = new Map<string, StepDefinition>();
  let notify: () => void = () => {};
  const found = new Promise<void>((resolve) => {
    notify = resolve;
  });
  (globalThis as Record<symbol, unknown>)[CONTAINER_GLOBALS.registry] = {
    register(definition: StepDefinition) {
      registered.set(definition.key, definition);
      if (definition.key === definitionKey) notify();
    },
  };
  // The module may never finish loading (its top level awaits a pipeline that never starts here),
  // so the race ends as soon as the definition is registered.
  const loading = import(pathToFileURL(CONTAINER_PATHS.codeBundle).href);
  await Promise.race([found, loading]);
  const definition = registered.get(definitionKey);
  if (definition) return definition.fn;
  const known = [...registered.keys()].map((k) => k.split("#").slice(1).join("#"));
  throw new SetupError(
    `the bundle did not define step ${definitionKey.split("#").slice(1).join("#")} when loaded` +
      ` (it defined: ${known.join(", ") || "none"}); define steps at the top level of their module`,
  );
}

async function writeFailure(error: { name: string; message: string }): Promise<void> {
  await mkdir(dirname(CONTAINER_PATHS.failure), { recursive: true });
  await writeFile(CONTAINER_PATHS.failure, `${error.name}: ${error.message}`.slice(0, FAILURE_LIMIT), { flag: "wx" }).catch(() => {
    // The step wrote its own failure file; SageMaker keeps the first writer's text.
  });
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
    fn = await loadStepFunction(definitionKey);
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
main().then(
  (code) => exitDrained(code),
  (error: unknown) => {
    process.stderr.write(`stepbox runner crashed: ${String(error)}\n`);
    return exitDrained(RUNNER_EXIT.setupError);
  },
);
