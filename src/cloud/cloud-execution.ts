/**
 * An execution in SageMaker Pipelines (or `stepbox serve`), answered through the SageMaker API and
 * S3: the same questions a local PipelineExecution answers, in the service's own shapes.
 */
import { randomUUID } from "node:crypto";
import type { DescribePipelineExecutionCommandOutput, Parameter, PipelineExecutionStep } from "@aws-sdk/client-sagemaker";
import { NotFoundError, type RemoteErrorInfo, StepFailedError, UnknownStepError, ValidationError } from "../errors.js";
import { readDefinition } from "../definition/read-definition.js";
import { parseExecutionArn, parseTrainingJobArn } from "../naming/sagemaker-arns.js";
import { parseJobMetadata, verifyJobPayloadDigest } from "../serialization/asymmetric-signing.js";
import { deserialize, toRemoteErrorInfo } from "../serialization/codec.js";
import { isThrottling } from "./aws-calls.js";
import { type JobLogEvent, trainingJobLogs } from "./training-job-logs.js";
import type { PipelineSession, SageMakerApi } from "./pipeline-session.js";

/** DescribePipelineExecution's answer, without the SDK's response metadata. */
export type CloudExecutionDescription = Omit<DescribePipelineExecutionCommandOutput, "$metadata">;

const ENDED = new Set(["Succeeded", "Failed", "Stopped"]);
const STEP_ENDED = new Set(["Succeeded", "Failed", "Stopped"]);
/** The longest wait between two looks at a running execution. */
const MAX_POLL_MS = 20_000;

function withoutMetadata<T extends { $metadata?: unknown }>(output: T): Omit<T, "$metadata"> {
  const { $metadata: _, ...rest } = output;
  return rest;
}

export class CloudPipelineExecution {
  readonly arn: string;
  readonly id: string;
  readonly pipelineName: string;
  readonly #session: PipelineSession;
  #stepNames: Promise<readonly string[]> | undefined;

  constructor(session: PipelineSession, arn: string) {
    const parsed = parseExecutionArn(arn);
    this.#session = session;
    this.arn = arn;
    this.id = parsed.executionId;
    this.pipelineName = parsed.pipelineName;
  }

