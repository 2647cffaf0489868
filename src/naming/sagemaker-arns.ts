/**
 * SageMaker's names and ARNs as stepbox writes them: built here and parsed here, nowhere else.
 *
 * A local run has no region or account, so stepbox writes ARNs in the pseudo-region `local` under the
 * all-zero account. Parsing accepts any partition, region and account, so an ARN from SageMaker itself
 * reads the same way. Every layer may import this module; it imports only the errors.
 */
import { ValidationError } from "../errors.js";

/** Where an ARN points: SageMaker's partition, region and account. */
export interface ArnScope {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

/** The scope of every ARN a local run writes. */
export const LOCAL_SCOPE: ArnScope = { partition: "aws", region: "local", account: "000000000000" };

/** SageMaker pipeline names: letters and digits, single or repeated `-` between them, at most 256 characters. */
const PIPELINE_NAME = "[A-Za-z0-9](?:-*[A-Za-z0-9]){0,255}";
/** SageMaker execution ids are lowercase letters and digits (stepbox makes 12, as SageMaker does). */
const EXECUTION_ID = "[a-z0-9]{1,64}";
/** Training job names are at most 63 characters; stepbox's come from step names, which may hold `_`. */
const TRAINING_JOB_NAME = "[A-Za-z0-9][A-Za-z0-9_-]{0,62}";
const SCOPE = "arn:(aws[a-z-]*):sagemaker:([a-z0-9-]+):(\\d{12})";

const PIPELINE_ARN = new RegExp(`^${SCOPE}:pipeline/(${PIPELINE_NAME})$`);
const EXECUTION_ARN = new RegExp(`^${SCOPE}:pipeline/(${PIPELINE_NAME})/execution/(${EXECUTION_ID})$`);
const TRAINING_JOB_ARN = new RegExp(`^${SCOPE}:training-job/(${TRAINING_JOB_NAME})$`);
const WHOLE_PIPELINE_NAME = new RegExp(`^${PIPELINE_NAME}$`);
const WHOLE_EXECUTION_ID = new RegExp(`^${EXECUTION_ID}$`);
const WHOLE_TRAINING_JOB_NAME = new RegExp(`^${TRAINING_JOB_NAME}$`);

const EXAMPLE_PIPELINE = "churn";
const EXAMPLE_EXECUTION = "4kq2x8m1c9ab";

/** The CloudWatch Logs group of every training job's logs; each host's stream is `<job-name>/algo-<i>-<epoch>`. */
export const TRAINING_JOB_LOG_GROUP = "/aws/sagemaker/TrainingJobs";

/** Whether SageMaker accepts `name` as a pipeline name. */
export function isPipelineName(name: string): boolean {
  return WHOLE_PIPELINE_NAME.test(name);
}

export function pipelineArn(pipelineName: string): string {
  checkPipelineName(pipelineName);
  return `${scopePrefix(LOCAL_SCOPE)}:pipeline/${pipelineName}`;
}

export function executionArn(pipelineName: string, executionId: string): string {
  if (!WHOLE_EXECUTION_ID.test(executionId)) {
    throw new ValidationError(`"${executionId}" is not an execution id: an ARN built from it would not read back`, {
      hint: `execution ids are 1 to 64 lowercase letters and digits, like ${EXAMPLE_EXECUTION}`,
    });
  }
  return `${pipelineArn(pipelineName)}/execution/${executionId}`;
}

/**
 * The training job that runs one attempt of a step: `<step>-<execution id>`, with `-<attempt>` from the
 * second attempt on, cut to SageMaker's 63 characters so that the attempt number always survives.
 */
export function trainingJobName(stepName: string, executionId: string, attempt = 1): string {
  const suffix = attempt > 1 ? `-${attempt}` : "";
  return `${`${stepName}-${executionId}`.slice(0, 63 - suffix.length)}${suffix}`;
}

export function trainingJobArn(jobName: string): string {
  if (!WHOLE_TRAINING_JOB_NAME.test(jobName)) {
    throw new ValidationError(`"${jobName}" is not a training job name: an ARN built from it would not read back`, {
      hint: "make it with trainingJobName(step, executionId, attempt): letters, digits, - and _, at most 63 characters",
    });
  }
  return `${scopePrefix(LOCAL_SCOPE)}:training-job/${jobName}`;
}

export function parsePipelineArn(arn: string): { scope: ArnScope; pipelineName: string } {
  const [, partition, region, account, pipelineName] = matchArn(arn, PIPELINE_ARN, "pipeline", pipelineArn(EXAMPLE_PIPELINE));
  return { scope: scopeOf(partition, region, account), pipelineName: pipelineName! };
}

export function parseExecutionArn(arn: string): { scope: ArnScope; pipelineName: string; executionId: string } {
  const example = executionArn(EXAMPLE_PIPELINE, EXAMPLE_EXECUTION);
  const [, partition, region, account, pipelineName, executionId] = matchArn(arn, EXECUTION_ARN, "pipeline execution", example);
  return { scope: scopeOf(partition, region, account), pipelineName: pipelineName!, executionId: executionId! };
}

export function parseTrainingJobArn(arn: string): { scope: ArnScope; jobName: string } {
  const example = trainingJobArn(trainingJobName("train", EXAMPLE_EXECUTION));
  const [, partition, region, account, jobName] = matchArn(arn, TRAINING_JOB_ARN, "training job", example);
  return { scope: scopeOf(partition, region, account), jobName: jobName! };
}

function checkPipelineName(name: string): void {
  if (!isPipelineName(name)) {
    throw new ValidationError(`"${name}" is not a valid pipeline name: an ARN built from it would not read back`, {
      hint: "use letters, digits and - (not first or last), at most 256 characters",
    });
  }
}

function matchArn(arn: string, pattern: RegExp, kind: string, example: string): RegExpExecArray {
  const match = typeof arn === "string" ? pattern.exec(arn) : null;
  if (match === null) {
    throw new ValidationError(`"${String(arn)}" is not a SageMaker ${kind} ARN`, { hint: `a ${kind} ARN looks like ${example}` });
  }
  return match;
}

function scopePrefix(scope: ArnScope): string {
  return `arn:${scope.partition}:sagemaker:${scope.region}:${scope.account}`;
}

// The groups are not optional in the patterns: a match always has them.
function scopeOf(partition: string | undefined, region: string | undefined, account: string | undefined): ArnScope {
  return { partition: partition!, region: region!, account: account! };
}
