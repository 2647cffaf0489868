/**
 * The pipeline calls of a cloud session: create or update a pipeline with its definition, describe,
 * list, start and delete it, each through SageMaker's API with its errors made CloudErrors.
 */
import { randomUUID } from "node:crypto";
import type { DescribePipelineCommandOutput, PipelineExecutionSummary } from "@aws-sdk/client-sagemaker";
import { CloudError } from "../errors.js";
import type { CloudPipelineExecution } from "./cloud-execution.js";
import type { PipelineSession } from "./pipeline-session.js";

export interface CloudPipelineRequest {
  readonly name: string;
  readonly definition: string;
  /** The pipeline's default MaxParallelExecutionSteps, when it has one. */
  readonly parallelism?: number | undefined;
}

/** Whether SageMaker refused a CreatePipeline because the pipeline is there already (its ValidationException says so). */
function alreadyExists(error: unknown): boolean {
  return error instanceof CloudError && error.awsCode === "ValidationException" && /already exists/i.test(error.message);
}

function pipelineMembers(session: PipelineSession, request: CloudPipelineRequest) {
  return {
    PipelineName: request.name,
    PipelineDefinition: request.definition,
    RoleArn: session.roleArn,
    ...(request.parallelism !== undefined ? { ParallelismConfiguration: { MaxParallelExecutionSteps: request.parallelism } } : {}),
  };
}

/** CreatePipeline; a pipeline that exists already is a CloudError (ValidationException), as SageMaker answers. */
export async function createPipeline(session: PipelineSession, request: CloudPipelineRequest): Promise<{ PipelineArn: string }> {
  const answer = await session.call("CreatePipeline", `pipeline ${request.name}`, ({ sdk, client }) =>
    client.send(new sdk.CreatePipelineCommand({ ...pipelineMembers(session, request), PipelineDisplayName: request.name, ClientRequestToken: randomUUID() })),
  );
  return { PipelineArn: answer.PipelineArn ?? "" };
}

/** CreatePipeline, or UpdatePipeline when it exists already: what the SDK's `pipeline.upsert()` does. */
export async function upsertPipeline(session: PipelineSession, request: CloudPipelineRequest): Promise<{ PipelineArn: string }> {
  try {
    return await createPipeline(session, request);
  } catch (error) {
    if (!alreadyExists(error)) throw error;
  }
  const answer = await session.call("UpdatePipeline", `pipeline ${request.name}`, ({ sdk, client }) =>
    client.send(new sdk.UpdatePipelineCommand(pipelineMembers(session, request))),
  );
  return { PipelineArn: answer.PipelineArn ?? "" };
}

export async function describePipeline(session: PipelineSession, name: string): Promise<Omit<DescribePipelineCommandOutput, "$metadata">> {
  const { $metadata: _, ...answer } = await session.call("DescribePipeline", `pipeline ${name}`, ({ sdk, client }) =>
    client.send(new sdk.DescribePipelineCommand({ PipelineName: name })),
  );
  return answer;
}

export interface CloudStart {
  /** Values by parameter name, already checked against the pipeline's parameters. */
  readonly parameters: ReadonlyMap<string, unknown>;
  readonly displayName?: string | undefined;
  readonly description?: string | undefined;
  readonly parallelism?: number | undefined;
  readonly selective?: { readonly sourceExecutionArn: string; readonly steps: readonly string[] } | undefined;
}

/** StartPipelineExecution: parameter values go as text, as SageMaker takes them. */
export async function startPipelineExecution(session: PipelineSession, name: string, start: CloudStart): Promise<CloudPipelineExecution> {
  const answer = await session.call("StartPipelineExecution", `pipeline ${name}`, ({ sdk, client }) =>
    client.send(
      new sdk.StartPipelineExecutionCommand({
        PipelineName: name,
        ClientRequestToken: randomUUID(),
        PipelineParameters: [...start.parameters].map(([Name, value]) => ({ Name, Value: String(value) })),
        ...(start.displayName !== undefined ? { PipelineExecutionDisplayName: start.displayName } : {}),
        ...(start.description !== undefined ? { PipelineExecutionDescription: start.description } : {}),
        ...(start.parallelism !== undefined ? { ParallelismConfiguration: { MaxParallelExecutionSteps: start.parallelism } } : {}),
        ...(start.selective
          ? {
              SelectiveExecutionConfig: {
                SourcePipelineExecutionArn: start.selective.sourceExecutionArn,
                SelectedSteps: start.selective.steps.map((StepName) => ({ StepName })),
              },
            }
          : {}),
      }),
    ),
  );
  return session.execution(answer.PipelineExecutionArn ?? "");
}

/** The pipeline's executions, newest first, every page of ListPipelineExecutions. */
export async function listPipelineExecutions(session: PipelineSession, name: string): Promise<PipelineExecutionSummary[]> {
  const summaries: PipelineExecutionSummary[] = [];
  let token: string | undefined;
  do {
    const page = await session.call("ListPipelineExecutions", `pipeline ${name}`, ({ sdk, client }) =>
      client.send(new sdk.ListPipelineExecutionsCommand({ PipelineName: name, SortOrder: "Descending", ...(token ? { NextToken: token } : {}) })),
    );
    summaries.push(...(page.PipelineExecutionSummaries ?? []));
    token = page.NextToken;
  } while (token);
  return summaries;
}

/** The names of every pipeline in the account and region, every page of ListPipelines. */
export async function listPipelines(session: PipelineSession): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await session.call("ListPipelines", "pipelines", ({ sdk, client }) =>
      client.send(new sdk.ListPipelinesCommand({ SortBy: "Name", SortOrder: "Ascending", ...(token ? { NextToken: token } : {}) })),
    );
    names.push(...(page.PipelineSummaries ?? []).flatMap((p) => (p.PipelineName ? [p.PipelineName] : [])));
    token = page.NextToken;
  } while (token);
  return names;
}

/** The ARN of an execution of the pipeline by its id: the pipeline's ARN (region, account) and the id. */
export async function executionArnOf(session: PipelineSession, name: string, id: string): Promise<string> {
  const pipeline = await describePipeline(session, name);
  return `${pipeline.PipelineArn}/execution/${id}`;
}

export async function deletePipeline(session: PipelineSession, name: string): Promise<void> {
  await session.call("DeletePipeline", `pipeline ${name}`, ({ sdk, client }) =>
    client.send(new sdk.DeletePipelineCommand({ PipelineName: name, ClientRequestToken: randomUUID() })),
  );
}
