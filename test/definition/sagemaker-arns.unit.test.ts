import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import {
  LOCAL_SCOPE,
  executionArn,
  isPipelineName,
  parseExecutionArn,
  parsePipelineArn,
  parseTrainingJobArn,
  pipelineArn,
  trainingJobArn,
  trainingJobName,
} from "../../src/naming/sagemaker-arns.js";

/** The error a call throws, so that its class, code and message can all be checked. */
function thrown(call: () => unknown): ValidationError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error("expected the call to throw");
}

describe("SageMaker ARNs", () => {
  it("are written in the local pseudo-region under the all-zero account, as the records have always held them", () => {
    expect(pipelineArn("churn")).toBe("arn:aws:sagemaker:local:000000000000:pipeline/churn");
    expect(executionArn("churn", "abc123def456")).toBe("arn:aws:sagemaker:local:000000000000:pipeline/churn/execution/abc123def456");
    expect(trainingJobArn("train-abc123def456")).toBe("arn:aws:sagemaker:local:000000000000:training-job/train-abc123def456");
  });

  it("read back what they were built from", () => {
    for (const [pipeline, id] of [
      ["churn", "abc123def456"],
      ["a", "0"],
      ["Churn--Model-2", "zzzzzzzzzzzz"],
      ["p".repeat(256), "a".repeat(64)],
    ] as const) {
      expect(parsePipelineArn(pipelineArn(pipeline))).toEqual({ scope: LOCAL_SCOPE, pipelineName: pipeline });
      expect(parseExecutionArn(executionArn(pipeline, id))).toEqual({ scope: LOCAL_SCOPE, pipelineName: pipeline, executionId: id });
    }
    for (const job of [
      trainingJobName("train", "abc123def456"),
      trainingJobName("fit_model", "abc123def456", 3),
      trainingJobName("s".repeat(64), "abc123def456", 12),
    ]) {
      expect(parseTrainingJobArn(trainingJobArn(job))).toEqual({ scope: LOCAL_SCOPE, jobName: job });
    }
  });

  it("read SageMaker's own ARNs too, with their partition, region and account", () => {
    expect(parseExecutionArn("arn:aws-us-gov:sagemaker:us-gov-west-1:123456789012:pipeline/churn/execution/4kq2x8m1c9ab")).toEqual({
      scope: { partition: "aws-us-gov", region: "us-gov-west-1", account: "123456789012" },
      pipelineName: "churn",
      executionId: "4kq2x8m1c9ab",
    });
    expect(parseTrainingJobArn("arn:aws:sagemaker:eu-west-1:123456789012:training-job/pipelines-4kq2x8m1c9ab-train-Ab1").jobName).toBe(
      "pipelines-4kq2x8m1c9ab-train-Ab1",
    );
  });

  it("refuse what is not the ARN asked for, naming the ARN and showing the form", () => {
    const cases: Array<[string, () => unknown, RegExp]> = [
      ["not an arn", () => parseExecutionArn("4kq2x8m1c9ab"), /^"4kq2x8m1c9ab" is not a SageMaker pipeline execution ARN/],
      [
        "a pipeline ARN where an execution's is asked for",
        () => parseExecutionArn("arn:aws:sagemaker:local:000000000000:pipeline/churn"),
        /^"arn:aws:sagemaker:local:000000000000:pipeline\/churn" is not a SageMaker pipeline execution ARN/,
      ],
      [
        "an execution ARN where a pipeline's is asked for",
        () => parsePipelineArn("arn:aws:sagemaker:local:000000000000:pipeline/churn/execution/abc"),
        /is not a SageMaker pipeline ARN/,
      ],
      ["another service", () => parsePipelineArn("arn:aws:s3:local:000000000000:pipeline/churn"), /is not a SageMaker pipeline ARN/],
      ["a short account", () => parsePipelineArn("arn:aws:sagemaker:local:0000:pipeline/churn"), /is not a SageMaker pipeline ARN/],
      ["a slash in the pipeline name", () => parseExecutionArn("arn:aws:sagemaker:local:000000000000:pipeline/a/b/execution/abc"), /is not/],
      ["an upper-case execution id", () => parseExecutionArn("arn:aws:sagemaker:local:000000000000:pipeline/churn/execution/ABC"), /is not/],
      ["trailing text", () => parseTrainingJobArn("arn:aws:sagemaker:local:000000000000:training-job/train-abc\n"), /is not a SageMaker training job ARN/],
      ["a training job name over 63 characters", () => parseTrainingJobArn(`arn:aws:sagemaker:local:000000000000:training-job/${"t".repeat(64)}`), /is not/],
    ];
    for (const [what, call, message] of cases) {
      const error = thrown(call);
      expect(error.code, what).toBe("INVALID_ARGUMENT");
      expect(error.detail, what).toMatch(message);
    }
    expect(thrown(() => parseExecutionArn("nope")).hint).toBe(
      "a pipeline execution ARN looks like arn:aws:sagemaker:local:000000000000:pipeline/churn/execution/4kq2x8m1c9ab",
    );
    expect(thrown(() => parseTrainingJobArn(undefined as unknown as string)).detail).toBe('"undefined" is not a SageMaker training job ARN');
  });

  it("are not built from names that would not read back", () => {
    expect(thrown(() => pipelineArn("churn/model")).detail).toMatch(/^"churn\/model" is not a valid pipeline name/);
    expect(thrown(() => pipelineArn("-churn")).code).toBe("INVALID_ARGUMENT");
    expect(thrown(() => executionArn("churn", "ABC")).detail).toMatch(/^"ABC" is not an execution id/);
    expect(thrown(() => executionArn("churn/x", "abc")).detail).toMatch(/is not a valid pipeline name/);
    expect(thrown(() => trainingJobArn("train job")).detail).toMatch(/^"train job" is not a training job name/);
  });
});

describe("pipeline names", () => {
  it("follow SageMaker: letters and digits, dashes between them, at most 256", () => {
    expect(["a", "churn", "Churn-2", "a--b", "p".repeat(256)].filter(isPipelineName)).toHaveLength(5);
    expect(["", "-a", "a-", "a_b", "a b", "a/b", "p".repeat(257)].filter(isPipelineName)).toEqual([]);
  });
});

describe("training job names", () => {
  it("are the step and the execution id, with the attempt from the second on", () => {
    expect(trainingJobName("train", "abc123def456")).toBe("train-abc123def456");
    expect(trainingJobName("train", "abc123def456", 1)).toBe("train-abc123def456");
    expect(trainingJobName("train", "abc123def456", 2)).toBe("train-abc123def456-2");
  });

  it("are cut to 63 characters, keeping the attempt number whole", () => {
    const long = "s".repeat(64);
    expect(trainingJobName(long, "abc123def456")).toBe("s".repeat(63));
    expect(trainingJobName(long, "abc123def456", 12)).toBe(`${"s".repeat(60)}-12`);
  });
});