  #call<T>(operation: string, run: (api: SageMakerApi) => Promise<T>): Promise<T> {
    return this.#session.call(operation, this.arn, run);
  }

  async describe(): Promise<CloudExecutionDescription> {
    return withoutMetadata(
      await this.#call("DescribePipelineExecution", ({ sdk, client }) =>
        client.send(new sdk.DescribePipelineExecutionCommand({ PipelineExecutionArn: this.arn })),
      ),
    );
  }

  /** The steps that have started, newest first, as ListPipelineExecutionSteps answers them (every page). */
  async listSteps(): Promise<PipelineExecutionStep[]> {
    const steps: PipelineExecutionStep[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call("ListPipelineExecutionSteps", ({ sdk, client }) =>
        client.send(
          new sdk.ListPipelineExecutionStepsCommand({ PipelineExecutionArn: this.arn, SortOrder: "Descending", ...(token ? { NextToken: token } : {}) }),
        ),
      );
      steps.push(...(page.PipelineExecutionSteps ?? []));
      token = page.NextToken;
    } while (token);
    return steps;
  }

  /** The parameter values the execution runs with, as ListPipelineParametersForExecution answers them. */
  async listParameters(): Promise<{ PipelineParameters: Parameter[] }> {
    const parameters: Parameter[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call("ListPipelineParametersForExecution", ({ sdk, client }) =>
        client.send(new sdk.ListPipelineParametersForExecutionCommand({ PipelineExecutionArn: this.arn, ...(token ? { NextToken: token } : {}) })),
      );
      parameters.push(...(page.PipelineParameters ?? []));
      token = page.NextToken;
    } while (token);
    return { PipelineParameters: parameters };
  }

  /** The definition the execution runs, as DescribePipelineDefinitionForExecution answers it. */
  async describeDefinition(): Promise<{ PipelineDefinition: string; CreationTime: Date | undefined }> {
    const answer = await this.#call("DescribePipelineDefinitionForExecution", ({ sdk, client }) =>
      client.send(new sdk.DescribePipelineDefinitionForExecutionCommand({ PipelineExecutionArn: this.arn })),
    );
    return { PipelineDefinition: answer.PipelineDefinition ?? "", CreationTime: answer.CreationTime };
  }

  /**
   * Resolves when the execution has ended (Succeeded, Failed or Stopped), with its description. It
   * looks every `pollIntervalMs` at first, less often as the run goes on (up to 20 s), and backs off
   * further when AWS throttles it rather than failing.
   */
  async wait(): Promise<CloudExecutionDescription> {
    let delay = this.#session.pollIntervalMs;
    for (;;) {
      const described = await this.#throttled(() => this.describe());
      if (described && ENDED.has(described.PipelineExecutionStatus ?? "")) return described;
      await sleep(delay);
      delay = Math.min(MAX_POLL_MS, Math.ceil(delay * 1.5));
    }
  }

  /** Asks SageMaker to stop the execution; it ends Stopped once its running steps have stopped. */
  async stop(): Promise<void> {
    await this.#call("StopPipelineExecution", ({ sdk, client }) =>
      client.send(new sdk.StopPipelineExecutionCommand({ PipelineExecutionArn: this.arn, ClientRequestToken: randomUUID() })),
    );
  }

  /** RetryPipelineExecution, once the execution has ended: the failed and stopped steps run again. */
  async retry(): Promise<CloudPipelineExecution> {
    await this.wait();
    const answer = await this.#call("RetryPipelineExecution", ({ sdk, client }) =>
      client.send(new sdk.RetryPipelineExecutionCommand({ PipelineExecutionArn: this.arn, ClientRequestToken: randomUUID() })),
    );
    return this.#session.execution(answer.PipelineExecutionArn ?? this.arn);
  }

  /**
   * Waits for a step to end and returns its function's result, read from the S3 output path of its
   * training job and checked against the SHA-256 its job wrote beside it. Throws `StepFailedError`
   * (with the step's FailureReason and, when the job stored it, its own error) when it failed, was
   * stopped or never ran.
   */
  async result(stepName: string): Promise<unknown> {
    const names = await (this.#stepNames ??= this.describeDefinition().then((d) => readDefinition(d.PipelineDefinition).steps.map((s) => s.name)));
    if (!names.includes(stepName)) throw new UnknownStepError(stepName, names);
    const step = await this.#waitForStep(stepName);
    if (!step) {
      const ended = await this.describe();
      throw new StepFailedError({
        stepName,
        failureReason: `the execution ended ${ended.PipelineExecutionStatus}${ended.FailureReason ? ` (${ended.FailureReason})` : ""} first`,
        status: "NotRun",
      });
    }
    const jobArn = step.Metadata?.TrainingJob?.Arn;
    if (step.StepStatus === "Succeeded") {
      if (!jobArn) {
        throw new ValidationError(`step "${stepName}" ran no training job, so it has no result to read`, {
          hint: "result() reads the results of function steps; a Condition step's outcome is in listSteps()",
        });
      }
      const outputPath = await this.#outputPath(jobArn);
      return deserialize(await this.#readDigested(`${outputPath}`, `the result of step "${stepName}"`));
    }
    const started = step.StartTime?.getTime();
    const ended = step.EndTime?.getTime();
    throw new StepFailedError({
      stepName,
      failureReason: step.FailureReason ?? `it ended ${step.StepStatus}`,
      status: step.StepStatus === "Stopped" ? "Stopped" : "Failed",
      originalError: jobArn ? await this.#jobError(jobArn) : undefined,
      durationMs: started !== undefined && ended !== undefined ? ended - started : undefined,
    });
  }

  /**
   * The log of a step's training job, from CloudWatch Logs, stream by stream (one per host); with
   * `follow`, until the step has ended and its last lines are in. A step that has not started has none yet.
   */
  async *stepLogs(stepName: string, options: { readonly follow?: boolean } = {}): AsyncGenerator<JobLogEvent> {
    let jobArn = (await this.listSteps()).find((s) => s.StepName === stepName)?.Metadata?.TrainingJob?.Arn;
    while (!jobArn && options.follow) {
      if (ENDED.has((await this.describe()).PipelineExecutionStatus ?? "")) break;
      await sleep(this.#session.pollIntervalMs);
      jobArn = (await this.listSteps()).find((s) => s.StepName === stepName)?.Metadata?.TrainingJob?.Arn;
    }
    if (!jobArn) return;
    const ended = async (): Promise<boolean> => {
      const step = (await this.listSteps()).find((s) => s.StepName === stepName);
      return STEP_ENDED.has(step?.StepStatus ?? "") || ENDED.has((await this.describe()).PipelineExecutionStatus ?? "");
    };
    yield* trainingJobLogs(
      this.#session,
      parseTrainingJobArn(jobArn).jobName,
      options.follow ? { follow: { ended }, pollMs: this.#session.pollIntervalMs } : {},
    );
  }

  /** The step once it has ended, or undefined when the execution ended without it. */
  async #waitForStep(name: string): Promise<PipelineExecutionStep | undefined> {
    let delay = this.#session.pollIntervalMs;
    for (;;) {
      const steps = await this.#throttled(() => this.listSteps());
      const step = steps?.find((s) => s.StepName === name);
      if (step && STEP_ENDED.has(step.StepStatus ?? "")) return step;
      if (steps) {
        const described = await this.#throttled(() => this.describe());
        if (described && ENDED.has(described.PipelineExecutionStatus ?? "")) {
          const last = (await this.listSteps()).find((s) => s.StepName === name);
          return last && STEP_ENDED.has(last.StepStatus ?? "") ? last : undefined;
        }
      }
      await sleep(delay);
      delay = Math.min(MAX_POLL_MS, Math.ceil(delay * 1.5));
    }
  }

  /** The call's answer, or undefined when AWS throttled it after the SDK's retries: the caller looks again later. */
  async #throttled<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (error) {
      if (!isThrottling(error)) throw error;
      this.#session.logger.warn({ event: "cloud.throttled", execution: this.arn }, "SageMaker throttled a poll of the execution; looking again later");
      return undefined;
    }
  }

  /** The S3 output path of a step's training job, without a trailing slash. */
  async #outputPath(jobArn: string): Promise<string> {
    const { jobName } = parseTrainingJobArn(jobArn);
    const job = await this.#session.call("DescribeTrainingJob", `training job ${jobName}`, ({ sdk, client }) =>
      client.send(new sdk.DescribeTrainingJobCommand({ TrainingJobName: jobName })),
    );
    const path = job.OutputDataConfig?.S3OutputPath;
    if (!path) throw new ValidationError(`training job ${jobName} has no S3OutputPath`, { hint: "a function step's job writes its result there" });
    return path.replace(/\/+$/, "");
  }

  /** `payload.bin` under a prefix, refused unless the SHA-256 in the `metadata.json` beside it matches. */
  async #readDigested(prefix: string, what: string): Promise<Buffer> {
    const [payload, metadata] = await Promise.all([this.#session.objects.get(`${prefix}/payload.bin`), this.#session.objects.get(`${prefix}/metadata.json`)]);
    verifyJobPayloadDigest(payload, parseJobMetadata(metadata.toString("utf8"), what), what);
    return payload;
  }

  /** The error the step's function threw, as its job stored it beside its results; undefined when it stored none. */
  async #jobError(jobArn: string): Promise<RemoteErrorInfo | undefined> {
    const outputPath = await this.#outputPath(jobArn);
    const exceptionPrefix = outputPath.replace(/\/results$/, "/exception");
    if (exceptionPrefix === outputPath) return undefined;
    try {
      return toRemoteErrorInfo(deserialize(await this.#readDigested(exceptionPrefix, "the step's stored error")));
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
