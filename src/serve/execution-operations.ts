/**
 * The execution operations: started and retried from the store's definitions by the session
 * (`startDefinition`, `retryDefinition`: the engine runs what the definition says), stopped
 * through the running execution when serve started it and through the store's stop request otherwise
 * (as `stepbox stop`), and described from the records of the store, whoever ran them.
 */
import { PipelineExecution, readExecutionDefinition } from "../session/pipeline-execution.js";
import { executionEnded, type ExecutionRecord, type StepRecord } from "../store/records.js";
import { notFound, validation } from "./api-error.js";
import { epochSeconds, pipelineNameOf, present, requireExecution, requirePipeline, type ServeContext } from "./context.js";
import { page } from "./pages.js";
import { PATTERNS, RequestMembers } from "./request-members.js";

type Body = Record<string, unknown>;

/** A token answered before gets the same answer: an SDK that retries a request starts one execution, not two. */
async function once(ctx: ServeContext, operation: string, token: string | undefined, act: () => Promise<string>): Promise<string> {
  const key = token === undefined ? undefined : `${operation}:${token}`;
  const answered = key === undefined ? undefined : ctx.answeredTokens.get(key);
  if (answered !== undefined) return answered;
  const arn = await act();
  if (key !== undefined) ctx.answeredTokens.set(key, arn);
  return arn;
}

async function startPipelineExecution(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const nameOrArn = m.string("PipelineName", { required: true, min: 1, max: 2048, pattern: PATTERNS.pipelineNameOrArn });
  const displayName = m.string("PipelineExecutionDisplayName", { min: 1, max: 82, pattern: PATTERNS.executionDisplayName });
  const parameters = m.parameters();
  const description = m.string("PipelineExecutionDescription", { max: 3072 });
  const token = m.string("ClientRequestToken", { min: 32, max: 128 });
  const parallelism = m.parallelism();
  const selective = m.selectiveExecution();
  m.check();
  if (m.has("PipelineVersionId")) throw validation("stepbox keeps no pipeline versions: leave out PipelineVersionId to run the pipeline's definition");
  const pipeline = await requirePipeline(ctx, pipelineNameOf(nameOrArn));
  const source = selective && (await requireExecution(ctx, selective.sourceExecutionArn));
  if (source && source.PipelineName !== pipeline.PipelineName) {
    throw validation(`Source pipeline execution '${selective!.sourceExecutionArn}' is not an execution of pipeline '${pipeline.PipelineName}'.`);
  }
  // Values as the API gives them, text: the session reads each as its declared type, and refuses a wrong one.
  const given = Object.fromEntries((parameters ?? []).map((p) => [p.Name, p.Value]));
  const arn = await once(ctx, "StartPipelineExecution", token, async () => {
    const steps = (parallelism ?? pipeline.ParallelismConfiguration)?.MaxParallelExecutionSteps;
    const execution = await ctx.session.startDefinition(pipeline.PipelineName, {
      parameters: given,
      ...present("executionDisplayName", displayName),
      ...present("executionDescription", description),
      ...present("parallelism", steps),
      ...present("selective", source && { sourceExecutionId: source.PipelineExecutionId, steps: selective!.steps }),
    });
    ctx.live.add(execution);
    return execution.arn;
  });
  return { PipelineExecutionArn: arn };
}

async function retryPipelineExecution(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const arn = m.string("PipelineExecutionArn", { required: true, max: 2048, pattern: PATTERNS.executionArn });
  const token = m.string("ClientRequestToken", { min: 32, max: 128 });
  const parallelism = m.parallelism();
  m.check();
  const source = await requireExecution(ctx, arn);
  const retried = await once(ctx, "RetryPipelineExecution", token, async () => {
    const execution = await ctx.session.retryDefinition(
      source.PipelineName,
      source.PipelineExecutionId,
      present("parallelism", parallelism?.MaxParallelExecutionSteps),
    );
    ctx.live.add(execution);
    return execution.arn;
  });
  return { PipelineExecutionArn: retried };
}

