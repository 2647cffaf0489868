/**
 * CreatePipeline, UpdatePipeline, DescribePipeline, ListPipelines and DeletePipeline, on the pipeline
 * records of the store (`<pipeline>/pipeline.json`): the same records `pipeline.upsert()` writes, so a
 * pipeline recorded either way is found by both.
 */
import { DefinitionError } from "../errors.js";
import { MAX_DEFINITION_LENGTH } from "../definition/emit-definition.js";
import { readDefinition } from "../definition/read-definition.js";
import { pipelineArn } from "../naming/sagemaker-arns.js";
import { layout } from "../store/layout.js";
import { executionEnded, type PipelineRecord } from "../store/records.js";
import { ApiError, validation } from "./api-error.js";
import { epochSeconds, pipelineNameOf, present, requirePipeline, type ServeContext } from "./context.js";
import { page } from "./pages.js";
import { PATTERNS, RequestMembers } from "./request-members.js";

type Body = Record<string, unknown>;

/**
 * Refuses a definition the engine could not run, with the reader's reason and fix: not JSON, not a
 * 2020-12-01 definition, a step type stepbox cannot run, a reference to nothing.
 */
function checkDefinition(definition: string): void {
  try {
    readDefinition(definition);
  } catch (error) {
    if (!(error instanceof DefinitionError)) throw error;
    throw validation(`The PipelineDefinition cannot be run: ${error.detail} (${error.hint})`);
  }
}

function refuseS3Location(members: RequestMembers): void {
  if (members.has("PipelineDefinitionS3Location")) {
    throw validation(
      "stepbox serve reads the definition from PipelineDefinition only: pass the definition JSON in PipelineDefinition instead of PipelineDefinitionS3Location",
    );
  }
}

async function createPipeline(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const name = m.string("PipelineName", { required: true, min: 1, max: 256, pattern: PATTERNS.pipelineName });
  const roleArn = m.string("RoleArn", { required: true, min: 20, max: 2048, pattern: PATTERNS.roleArn });
  const displayName = m.string("PipelineDisplayName", { min: 1, max: 256, pattern: PATTERNS.pipelineName });
  const definition = m.string("PipelineDefinition", { min: 1, max: MAX_DEFINITION_LENGTH });
  const description = m.string("PipelineDescription", { max: 3072 });
  const token = m.string("ClientRequestToken", { min: 32, max: 128 });
  const parallelism = m.parallelism();
  m.check();
  refuseS3Location(m);
  if (definition === undefined) throw validation("PipelineDefinition must be given: the definition JSON of the pipeline");
  checkDefinition(definition);
  const existing = await ctx.records.readPipeline(name);
  if (existing) {
    // The same request again (an SDK retrying it) is answered as the first one was.
    if (token !== undefined && existing.ClientRequestToken === token) return { PipelineArn: existing.PipelineArn };
    throw validation(`Pipeline names must be unique within an AWS account and region. Pipeline with name (${name}) already exists.`);
  }
  const now = new Date().toISOString();
  const record: PipelineRecord = {
    PipelineName: name,
    PipelineArn: pipelineArn(name),
    PipelineDisplayName: displayName ?? name,
    PipelineDefinition: definition,
    CreationTime: now,
    LastModifiedTime: now,
    ...present("PipelineDescription", description),
    RoleArn: roleArn,
    ...present("ParallelismConfiguration", parallelism),
    ...present("ClientRequestToken", token),
  };
  await ctx.records.writePipeline(record);
  return { PipelineArn: record.PipelineArn };
}

async function updatePipeline(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const name = m.string("PipelineName", { required: true, min: 1, max: 256, pattern: PATTERNS.pipelineName });
  const displayName = m.string("PipelineDisplayName", { min: 1, max: 256, pattern: PATTERNS.pipelineName });
  const definition = m.string("PipelineDefinition", { min: 1, max: MAX_DEFINITION_LENGTH });
  const description = m.string("PipelineDescription", { max: 3072 });
  const roleArn = m.string("RoleArn", { min: 20, max: 2048, pattern: PATTERNS.roleArn });
  const parallelism = m.parallelism();
  m.check();
  refuseS3Location(m);
  const existing = await requirePipeline(ctx, name);
  if (definition !== undefined) checkDefinition(definition);
  await ctx.records.writePipeline({
    ...existing,
    ...present("PipelineDisplayName", displayName),
    ...present("PipelineDefinition", definition),
    ...present("PipelineDescription", description),
    ...present("RoleArn", roleArn),
    ...present("ParallelismConfiguration", parallelism),
    LastModifiedTime: new Date().toISOString(),
  });
  return { PipelineArn: existing.PipelineArn };
}

