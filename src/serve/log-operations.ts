/**
 * CloudWatch Logs for the training jobs serve's steps ran, as `stepbox logs --cloud` and the AWS SDKs
 * read them from SageMaker: group `/aws/sagemaker/TrainingJobs`, one stream per host and attempt named
 * `<job-name>/algo-<i>-<epoch>`, answered from the logs the engine stored (published when the attempt
 * ends; SageMaker streams them while the job runs). The stored lines carry no times of their own: each
 * event is stamped with the attempt's start, and its ingestion with the attempt's end. Stored logs are
 * what steps printed, so they are read as hostile input: a page is at most 10,000 events and 1 MB.
 */
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { NotFoundError } from "../errors.js";
import { TRAINING_JOB_LOG_GROUP } from "../naming/sagemaker-arns.js";
import { layout } from "../store/layout.js";
import { ApiError } from "./api-error.js";
import type { ServeContext } from "./context.js";
import { type FoundJob, findJob } from "./training-job-operations.js";

type Body = Record<string, unknown>;

const MAX_EVENTS = 10_000;
const MAX_PAGE_BYTES = 1_048_576;
/** CloudWatch counts 26 bytes of overhead per event against a page's megabyte. */
const EVENT_OVERHEAD = 26;

const invalid = (message: string): ApiError => new ApiError("InvalidParameterException", message);
const missing = (message: string): ApiError => new ApiError("ResourceNotFoundException", message);

function text(body: Body, member: string, required: boolean): string | undefined {
  const value = body[member];
  if (value === undefined || value === null) {
    if (required) throw invalid(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof value !== "string") throw new ApiError("SerializationException", `${member} must be a string`);
  return value;
}

function count(body: Body, member: string, max: number): number {
  const value = body[member];
  if (value === undefined || value === null) return max;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw invalid(
      `1 validation error detected: Value '${String(value)}' at '${member}' failed to satisfy constraint: Member must have value between 1 and ${max}`,
    );
  }
  return value;
}

function checkGroup(body: Body): void {
  const group = text(body, "logGroupName", true);
  if (group !== TRAINING_JOB_LOG_GROUP) throw missing(`The specified log group does not exist. (stepbox serve has ${TRAINING_JOB_LOG_GROUP} only)`);
}

/** The training job a stream name belongs to: `<job-name>/algo-<i>-<epoch>`. */
const jobOfStream = (stream: string): string => (stream.includes("/") ? stream.slice(0, stream.indexOf("/")) : stream);

interface JobStream {
  readonly name: string;
  readonly key: string;
  /** Epoch milliseconds: the attempt's start and end. */
  readonly start: number;
  readonly end: number;
}

/** The streams the engine stored for a job: its attempt's, or the step's last. */
function streamsOf(found: FoundJob): JobStream[] {
  const { execution, step, attempt } = found;
  const names = attempt?.LogStreams ?? step.Metadata.TrainingJob?.LogStreams ?? [];
  const start = Date.parse(attempt?.StartTime ?? step.StartTime ?? execution.CreationTime);
  const end = Date.parse(attempt?.EndTime ?? step.EndTime ?? execution.LastModifiedTime);
  return names.map((name) => ({
    name,
    key: layout.logStream(execution.PipelineName, execution.PipelineExecutionId, step.StepName, name),
    start,
    end: Number.isFinite(end) ? end : start,
  }));
}