async function stopPipelineExecution(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const arn = m.string("PipelineExecutionArn", { required: true, max: 2048, pattern: PATTERNS.executionArn });
  m.string("ClientRequestToken", { min: 32, max: 128 });
  m.check();
  const record = await requireExecution(ctx, arn);
  const live = ctx.live.get(record.PipelineExecutionArn);
  if (live) {
    await live.stop();
  } else {
    if (executionEnded(record.PipelineExecutionStatus)) {
      throw validation(`Pipeline execution '${arn}' is ${record.PipelineExecutionStatus}: only an Executing execution can be stopped`);
    }
    // Another process runs it: asked through the store, it stops within a second (as `stepbox stop`).
    await new PipelineExecution(ctx.session, record.PipelineName, record.PipelineExecutionId).stop();
  }
  return { PipelineExecutionArn: record.PipelineExecutionArn };
}

async function describePipelineExecution(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const arn = m.string("PipelineExecutionArn", { required: true, max: 2048, pattern: PATTERNS.executionArn });
  m.check();
  const r = await requireExecution(ctx, arn);
  return {
    PipelineArn: r.PipelineArn,
    PipelineExecutionArn: r.PipelineExecutionArn,
    PipelineExecutionDisplayName: r.PipelineExecutionDisplayName,
    PipelineExecutionStatus: r.PipelineExecutionStatus,
    ...present("PipelineExecutionDescription", r.PipelineExecutionDescription),
    PipelineExperimentConfig: { ExperimentName: r.PipelineName, TrialName: r.PipelineExecutionId },
    ...present("FailureReason", r.FailureReason),
    CreationTime: epochSeconds(r.CreationTime),
    LastModifiedTime: epochSeconds(r.LastModifiedTime),
    ParallelismConfiguration: r.ParallelismConfiguration,
    ...present("SelectiveExecutionConfig", r.SelectiveExecutionConfig),
  };
}

function executionSummary(r: ExecutionRecord): Body {
  return {
    PipelineExecutionArn: r.PipelineExecutionArn,
    StartTime: epochSeconds(r.CreationTime),
    PipelineExecutionStatus: r.PipelineExecutionStatus,
    ...present("PipelineExecutionDescription", r.PipelineExecutionDescription),
    PipelineExecutionDisplayName: r.PipelineExecutionDisplayName,
    ...present("PipelineExecutionFailureReason", r.FailureReason),
  };
}

async function listPipelineExecutions(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const nameOrArn = m.string("PipelineName", { required: true, min: 1, max: 2048, pattern: PATTERNS.pipelineNameOrArn });
  const after = m.time("CreatedAfter");
  const before = m.time("CreatedBefore");
  const sortBy = m.string("SortBy", { oneOf: ["CreationTime", "PipelineExecutionArn"] }) ?? "CreationTime";
  const order = m.string("SortOrder", { oneOf: ["Ascending", "Descending"] }) ?? "Descending";
  const nextToken = m.string("NextToken", { max: 8192 });
  const maxResults = m.integer("MaxResults", { min: 1, max: 100 });
  m.check();
  const pipeline = await requirePipeline(ctx, pipelineNameOf(nameOrArn));
  const records = (
    await ctx.records.readExecutions(pipeline.PipelineName, (damaged) =>
      ctx.logger.warn({ event: "record.damaged", key: damaged.key }, `skipped ${damaged.detail}`),
    )
  ).filter((r) => {
    const created = Date.parse(r.CreationTime);
    return !(after && created <= after.getTime()) && !(before && created >= before.getTime());
  });
  const sign = order === "Ascending" ? 1 : -1;
  records.sort((a, b) =>
    sortBy === "PipelineExecutionArn"
      ? sign * a.PipelineExecutionArn.localeCompare(b.PipelineExecutionArn)
      : sign * (Date.parse(a.CreationTime) - Date.parse(b.CreationTime)),
  );
  const { items, NextToken } = page(records, "ListPipelineExecutions", maxResults, nextToken);
  return { PipelineExecutionSummaries: items.map(executionSummary), ...present("NextToken", NextToken) };
}

