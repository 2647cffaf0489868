/**
 * A training job's logs as SageMaker keeps them: CloudWatch Logs group `/aws/sagemaker/TrainingJobs`,
 * one stream per host (`<job-name>/algo-<i>-<epoch>`). Read once, or followed until the job ends:
 * streams that appear later (another host) are picked up, and each stream is read on from where it was.
 */
import { TRAINING_JOB_LOG_GROUP } from "../naming/sagemaker-arns.js";
import type { PipelineSession } from "./pipeline-session.js";

export interface JobLogEvent {
  /** `<job-name>/algo-<i>-<epoch>`. */
  readonly stream: string;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly message: string;
}

export interface JobLogOptions {
  /** Keep reading until `ended()` says the job ended and a last look finds nothing new. */
  readonly follow?: { readonly ended: () => Promise<boolean> };
  /** The first wait between looks that found nothing; it doubles up to 2 s. @default 250 */
  readonly pollMs?: number;
}

/** The job's log events, stream by stream in the order the streams are named, each stream in order. */
export async function* trainingJobLogs(session: PipelineSession, jobName: string, options: JobLogOptions = {}): AsyncGenerator<JobLogEvent> {
  const tokens = new Map<string, string | undefined>();
  let delay = options.pollMs ?? 250;
  let ended = false;
  for (;;) {
    for (const stream of await streamsOf(session, jobName)) if (!tokens.has(stream)) tokens.set(stream, undefined);
    let found = 0;
    for (const [stream, token] of tokens) {
      let next = token;
      for (;;) {
        const page = await session.logsCall("GetLogEvents", `${TRAINING_JOB_LOG_GROUP}:${stream}`, ({ sdk, client }) =>
          client.send(
            new sdk.GetLogEventsCommand({
              logGroupName: TRAINING_JOB_LOG_GROUP,
              logStreamName: stream,
              startFromHead: true,
              ...(next !== undefined ? { nextToken: next } : {}),
            }),
          ),
        );
        for (const event of page.events ?? []) {
          found++;
          yield { stream, timestamp: event.timestamp ?? 0, message: event.message ?? "" };
        }
        // CloudWatch answers the token it was given once a stream has nothing newer.
        const same = page.nextForwardToken === next || page.nextForwardToken === undefined;
        next = page.nextForwardToken ?? next;
        if (same || (page.events ?? []).length === 0) break;
      }
      tokens.set(stream, next);
    }
    if (!options.follow || ended) return;
    if (found > 0) {
      delay = options.pollMs ?? 250;
      continue;
    }
    // One more look after the job ended: what it wrote last is then in.
    ended = await options.follow.ended();
    if (!ended) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(2000, delay * 2);
    }
  }
}

/** The names of the job's streams, every page. */
async function streamsOf(session: PipelineSession, jobName: string): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await session.logsCall("DescribeLogStreams", `${TRAINING_JOB_LOG_GROUP}:${jobName}/`, ({ sdk, client }) =>
      client.send(
        new sdk.DescribeLogStreamsCommand({
          logGroupName: TRAINING_JOB_LOG_GROUP,
          logStreamNamePrefix: `${jobName}/`,
          ...(token !== undefined ? { nextToken: token } : {}),
        }),
      ),
    );
    names.push(...(page.logStreams ?? []).flatMap((s) => (s.logStreamName ? [s.logStreamName] : [])));
    token = page.nextToken;
  } while (token);
  return names.sort();
}
