/**
 * The command line's road to SageMaker: `--cloud` (or an `arn:` argument) makes a read command ask
 * SageMaker Pipelines (or `stepbox serve`) instead of the store. What SageMaker answers becomes the
 * records the local commands read, so a cloud execution prints as a local one does.
 */
import type { PipelineExecutionStep as CloudStep } from "@aws-sdk/client-sagemaker";
import type { Command } from "commander";
import type { CloudExecutionDescription, CloudPipelineExecution } from "../cloud/cloud-execution.js";
import { isThrottling } from "../cloud/aws-calls.js";
import { PipelineSession, type PipelineSessionOptions } from "../cloud/pipeline-session.js";
import { listPipelineExecutions, listPipelines } from "../cloud/pipelines.js";
import { readDefinition } from "../definition/read-definition.js";
import { CloudError, ValidationError } from "../errors.js";
import { parseExecutionArn, parseTrainingJobArn } from "../naming/sagemaker-arns.js";
import { stepView } from "../session/pipeline-execution.js";
import type { ExecutionRecord, ExecutionStatus, StepRecord, StepStatus } from "../store/records.js";
import { cliLogger } from "./engine-log.js";
import { elapsed, toJson } from "./output.js";
import { matchPrefix } from "./resolve.js";
import { stateLine } from "./run-progress.js";
import type { CommonOptions } from "./session.js";
import { explainFailure } from "./watch-run.js";
import { EXIT } from "./errors.js";

export interface CloudOptions extends CommonOptions {
  cloud?: boolean;
  region?: string;
  endpoint?: string;
}

/** --cloud, --region and --endpoint, on every command that reads or acts on an execution. */
export function withCloudOptions(command: Command, { cloudFlag = true } = {}): Command {
  if (cloudFlag) {
    command.option(
      "--cloud",
      "ask SageMaker Pipelines (AWS credentials from the environment, as the AWS CLI reads them) instead of the store; an arn: argument implies it",
    );
  }
  return command
    .option("--region <region>", "with --cloud: the AWS region (default: the ARN's, else $AWS_REGION)")
    .option(
      "--endpoint <url>",
      "with --cloud: where SageMaker's and CloudWatch Logs' calls go, e.g. stepbox serve's http://127.0.0.1:8080 (default: $AWS_ENDPOINT_URL_SAGEMAKER, else AWS)",
    );
}

/** Whether the command reads SageMaker: asked with --cloud, or given an execution ARN. */
export function wantsCloud(options: CloudOptions, query: string): boolean {
  return options.cloud === true || query.startsWith("arn:");
}

/**
 * A cloud session for the command: region and endpoint from the options, the ARN or the environment;
 * role, S3 root and image from `extra` or STEPBOX_ROLE_ARN, STEPBOX_S3_ROOT and STEPBOX_IMAGE_URI.
 */
export function openCloudSession(options: CloudOptions, arn?: string, extra: Partial<PipelineSessionOptions> = {}): PipelineSession {
  const region = options.region ?? (arn?.startsWith("arn:") ? parseExecutionArn(arn).scope.region : undefined);
  if (region === undefined && !process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION) {
    throw new ValidationError("no AWS region is given", { hint: "give --region (e.g. --region us-east-1), set AWS_REGION, or name the execution by its ARN" });
  }
  // The SDK pinned here supports this Node; its notice about later versions is not the user's to act on.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new PipelineSession({
    ...(region !== undefined ? { region } : {}),
    // stepbox serve answers SageMaker's and CloudWatch Logs' calls on one address.
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint, logsEndpoint: options.endpoint } : {}),
    logger: cliLogger({ message: (line) => process.stderr.write(`${line}\n`), imageActivity: () => undefined }, options.verbose === true),
    ...extra,
  });
}

/** Where a cloud session's calls go, as a person reads it in a message. */
export function cloudPlace(session: PipelineSession, options: CloudOptions): string {
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_SAGEMAKER;
  return endpoint ? `SageMaker at ${endpoint}` : `SageMaker in ${session.region}`;
}

/**
 * The execution a person names: its ARN; or its id, or a unique prefix of it, among the executions of
 * every pipeline (ListPipelines, then ListPipelineExecutions), or of one as `<pipeline>/<id>`.
 */
