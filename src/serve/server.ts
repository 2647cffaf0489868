/**
 * `stepbox serve`: an HTTP endpoint that speaks SageMaker's API as the AWS SDKs call it (JSON 1.1:
 * `POST /`, `X-Amz-Target: SageMaker.<Operation>` (and CloudWatch Logs' `Logs_20140328.<Operation>` for the
 * jobs' logs), JSON bodies, timestamps in epoch seconds), over the
 * records of one artifact store. Any SigV4 signature is accepted and none is checked: it listens on
 * the loopback interface unless told otherwise. Every request gets an answer in SageMaker's shapes;
 * a handler that fails unexpectedly is a 500 InternalFailure, logged, never a crash.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ValidationError } from "../errors.js";
import type { LocalPipelineSession } from "../session/local-pipeline-session.js";
import { ApiError, toApiError } from "./api-error.js";
import { LiveExecutions, type ServeContext } from "./context.js";
import { executionOperations } from "./execution-operations.js";
import { FaultPlan, type ServeFault } from "./faults.js";
import { logOperations } from "./log-operations.js";
import { pipelineOperations } from "./pipeline-operations.js";
import { trainingJobOperations } from "./training-job-operations.js";

export interface ServeOptions {
  /** The session whose store serve reads and records into. */
  readonly session: LocalPipelineSession;
  /** @default 8080; 0 takes any free port (see `RunningServe.port`) */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** Errors to answer on purpose, for tests of clients (`--fault`); see faults.ts. */
  readonly faults?: readonly ServeFault[];
}

export interface RunningServe {
  /** `http://<host>:<port>`: the endpoint to give the SDKs (AWS_ENDPOINT_URL_SAGEMAKER). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Stops listening, stops the executions serve started, and resolves once they are recorded as ended. */
  close(): Promise<void>;
}

type Operation = (body: Record<string, unknown>, ctx: ServeContext) => Promise<Record<string, unknown>>;

/** The operations of each service serve speaks, by the `X-Amz-Target` prefix the SDKs send. */
const SERVICES: ReadonlyMap<string, ReadonlyMap<string, Operation>> = new Map([
  ["SageMaker.", new Map<string, Operation>(Object.entries({ ...pipelineOperations, ...executionOperations, ...trainingJobOperations }))],
  ["Logs_20140328.", new Map<string, Operation>(Object.entries(logOperations))],
]);

/** Every operation serve answers, by name. */
export const SERVE_OPERATIONS: readonly string[] = [...SERVICES.values()].flatMap((ops) => [...ops.keys()]);

const JSON_1_1 = "application/x-amz-json-1.1";
/** A definition may be 1 MiB, and JSON escapes can double it: anything far past that is not a SageMaker request. */
const BODY_LIMIT_BYTES = 8 * 1024 * 1024;

export async function startServe(options: ServeOptions): Promise<RunningServe> {
  const { session } = options;
  const ctx: ServeContext = {
    session,
    records: session.records,
    logger: session.logger,
    live: new LiveExecutions(),
    answeredTokens: new Map(),
  };
  const faults = new FaultPlan(options.faults ?? []);
  const server = createServer((request, response) => {
    void answer(request, response, ctx, faults);
  });
  const host = options.host ?? "127.0.0.1";
  await listen(server, options.port ?? 8080, host);
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  session.logger.info({ event: "serve.listening", url, store: session.store.uri }, `serving the SageMaker API at ${url}`);
  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    host,
    close: () => (closed ??= close(server, ctx)),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const refused = (error: NodeJS.ErrnoException): void => {
      const why =
        error.code === "EADDRINUSE"
          ? "is in use"
          : error.code === "EACCES"
            ? "needs privileges this process lacks"
            : `cannot be listened on (${error.message})`;
      reject(new ValidationError(`port ${port} on ${host} ${why}`, { cause: error, hint: "pick another with --port (0 takes any free port)" }));
    };
    server.once("error", refused);
    server.listen(port, host, () => {
      server.off("error", refused);
      resolve();
    });
  });
}

async function close(server: Server, ctx: ServeContext): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await ctx.live.stopAll();
  server.closeAllConnections();
  await stopped;
}

/** The operation a target names (`SageMaker.CreatePipeline`, `Logs_20140328.GetLogEvents`), and its handler when serve has one. */
function resolveTarget(target: string | string[] | undefined): { operation: string | undefined; handler: Operation | undefined } {
  if (typeof target !== "string") return { operation: undefined, handler: undefined };
  for (const [prefix, operations] of SERVICES) {
    if (target.startsWith(prefix)) {
      const operation = target.slice(prefix.length);
      return { operation, handler: operations.get(operation) };
    }
  }
  return { operation: undefined, handler: undefined };
}

async function answer(request: IncomingMessage, response: ServerResponse, ctx: ServeContext, faults: FaultPlan): Promise<void> {
  const requestId = randomUUID();
  const started = Date.now();
  const target = request.headers["x-amz-target"];
  const { operation, handler } = resolveTarget(target);
  let status = 200;
  try {
    if (request.method !== "POST" || !handler || operation === undefined) {
      request.resume();
      throw unknownOperation(request.method, target);
    }
    const body = parseBody(await readBody(request));
    const fault = faults.take(operation);
    if (fault) throw fault;
    send(response, 200, requestId, await handler(body, ctx));
  } catch (error) {
    const apiError = toApiError(error);
    status = apiError.status;
    if (apiError.type === "InternalFailure") {
      ctx.logger.error({ event: "serve.internal-failure", err: apiError.cause, operation, requestId }, `${operation ?? "a request"} failed inside serve`);
    }
    if (!response.headersSent) send(response, status, requestId, apiError.body(), apiError.type);
    else response.destroy();
  } finally {
    ctx.logger.debug({ event: "serve.request", operation: operation ?? String(target), status, ms: Date.now() - started, requestId }, "request answered");
  }
}

function unknownOperation(method: string | undefined, target: string | string[] | undefined): ApiError {
  const implemented = [...SERVICES].map(([prefix, ops]) => [...ops.keys()].map((op) => `${prefix}${op}`).join(", ")).join(", ");
  if (method !== "POST")
    return new ApiError(
      "UnknownOperationException",
      `stepbox serve answers POST / with X-Amz-Target: SageMaker.<Operation> or Logs_20140328.<Operation>, not ${method} (operations: ${implemented})`,
    );
  if (target === undefined)
    return new ApiError("UnknownOperationException", `the request has no X-Amz-Target header; stepbox serve implements: ${implemented}`);
  return new ApiError("UnknownOperationException", `${String(target)} is not an operation stepbox serve implements; it implements: ${implemented}`);
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > BODY_LIMIT_BYTES) {
        request.removeAllListeners("data");
        request.resume();
        reject(new ApiError("SerializationException", `the request body is larger than ${BODY_LIMIT_BYTES} bytes, far more than any SageMaker request`));
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks)));
    // The client went away mid-body: its fault, not serve's, and nobody is left to read the answer.
    request.on("error", (error) => reject(new ApiError("SerializationException", "the request ended before its body did", { cause: error })));
  });
}

function parseBody(bytes: Buffer): Record<string, unknown> {
  const text = bytes.toString("utf8");
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ApiError("SerializationException", `the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new ApiError("SerializationException", "the request body must be a JSON object");
  return body as Record<string, unknown>;
}

function send(response: ServerResponse, status: number, requestId: string, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": JSON_1_1,
    "Content-Length": Buffer.byteLength(text),
    "x-amzn-RequestId": requestId,
    ...(errorType ? { "x-amzn-ErrorType": errorType } : {}),
  });
  response.end(text);
}
