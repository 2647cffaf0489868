/**
 * Finds what a user names on the command line: an execution by its id or a unique prefix of it,
 * across every pipeline in the store; a step of it by name or unique prefix; a pipeline by name.
 */
import { ValidationError } from "../errors.js";
import type { LocalPipelineSession } from "../session/local-pipeline-session.js";
import { PipelineExecution } from "../session/pipeline-execution.js";
import type { ExecutionRecord } from "../store/records.js";

const MAX_LISTED = 10;

/**
 * The one candidate that `query` names: an exact match, else the only one that starts with it.
 * None, or several, is a user error that lists what there is.
 */
export function matchPrefix(query: string, candidates: readonly string[], what: string, where: string): string {
  if (candidates.includes(query)) return query;
  const matches = candidates.filter((c) => c.startsWith(query));
  if (matches.length === 1) return matches[0]!;
  const list = (names: readonly string[]): string =>
    names.length > MAX_LISTED ? `${names.slice(0, MAX_LISTED).join(", ")} and ${names.length - MAX_LISTED} more` : names.join(", ");
  if (matches.length === 0) {
    throw new ValidationError(`no ${what} "${query}" in ${where}`, {
      hint: candidates.length > 0 ? `the ${what}s are: ${list(candidates)}` : `${where} has no ${what}s`,
    });
  }
  throw new ValidationError(`"${query}" is the start of ${matches.length} ${what}s in ${where}`, {
    hint: `give more of the name: ${list(matches)}`,
  });
}

/** A recorded execution and the pipeline it belongs to. */
export interface ResolvedExecution {
  readonly pipelineName: string;
  readonly id: string;
  readonly execution: PipelineExecution;
  readonly record: ExecutionRecord;
}

/** Every recorded execution id in the store, with its pipeline. */
async function listAllExecutions(session: LocalPipelineSession): Promise<Array<{ pipelineName: string; id: string }>> {
  const all: Array<{ pipelineName: string; id: string }> = [];
  for (const pipelineName of await session.records.listPipelines()) {
    for (const id of await session.records.listExecutionIds(pipelineName)) all.push({ pipelineName, id });
  }
  return all;
}

export async function resolveExecution(session: LocalPipelineSession, query: string): Promise<ResolvedExecution> {
  const all = await listAllExecutions(session);
  const id = matchPrefix(
    query,
    all.map((e) => e.id),
    "execution",
    session.store.uri,
  );
  // Ids are random, but two pipelines could in principle hold the same one.
  const owners = all.filter((e) => e.id === id);
  if (owners.length > 1) {
    throw new ValidationError(`execution ${id} is recorded under ${owners.length} pipelines: ${owners.map((o) => o.pipelineName).join(", ")}`, {
      hint: "remove the copy that does not belong, or point --store at one of them",
    });
  }
  const { pipelineName } = owners[0]!;
  const record = await session.records.readExecution(pipelineName, id);
  return { pipelineName, id, execution: new PipelineExecution(session, pipelineName, id), record };
}

export function resolveStep(resolved: ResolvedExecution, query: string): string {
  return matchPrefix(query, resolved.record.StepNames, "step", `execution ${resolved.id}`);
}

export async function resolvePipelineName(session: LocalPipelineSession, query: string): Promise<string> {
  return matchPrefix(query, await session.records.listPipelines(), "pipeline", session.store.uri);
}
