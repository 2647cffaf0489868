/**
 * A step's logs: from the store once the step has ended (one stream per host and attempt, written
 * when the attempt ends), and, for `--follow`, from its running containers
 * (runtime/docker/running-containers.ts). A stream read from a container is not read again from the
 * store. A step that runs on several hosts has one stream per host, and its lines say which host printed them.
 */
import type { DefinedStep } from "../definition/model.js";
import { readDefinition } from "../definition/read-definition.js";
import { createInterface } from "node:readline";
import { StepboxError } from "../errors.js";
import { loadExecutionDefinition } from "../report/run-report.js";
import type { LocalPipelineSession } from "../session/local-pipeline-session.js";
import { layout } from "../store/layout.js";
import type { ExecutionRecord, StepRecord } from "../store/records.js";

/**
 * The steps that run on more than one host (InstanceCount above 1 in the definition the execution ran
 * with), known before any of their containers start, so every line of such a step names its host.
 */
export async function multiHostSteps(session: LocalPipelineSession, execution: ExecutionRecord): Promise<Set<string>> {
  let definition: string;
  try {
    ({ definition } = await loadExecutionDefinition(session, execution));
  } catch (error) {
    // A store that kept no definition at all still has the logs: they are printed without hosts.
    if (error instanceof StepboxError && error.code === "NOT_FOUND") return new Set();
    throw error;
  }
  return multiHostStepsOf(definition);
}

/** The steps of a definition that run on more than one host. */
export function multiHostStepsOf(definition: string): Set<string> {
  const hosts = (s: DefinedStep): unknown =>
    s.type === "Training" ? (s.arguments.ResourceConfig as { InstanceCount?: unknown } | undefined)?.InstanceCount : 1;
  return new Set(
    readDefinition(definition)
      .steps.filter((s) => typeof hosts(s) !== "number" || (hosts(s) as number) > 1)
      .map((s) => s.name),
  );
}

/** The host (`algo-<i>`) a stored stream `<job-name>/algo-<i>-<epoch>` came from. */
export function hostOfStream(stream: string): string {
  return stream.slice(stream.lastIndexOf("/") + 1).replace(/-\d+$/, "");
}

/** The stored streams of a step, in the order of its attempts; then any the record does not name. */
export async function storedStreams(
  session: LocalPipelineSession,
  pipeline: string,
  execution: string,
  step: StepRecord | undefined,
  stepName: string,
): Promise<string[]> {
  const root = layout.logs(pipeline, execution, stepName);
  const stored = (await session.store.list(root)).filter((k) => k.endsWith(".log")).map((k) => k.slice(root.length + 1, -".log".length));
  const named = [...(step?.Attempts?.flatMap((a) => a.LogStreams) ?? []), ...(step?.Metadata.TrainingJob?.LogStreams ?? [])];
  const ordered = [...new Set(named)].filter((s) => stored.includes(s));
  return [...ordered, ...stored.filter((s) => !ordered.includes(s)).sort()];
}

export async function* readStoredStream(
  session: LocalPipelineSession,
  pipeline: string,
  execution: string,
  stepName: string,
  stream: string,
): AsyncGenerator<string> {
  const body = await session.store.getStream(layout.logStream(pipeline, execution, stepName, stream));
  yield* createInterface({ input: body, crlfDelay: Infinity });
}