async function describePipeline(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const nameOrArn = m.string("PipelineName", { required: true, min: 1, max: 2048, pattern: PATTERNS.pipelineNameOrArn });
  m.check();
  const record = await requirePipeline(ctx, pipelineNameOf(nameOrArn));
  const executions = await ctx.records.readExecutions(record.PipelineName, (damaged) =>
    ctx.logger.warn({ event: "record.damaged", key: damaged.key }, `skipped ${damaged.detail}`),
  );
  const lastRun = executions.map((e) => epochSeconds(e.CreationTime)).sort((a, b) => b - a)[0];
  return {
    ...summaryOf(record),
    PipelineDefinition: record.PipelineDefinition,
    PipelineStatus: "Active",
    ...present("LastRunTime", lastRun),
    ...present("ParallelismConfiguration", record.ParallelismConfiguration),
  };
}

function summaryOf(record: PipelineRecord): Body {
  return {
    PipelineArn: record.PipelineArn,
    PipelineName: record.PipelineName,
    PipelineDisplayName: record.PipelineDisplayName,
    ...present("PipelineDescription", record.PipelineDescription),
    ...present("RoleArn", record.RoleArn),
    CreationTime: epochSeconds(record.CreationTime),
    LastModifiedTime: epochSeconds(record.LastModifiedTime),
  };
}

async function listPipelines(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const prefix = m.string("PipelineNamePrefix", { min: 1, max: 256, pattern: PATTERNS.pipelineName });
  const after = m.time("CreatedAfter");
  const before = m.time("CreatedBefore");
  const sortBy = m.string("SortBy", { oneOf: ["Name", "CreationTime"] }) ?? "CreationTime";
  const order = m.string("SortOrder", { oneOf: ["Ascending", "Descending"] }) ?? "Descending";
  const nextToken = m.string("NextToken", { max: 8192 });
  const maxResults = m.integer("MaxResults", { min: 1, max: 100 });
  m.check();
  const records: PipelineRecord[] = [];
  for (const name of await ctx.records.listPipelines()) {
    if (prefix !== undefined && !name.startsWith(prefix)) continue;
    const record = await ctx.records.readPipeline(name).catch((error: unknown) => {
      ctx.logger.warn({ event: "record.damaged", err: error, pipeline: name }, `skipped pipeline ${name}: its record cannot be read`);
      return undefined;
    });
    if (!record) continue;
    const created = Date.parse(record.CreationTime);
    if ((after && created <= after.getTime()) || (before && created >= before.getTime())) continue;
    records.push(record);
  }
  const sign = order === "Ascending" ? 1 : -1;
  records.sort((a, b) =>
    sortBy === "Name" ? sign * a.PipelineName.localeCompare(b.PipelineName) : sign * (Date.parse(a.CreationTime) - Date.parse(b.CreationTime)),
  );
  const { items, NextToken } = page(records, "ListPipelines", maxResults, nextToken);
  return { PipelineSummaries: items.map(summaryOf), ...present("NextToken", NextToken) };
}

async function deletePipeline(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const name = m.string("PipelineName", { required: true, min: 1, max: 256, pattern: PATTERNS.pipelineName });
  m.string("ClientRequestToken", { min: 32, max: 128 });
  m.check();
  const record = await requirePipeline(ctx, name);
  const running = (
    await ctx.records.readExecutions(name, (damaged) => ctx.logger.warn({ event: "record.damaged", key: damaged.key }, `skipped ${damaged.detail}`))
  ).filter((e) => !executionEnded(e.PipelineExecutionStatus));
  if (running.length > 0 || ctx.live.ofPipeline(name).length > 0) {
    throw new ApiError(
      "ConflictException",
      `Pipeline '${record.PipelineArn}' has running executions (${running.map((e) => e.PipelineExecutionArn).join(", ")}): stop them or wait for them to end, then delete it`,
    );
  }
  await ctx.session.store.deletePrefix(layout.pipelineRoot(name));
  return { PipelineArn: record.PipelineArn };
}

export const pipelineOperations = {
  CreatePipeline: createPipeline,
  UpdatePipeline: updatePipeline,
  DescribePipeline: describePipeline,
  ListPipelines: listPipelines,
  DeletePipeline: deletePipeline,
} as const;