export async function resolveCloudExecution(session: PipelineSession, options: CloudOptions, query: string): Promise<CloudPipelineExecution> {
  if (query.startsWith("arn:")) return session.execution(query);
  const where = cloudPlace(session, options);
  const slash = query.indexOf("/");
  const pipelines = slash > 0 ? [matchPrefix(query.slice(0, slash), await listPipelines(session), "pipeline", where)] : await listPipelines(session);
  const idQuery = slash > 0 ? query.slice(slash + 1) : query;
  const all: Array<{ id: string; arn: string; pipeline: string }> = [];
  for (const pipeline of pipelines) {
    for (const summary of await listPipelineExecutions(session, pipeline)) {
      if (summary.PipelineExecutionArn)
        all.push({ id: parseExecutionArn(summary.PipelineExecutionArn).executionId, arn: summary.PipelineExecutionArn, pipeline });
    }
  }
  const id = matchPrefix(
    idQuery,
    all.map((e) => e.id),
    "execution",
    where,
  );
  const owners = all.filter((e) => e.id === id);
  if (owners.length > 1) {
    throw new ValidationError(`execution ${id} exists under ${owners.length} pipelines in ${where}: ${owners.map((o) => o.pipeline).join(", ")}`, {
      hint: "name it as <pipeline>/<execution>, or give its ARN",
    });
  }
  return session.execution(owners[0]!.arn);
}

/** A cloud execution as the local commands read one: its record, its steps' records, its definition. */
export interface CloudExecutionView {
  readonly execution: CloudPipelineExecution;
  readonly description: CloudExecutionDescription;
  readonly record: ExecutionRecord;
  /** The steps that have started, by name. */
  readonly steps: ReadonlyMap<string, StepRecord>;
  readonly definition: string;
}

const STEP_STATUSES: readonly StepStatus[] = ["Starting", "Executing", "Stopping", "Stopped", "Failed", "Succeeded"];
const EXECUTION_STATUSES: readonly ExecutionStatus[] = ["Executing", "Stopping", "Stopped", "Failed", "Succeeded"];

function iso(date: Date | undefined): string | undefined {
  return date?.toISOString();
}

/** A step as ListPipelineExecutionSteps answers it, as the store records one. */
export function stepRecordOf(step: CloudStep): StepRecord {
  const name = step.StepName ?? "";
  const jobArn = step.Metadata?.TrainingJob?.Arn;
  const outcome = step.Metadata?.Condition?.Outcome;
  const failMessage = step.Metadata?.Fail?.ErrorMessage;
  const status = STEP_STATUSES.find((s) => s === step.StepStatus) ?? "Executing";
  const start = iso(step.StartTime);
  const end = iso(step.EndTime);
  return {
    StepName: name,
    StepDisplayName: step.StepDisplayName ?? name,
    StepDescription: step.StepDescription ?? "",
    StepStatus: status,
    ...(start !== undefined ? { StartTime: start } : {}),
    ...(end !== undefined ? { EndTime: end } : {}),
    AttemptCount: step.AttemptCount ?? 1,
    ...(step.FailureReason !== undefined ? { FailureReason: step.FailureReason } : {}),
    Metadata: {
      ...(jobArn ? { TrainingJob: { Arn: jobArn, TrainingJobName: parseTrainingJobArn(jobArn).jobName } } : {}),
      ...(outcome === "True" || outcome === "False" ? { Condition: { Outcome: outcome } } : {}),
      ...(failMessage !== undefined ? { Fail: { ErrorMessage: failMessage } } : {}),
    },
    ...(step.CacheHitResult?.SourcePipelineExecutionArn
      ? { CacheHitResult: { SourcePipelineExecutionArn: step.CacheHitResult.SourcePipelineExecutionArn } }
      : {}),
    ...(step.SelectiveExecutionResult?.SourcePipelineExecutionArn
      ? { SelectiveExecutionResult: { SourcePipelineExecutionArn: step.SelectiveExecutionResult.SourcePipelineExecutionArn } }
      : {}),
  };
}

