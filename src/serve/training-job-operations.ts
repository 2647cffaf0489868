/**
 * DescribeTrainingJob for the jobs that steps ran: found through the step records that name them
 * (each attempt has its own job), answered from the step's record and its `job.json`.
 */
import { trainingJobArn } from "../naming/sagemaker-arns.js";
import type { JobRecord } from "../runtime/step-runtime.js";
import { readJobRecord } from "../store/job-records.js";
import { layout } from "../store/layout.js";
import type { ExecutionRecord, StatusTransition, StepRecord } from "../store/records.js";
import { validation } from "./api-error.js";
import { epochSeconds, present, type ServeContext } from "./context.js";
import { PATTERNS, RequestMembers } from "./request-members.js";

type Body = Record<string, unknown>;

export interface FoundJob {
  readonly execution: ExecutionRecord;
  readonly step: StepRecord;
  /** The attempt that ran as this job, when the step record keeps its attempts. */
  readonly attempt: NonNullable<StepRecord["Attempts"]>[number] | undefined;
}

/** Whether the step's record names the job, as its latest attempt or as an earlier one. */
function attemptOf(step: StepRecord, jobName: string): FoundJob["attempt"] | null {
  const attempt = step.Attempts?.find((a) => a.TrainingJobName === jobName);
  if (attempt) return attempt;
  return step.Metadata.TrainingJob?.TrainingJobName === jobName ? undefined : null;
}

/**
 * The step whose record names the job. Job names are `<step>-<execution id>[-<attempt>]` cut to 63
 * characters, so an execution whose id the name holds is looked at first; a cut name falls back to all.
 */
export async function findJob(ctx: ServeContext, jobName: string): Promise<FoundJob | undefined> {
  for (const pipeline of await ctx.records.listPipelines()) {
    const ids = await ctx.records.listExecutionIds(pipeline);
    const likely = ids.filter((id) => jobName.includes(`-${id}`));
    for (const id of likely.length > 0 ? likely : jobName.length >= 63 ? ids : []) {
      const execution = await ctx.records.readExecution(pipeline, id);
      for (const name of execution.StepNames) {
        const step = await ctx.records.readStep(pipeline, id, name);
        if (!step) continue;
        const attempt = attemptOf(step, jobName);
        if (attempt !== null) return { execution, step, attempt };
      }
    }
  }
  return undefined;
}

function transitionsOf(transitions: readonly StatusTransition[] | undefined): Body[] | undefined {
  return transitions?.map((t) => ({
    Status: t.Status,
    StartTime: epochSeconds(t.StartTime),
    ...present("EndTime", t.EndTime === undefined ? undefined : epochSeconds(t.EndTime)),
    ...present("StatusMessage", t.StatusMessage),
  }));
}

/** A step status as a training job's. */
function jobStatusOf(status: string): string {
  return status === "Succeeded" ? "Completed" : status === "Starting" || status === "Executing" ? "InProgress" : status;
}

/** What the job was made of, in CreateTrainingJob's members, from the step's job record. */
function requestOf(job: JobRecord, roleArn: string | undefined): Body {
  return {
    ...(Object.keys(job.hyperparameters).length > 0
      ? { HyperParameters: Object.fromEntries(Object.entries(job.hyperparameters).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])) }
      : {}),
    AlgorithmSpecification: { TrainingImage: job.image, TrainingInputMode: "File" },
    ...present("RoleArn", roleArn),
    ...(job.channels.length > 0
      ? {
          InputDataConfig: job.channels.map((c) => ({
            ChannelName: c.name,
            DataSource: { S3DataSource: { S3DataType: "S3Prefix", S3Uri: c.uri ?? c.hostPath, S3DataDistributionType: "FullyReplicated" } },
          })),
        }
      : {}),
    ResourceConfig: { InstanceType: job.instanceType, InstanceCount: job.instanceCount },
    ...present("StoppingCondition", job.maxRuntimeSeconds === undefined ? undefined : { MaxRuntimeInSeconds: job.maxRuntimeSeconds }),
    EnableNetworkIsolation: job.network === false,
    Environment: job.environment,
  };
}

async function describeTrainingJob(body: Body, ctx: ServeContext): Promise<Body> {
  const m = new RequestMembers(body);
  const jobName = m.string("TrainingJobName", { required: true, min: 1, max: 63, pattern: PATTERNS.trainingJobName });
  m.check();
  const found = await findJob(ctx, jobName);
  // What SageMaker answers for a training job it does not have.
  if (!found) throw validation("Requested resource not found.");
  const { execution, step, attempt } = found;
  const metadata = step.Metadata.TrainingJob;
  const latest = attempt === undefined || attempt.AttemptCount === step.AttemptCount;
  const job = latest ? await readJobRecord(ctx.session.store, execution.PipelineName, execution.PipelineExecutionId, step.StepName) : undefined;
  const pipeline = await ctx.records.readPipeline(execution.PipelineName);
  const start = attempt?.StartTime ?? step.StartTime ?? execution.CreationTime;
  const end = attempt?.EndTime ?? step.EndTime;
  const failureReason = attempt ? attempt.FailureReason : step.FailureReason;
  const model = latest ? metadata?.ModelArtifacts?.S3ModelArtifacts : undefined;
  return {
    TrainingJobName: jobName,
    TrainingJobArn: trainingJobArn(jobName),
    TrainingJobStatus: latest ? (metadata?.TrainingJobStatus ?? jobStatusOf(step.StepStatus)) : jobStatusOf(attempt!.StepStatus),
    SecondaryStatus: latest ? (metadata?.SecondaryStatus ?? step.StepStatus) : attempt!.StepStatus,
    ...present("FailureReason", failureReason),
    ModelArtifacts: { S3ModelArtifacts: model ?? "" },
    ...(job ? requestOf(job, pipeline?.RoleArn) : present("RoleArn", pipeline?.RoleArn)),
    // As the definition gave it; a job recorded before the engine ran definitions, where its results went.
    OutputDataConfig: {
      S3OutputPath: job?.outputPath ?? `${ctx.session.store.uri}/${layout.stepRoot(execution.PipelineName, execution.PipelineExecutionId, step.StepName)}`,
    },
    CreationTime: epochSeconds(start),
    TrainingStartTime: epochSeconds(start),
    ...present("TrainingEndTime", end === undefined ? undefined : epochSeconds(end)),
    LastModifiedTime: epochSeconds(end ?? start),
    ...present("SecondaryStatusTransitions", latest ? transitionsOf(metadata?.SecondaryStatusTransitions) : undefined),
  };
}

export const trainingJobOperations = {
  DescribeTrainingJob: describeTrainingJob,
} as const;