async function describeLogStreams(body: Body, ctx: ServeContext): Promise<Body> {
  checkGroup(body);
  const prefix = text(body, "logStreamNamePrefix", false);
  const limit = count(body, "limit", 50);
  const descending = body.descending === true;
  const token = text(body, "nextToken", false);
  if (prefix === undefined || prefix === "") {
    throw invalid("stepbox serve lists the streams of one training job: give logStreamNamePrefix as <job-name>/ (or the job name)");
  }
  const found = await findJob(ctx, jobOfStream(prefix));
  const streams = found ? streamsOf(found).filter((s) => s.name.startsWith(prefix)) : [];
  const stored = (await Promise.all(streams.map(async (s) => ((await ctx.session.store.exists(s.key)) ? s : undefined)))).filter(
    (s): s is JobStream => s !== undefined,
  );
  stored.sort((a, b) => (descending ? b.name.localeCompare(a.name) : a.name.localeCompare(b.name)));
  const from = token === undefined ? 0 : Number(/^s\/(\d+)$/.exec(token)?.[1] ?? Number.NaN);
  if (!Number.isInteger(from)) throw invalid(`The specified nextToken is not valid: ${token}`);
  const page = stored.slice(from, from + limit);
  return {
    logStreams: page.map((s) => ({
      logStreamName: s.name,
      creationTime: s.start,
      firstEventTimestamp: s.start,
      lastEventTimestamp: s.start,
      lastIngestionTime: s.end,
      uploadSequenceToken: "0",
      arn: `arn:aws:logs:local:000000000000:log-group:${TRAINING_JOB_LOG_GROUP}:log-stream:${s.name}`,
      storedBytes: 0,
    })),
    ...(from + limit < stored.length ? { nextToken: `s/${from + limit}` } : {}),
  };
}

/** The lines of a stored log from `first` on, at most `limit` of them and a megabyte. */
async function linesFrom(body: Readable, first: number, limit: number): Promise<string[]> {
  const lines: string[] = [];
  let index = 0;
  let bytes = 0;
  const reader = createInterface({ input: body, crlfDelay: Infinity });
  try {
    for await (const line of reader) {
      if (index++ < first) continue;
      bytes += Buffer.byteLength(line) + EVENT_OVERHEAD;
      if (lines.length >= limit || (bytes > MAX_PAGE_BYTES && lines.length > 0)) break;
      lines.push(line);
    }
  } finally {
    reader.close();
    body.destroy();
  }
  return lines;
}

/** How many lines a stored log has. */
async function lineCount(body: Readable): Promise<number> {
  let lines = 0;
  for await (const _ of createInterface({ input: body, crlfDelay: Infinity })) lines++;
  return lines;
}

async function getLogEvents(body: Body, ctx: ServeContext): Promise<Body> {
  checkGroup(body);
  const streamName = text(body, "logStreamName", true)!;
  const limit = count(body, "limit", MAX_EVENTS);
  const token = text(body, "nextToken", false);
  const found = await findJob(ctx, jobOfStream(streamName));
  const stream = found ? streamsOf(found).find((s) => s.name === streamName) : undefined;
  if (!stream) throw missing("The specified log stream does not exist.");
  const open = async (): Promise<Readable> => {
    try {
      return await ctx.session.store.getStream(stream.key);
    } catch (error) {
      if (error instanceof NotFoundError) throw missing("The specified log stream does not exist.");
      throw error;
    }
  };
  const parsed = token === undefined ? undefined : /^([fb])\/(\d+)$/.exec(token);
  if (token !== undefined && !parsed) throw invalid(`The specified nextToken is not valid: ${token}`);
  let first: number;
  if (parsed) {
    const at = Number(parsed[2]);
    first = parsed[1] === "f" ? at : Math.max(0, at - limit);
    if (parsed[1] === "b") {
      const lines = await linesFrom(await open(), first, at - first);
      return page(stream, first, lines);
    }
  } else if (body.startFromHead === true) {
    first = 0;
  } else {
    // As CloudWatch: without a token and startFromHead, the newest events.
    first = Math.max(0, (await lineCount(await open())) - limit);
  }
  return page(stream, first, await linesFrom(await open(), first, limit));
}

function page(stream: JobStream, first: number, lines: readonly string[]): Body {
  return {
    events: lines.map((message) => ({ timestamp: stream.start, message, ingestionTime: stream.end })),
    nextForwardToken: `f/${first + lines.length}`,
    nextBackwardToken: `b/${first}`,
  };
}

export const logOperations = {
  DescribeLogStreams: describeLogStreams,
  GetLogEvents: getLogEvents,
} as const;
