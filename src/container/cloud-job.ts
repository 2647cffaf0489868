/**
 * The runner as SageMaker starts it: the definition's entrypoint and ContainerArguments, the job's
 * Environment, and nothing staged in /opt/ml/code. As the SDK's invoke_function does, it fetches the
 * function and arguments the client stored under `<s3_base_uri>/<step>/<build>/`, verifies the client's
 * ECDSA signatures with the public key in `REMOTE_FUNCTION_SECRET_KEY`, resolves the arguments'
 * pipeline references, calls the function, and puts the result (and `results.json` when asked) under
 * `<s3_base_uri>/<execution>/<step>/results/`, or the error under `.../exception/`, writing
 * /opt/ml/output/failure. Exit codes are the SDK's: 0, or 1 for a failure of the job's own, or the
 * step error's errno when it has one.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { StepDefinition } from "../dsl/function-step.js";
import { digestJobPayload, JOB_PUBLIC_KEY_ENV, parseJobMetadata, parseJobPublicKey, verifySignedJobPayload } from "../serialization/asymmetric-signing.js";
import { serialize, toRemoteErrorInfo } from "../serialization/codec.js";
import { type ReferenceCodec, resolveJobArguments } from "./argument-references.js";
import { CONTAINER_ENV, JOB_PAYLOAD_FILES } from "./contract.js";
import { type JobArguments, jobLocations } from "./job-arguments.js";
import type { JobStorage } from "./job-s3.js";
import { loadStepFunction, SetupError, writeFailure } from "./load-step.js";

export interface CloudJobContext {
  readonly storage: JobStorage;
  /** The job's environment: `STEPBOX_DEFINITION_KEY`, `REMOTE_FUNCTION_SECRET_KEY`. */
  readonly env: NodeJS.ProcessEnv;
  /** A folder the job may write to, where the function's bundle is put to be imported. */
  readonly workDir: string;
  /** @default payloads without references (serialization/codec.ts as it is) */
  readonly codec?: ReferenceCodec;
}

/** The SDK's exit code for an error: its errno when it has one (Node's are negative: ENOENT -2 exits 2), else 1. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof SetupError) return 1;
  const errno = (error as { errno?: unknown } | null)?.errno;
  if (typeof errno === "number" && Number.isInteger(errno)) {
    const code = Math.abs(errno);
    if (code >= 1 && code <= 255) return code;
  }
  return 1;
}

const JSON_TYPE = "application/json";

/** `{"Result": value, "Exception": null}`, or the SDK's note when the value has no JSON form. */
export function resultsJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  // undefined, functions and symbols have no JSON text; a bigint throws. NaN and Infinity would turn into null: not the value either.
  const exact = text !== undefined && !(typeof value === "number" && !Number.isFinite(value));
  if (exact) return `{"Result":${text},"Exception":null}`;
  return JSON.stringify({ Result: null, Exception: `The function return (${describe(value)}) is not JSON serializable.` });
}

function describe(value: unknown): string {
  const text = typeof value === "bigint" ? `${value}n` : typeof value === "object" && value !== null ? (value.constructor?.name ?? "Object") : String(value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** Downloads a payload sent to the job and its metadata, and verifies the client's signature. */
async function fetchSigned(storage: JobStorage, folder: string, file: string, publicKeyPem: string | undefined, what: string): Promise<Buffer> {
  const [payload, metadataText] = await Promise.all([
    storage.get(`${folder}${file}`),
    storage.get(`${folder}${JOB_PAYLOAD_FILES.metadata}`).then((b) => b.toString("utf8")),
  ]);
  verifySignedJobPayload(payload, parseJobMetadata(metadataText, what), parseJobPublicKey(publicKeyPem), what);
  return payload;
}

async function putPayload(storage: JobStorage, folder: string, payload: Buffer): Promise<void> {
  // The payload first: a reader that finds metadata.json finds the bytes it vouches for.
  await storage.put(`${folder}${JOB_PAYLOAD_FILES.payload}`, payload);
  await storage.put(`${folder}${JOB_PAYLOAD_FILES.metadata}`, JSON.stringify(digestJobPayload(payload)), JSON_TYPE);
}

/** Records a failure as the SDK's handle_error does: the failure file, the error under `exception/`; returns the exit code. */
async function fail(error: unknown, storage: JobStorage, exceptionFolder: string): Promise<number> {
  const info = toRemoteErrorInfo(error);
  process.stderr.write(
    `${error instanceof SetupError || (error as { code?: string })?.code === "INTEGRITY" ? `stepbox runner: ${info.name}: ${info.message}` : (info.stack ?? `${info.name}: ${info.message}`)}\n`,
  );
  await writeFailure(info);
  let payload: Buffer;
  try {
    payload = serialize(error, "error");
  } catch {
    payload = serialize(info, "error");
  }
  try {
    await putPayload(storage, exceptionFolder, payload);
  } catch (uploadError) {
    process.stderr.write(`stepbox runner: the error could not be stored: ${String((uploadError as Error).message ?? uploadError)}\n`);
  }
  return exitCodeOf(error);
}

export async function runCloudJob(job: JobArguments, context: CloudJobContext): Promise<number> {
  const { storage, env } = context;
  const at = jobLocations(job);
  let fn: StepDefinition["fn"];
  let args: unknown[];
  try {
    const definitionKey = env[CONTAINER_ENV.definitionKey];
    if (!definitionKey) throw new SetupError(`${CONTAINER_ENV.definitionKey} is not set in the job's Environment`);
    const publicKeyPem = env[JOB_PUBLIC_KEY_ENV];
    const [code, argumentBytes] = await Promise.all([
      fetchSigned(storage, at.function, JOB_PAYLOAD_FILES.code, publicKeyPem, "the step's function"),
      fetchSigned(storage, at.arguments, JOB_PAYLOAD_FILES.payload, publicKeyPem, "the step's arguments"),
    ]);
    args = await resolveJobArguments(argumentBytes, {
      propertyReferences: job.propertyReferences,
      storage,
      ...(context.codec ? { codec: context.codec } : {}),
    });
    await mkdir(context.workDir, { recursive: true });
    const bundlePath = join(context.workDir, JOB_PAYLOAD_FILES.code);
    await writeFile(bundlePath, code);
    fn = await loadStepFunction(bundlePath, definitionKey);
  } catch (error) {
    return fail(error, storage, at.exception);
  }

  let result: unknown;
  try {
    result = await (fn as (...a: unknown[]) => unknown)(...args);
  } catch (error) {
    return fail(error, storage, at.exception);
  }

  try {
    await putPayload(storage, at.results, serialize(result, "result"));
    if (job.serializeOutputToJson) await storage.put(`${at.results}${JOB_PAYLOAD_FILES.resultsJson}`, resultsJson(result), JSON_TYPE);
  } catch (error) {
    return fail(error, storage, at.exception);
  }
  return 0;
}