/** A step's record as ListPipelineExecutionSteps answers it: SageMaker's members only. */
function stepSummary(r: StepRecord): Body {
  const metadata: Body = {};
  if (r.Metadata.TrainingJob) metadata.TrainingJob = { Arn: r.Metadata.TrainingJob.Arn };
  if (r.Metadata.Condition) metadata.Condition = { Outcome: r.Metadata.Condition.Outcome };
  if (r.Metadata.Fail) metadata.Fail = { ErrorMessage: r.Metadata.Fail.ErrorMessage };
  return {
    StepName: r.StepName,
    ...present("StepDisplayName", r.StepDisplayName || undefined),
    ...present("StepDescription", r.StepDescription || undefined),
    ...present("StartTime", r.StartTime === undefined ? undefined : epochSeconds(r.StartTime)),
    ...present("EndTime", r.EndTime === undefined ? undefined : epochSeconds(r.EndTime)),
    StepStatus: r.StepStatus,
    ...present("CacheHitResult", r.CacheHitResult),
    ...present("FailureReason", r.FailureReason),
    Metadata: metadata,
    AttemptCount: r.AttemptCount,
    ...present("SelectiveExecutionResult", r.SelectiveExecutionResult),
  };
}

async function listPipelineExecutionSteps(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const arn = m.string("PipelineExecutionArn", { required: true, max: 2048, pattern: PATTERNS.executionArn });
  const nextToken = m.string("NextToken", { max: 8192 });
  const maxResults = m.integer("MaxResults", { min: 1, max: 100 });
  const order = m.string("SortOrder", { oneOf: ["Ascending", "Descending"] }) ?? "Descending";
  m.check();
  const r = await requireExecution(ctx, arn);
  const steps = (await Promise.all(r.StepNames.map((name) => ctx.records.readStep(r.PipelineName, r.PipelineExecutionId, name)))).filter(
    (s): s is StepRecord => s !== undefined,
  );
  const sign = order === "Ascending" ? 1 : -1;
  const started = (s: StepRecord): number => (s.StartTime === undefined ? 0 : Date.parse(s.StartTime));
  steps.sort((a, b) => sign * (started(a) - started(b)));
  const { items, NextToken } = page(steps, "ListPipelineExecutionSteps", maxResults, nextToken);
  return { PipelineExecutionSteps: items.map(stepSummary), ...present("NextToken", NextToken) };
}

async function listPipelineParametersForExecution(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const arn = m.string("PipelineExecutionArn", { required: true, max: 2048, pattern: PATTERNS.executionArn });
  const nextToken = m.string("NextToken", { max: 8192 });
  const maxResults = m.integer("MaxResults", { min: 1, max: 100 });
  m.check();
  const r = await requireExecution(ctx, arn);
  const { items, NextToken } = page(r.PipelineParameters, "ListPipelineParametersForExecution", maxResults, nextToken);
  return { PipelineParameters: items.map((p) => ({ Name: p.Name, Value: p.Value })), ...present("NextToken", NextToken) };
}

async function describePipelineDefinitionForExecution(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const arn = m.string("PipelineExecutionArn", { required: true, max: 2048, pattern: PATTERNS.executionArn });
  m.check();
  const r = await requireExecution(ctx, arn);
  const definition = await readExecutionDefinition(ctx.session.store, r.PipelineName, r.PipelineExecutionId);
  if (definition === undefined) {
    throw notFound(`Pipeline execution '${arn}' was recorded by a stepbox that did not keep each execution's definition`);
  }
  return { PipelineDefinition: definition, CreationTime: epochSeconds(r.CreationTime) };
}

export const executionOperations = {
  StartPipelineExecution: startPipelineExecution,
  RetryPipelineExecution: retryPipelineExecution,
  StopPipelineExecution: stopPipelineExecution,
  DescribePipelineExecution: describePipelineExecution,
  ListPipelineExecutions: listPipelineExecutions,
  ListPipelineExecutionSteps: listPipelineExecutionSteps,
  ListPipelineParametersForExecution: listPipelineParametersForExecution,
  DescribePipelineDefinitionForExecution: describePipelineDefinitionForExecution,
} as const;