/** Reads what the local commands show of an execution, from SageMaker. */
export async function readCloudView(execution: CloudPipelineExecution): Promise<CloudExecutionView> {
  const [description, parameters, definition, steps] = await Promise.all([
    execution.describe(),
    execution.listParameters(),
    execution.describeDefinition(),
    execution.listSteps(),
  ]);
  const stepNames = readDefinition(definition.PipelineDefinition).steps.map((s) => s.name);
  const values = parameters.PipelineParameters.map((p) => ({ Name: p.Name ?? "", Value: p.Value ?? "" }));
  const selective = description.SelectiveExecutionConfig;
  const record: ExecutionRecord = {
    PipelineName: execution.pipelineName,
    PipelineArn: description.PipelineArn ?? "",
    PipelineExecutionId: execution.id,
    PipelineExecutionArn: execution.arn,
    PipelineExecutionDisplayName: description.PipelineExecutionDisplayName ?? execution.id,
    ...(description.PipelineExecutionDescription !== undefined ? { PipelineExecutionDescription: description.PipelineExecutionDescription } : {}),
    PipelineExecutionStatus: EXECUTION_STATUSES.find((s) => s === description.PipelineExecutionStatus) ?? "Executing",
    ...(description.FailureReason !== undefined ? { FailureReason: description.FailureReason } : {}),
    CreationTime: iso(description.CreationTime) ?? new Date(0).toISOString(),
    LastModifiedTime: iso(description.LastModifiedTime) ?? iso(description.CreationTime) ?? new Date(0).toISOString(),
    // SageMaker leaves it out when neither the pipeline nor the start set one; its default is 50.
    ParallelismConfiguration: { MaxParallelExecutionSteps: description.ParallelismConfiguration?.MaxParallelExecutionSteps ?? 50 },
    PipelineParameters: values,
    ParameterValues: Object.fromEntries(values.map((v) => [v.Name, v.Value])),
    ...(selective?.SourcePipelineExecutionArn
      ? {
          SelectiveExecutionConfig: {
            SourcePipelineExecutionArn: selective.SourcePipelineExecutionArn,
            SelectedSteps: (selective.SelectedSteps ?? []).map((s) => ({ StepName: s.StepName ?? "" })),
          },
        }
      : {}),
    StepNames: stepNames,
    Owner: "SageMaker",
  };
  // Newest first: the first seen of a name is its latest attempt.
  const byName = new Map<string, StepRecord>();
  for (const step of steps) if (step.StepName && !byName.has(step.StepName)) byName.set(step.StepName, stepRecordOf(step));
  return { execution, description, record, steps: byName, definition: definition.PipelineDefinition };
}

/**
 * Shows a cloud execution's progress (a line each time a step changes state, as `stepbox run` does
 * off a terminal) until it ends, then how it ended. Returns the exit code: 0 only when it succeeded.
 */
export async function followCloudExecution(execution: CloudPipelineExecution, out: NodeJS.WritableStream, json: boolean): Promise<number> {
  const seen = new Map<string, string>();
  const poll = async (): Promise<CloudExecutionDescription | undefined> => {
    try {
      // Newest first: a step retried is listed once per attempt, and its latest is the first.
      const latest = new Map<string, CloudStep>();
      for (const step of await execution.listSteps()) if (step.StepName && !latest.has(step.StepName)) latest.set(step.StepName, step);
      for (const step of [...latest.values()].reverse()) {
        const view = stepView(stepRecordOf(step));
        const key = `${view.StepStatus}/${view.AttemptCount}`;
        if (seen.get(view.StepName) === key) continue;
        seen.set(view.StepName, key);
        out.write(`${stateLine(view)}\n`);
      }
      return await execution.describe();
    } catch (error) {
      // A throttled look is not a failed run: look again later.
      if (error instanceof CloudError && isThrottling(error)) return undefined;
      throw error;
    }
  };
  let description: CloudExecutionDescription | undefined;
  for (let delay = 1000; ; delay = Math.min(10_000, delay * 1.5)) {
    description = await poll();
    const status = description?.PipelineExecutionStatus;
    if (status === "Succeeded" || status === "Failed" || status === "Stopped") break;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  // The steps that ended between the last look at them and the execution's end.
  await poll();
  const view = await readCloudView(execution);
  const status = view.record.PipelineExecutionStatus;
  out.write(`execution ${execution.id} ${status} in ${elapsed(view.record.CreationTime, view.record.LastModifiedTime)}\n`);
  const steps = view.record.StepNames.flatMap((name) => {
    const step = view.steps.get(name);
    return step ? [stepView(step)] : [];
  });
  if (status !== "Succeeded") {
    explainFailure(out, { ref: execution.arn, flags: "", hasLogs: (s) => s.Metadata.TrainingJob !== undefined }, view.record, [...steps].reverse());
  }
  if (json) process.stdout.write(`${toJson({ ...view.description, PipelineExecutionSteps: await execution.listSteps() })}\n`);
  return status === "Succeeded" ? EXIT.ok : EXIT.failed;
}
