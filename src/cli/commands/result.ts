import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { StepboxError, StepFailedError } from "../../errors.js";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { formatValue, toJson } from "../output.js";
import { matchPrefix, resolveExecution, resolveStep } from "../resolve.js";
import { readDefinition } from "../../definition/read-definition.js";
import { openSession, withJsonOption } from "../session.js";
import { openCloudSession, resolveCloudExecution, wantsCloud, withCloudOptions, type CloudOptions } from "../cloud.js";
import { coloursOn } from "../terminal.js";
import type { PipelineExecution } from "../../session/pipeline-execution.js";

interface ResultOptions extends CloudOptions {
  json?: boolean;
  out?: string;
}

/** What `--out` writes: bytes and strings as they are, anything else as JSON. */
function rawBytes(value: unknown): Buffer | string {
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === "string") return value;
  return `${toJson(value)}\n`;
}

export function resultCommand(program: Command): void {
  withCloudOptions(
    withJsonOption(
      program
        .command("result")
        .summary("print what a step returned")
        .description(
          "Print what a step returned, as a readable value (every level expanded); waits while the step runs. " +
            "--json prints it as JSON (Map as an object, Set as an array, bigint as a string, bytes as base64).",
        )
        .argument("<execution>", "the execution id, or a unique prefix of it; with --cloud also <pipeline>/<id>, or its ARN")
        .argument("<step>", "the step's name, or a unique prefix of it")
        .option("--out <file>", "write the raw value to a file instead: bytes and strings as they are, anything else as JSON"),
    ),
  )
    .addHelpText("after", examples("stepbox result 4kq2 train", "stepbox result 4kq2 eval --json", "stepbox result 4kq2 export --out model.bin"))
    .action(
      action(async (executionQuery: string, stepQuery: string, options: ResultOptions) => {
        const value = wantsCloud(options, executionQuery)
          ? await cloudResult(options, executionQuery, stepQuery)
          : await localResult(options, executionQuery, stepQuery);
        if (options.out !== undefined) {
          const bytes = rawBytes(value);
          await writeFile(options.out, bytes);
          process.stderr.write(`wrote ${Buffer.byteLength(bytes)} bytes to ${options.out}\n`);
        } else if (options.json) {
          process.stdout.write(`${toJson(value)}\n`);
        } else {
          process.stdout.write(`${formatValue(value, coloursOn(process.stdout))}\n`);
        }
        return EXIT.ok;
      }),
    );
}

async function localResult(options: ResultOptions, executionQuery: string, stepQuery: string): Promise<unknown> {
  const session = openSession(options);
  const resolved = await resolveExecution(session, executionQuery);
  const stepName = resolveStep(resolved, stepQuery);
  try {
    return await resolved.execution.result(stepName);
  } catch (error) {
    if (!(error instanceof StepFailedError)) throw error;
    throw new StepboxError("STEP_FAILED", error.detail, { cause: error, hint: await noResultHint(resolved.execution, resolved.id, stepName) });
  }
}

/** The result from S3, read as the cloud session's result() reads it; a step without one is the same error as a local one. */
async function cloudResult(options: ResultOptions, executionQuery: string, stepQuery: string): Promise<unknown> {
  const cloud = openCloudSession(options, executionQuery);
  try {
    const execution = await resolveCloudExecution(cloud, options, executionQuery);
    const { PipelineDefinition } = await execution.describeDefinition();
    const stepName = matchPrefix(
      stepQuery,
      readDefinition(PipelineDefinition).steps.map((s) => s.name),
      "step",
      `execution ${execution.id}`,
    );
    try {
      return await execution.result(stepName);
    } catch (error) {
      if (!(error instanceof StepFailedError)) throw error;
      const ran = (await execution.listSteps()).some((s) => s.StepName === stepName && s.Metadata?.TrainingJob?.Arn);
      const hint = ran ? `it has no result; see its output with: stepbox logs ${execution.arn} ${stepName}` : `see why with: stepbox describe ${execution.arn}`;
      throw new StepboxError("STEP_FAILED", error.detail, { cause: error, hint });
    }
  } finally {
    cloud.close();
  }
}

/** Where to look next for a step without a result: its logs when it ran containers, else why it did not. */
async function noResultHint(execution: PipelineExecution, id: string, stepName: string): Promise<string> {
  const step = (await execution.listSteps()).find((s) => s.StepName === stepName);
  if (step === undefined) return `it never ran; see why with: stepbox describe ${id}`;
  if ((step.Metadata.TrainingJob?.LogStreams?.length ?? 0) > 0) return `it has no result; see its output with: stepbox logs ${id} ${stepName}`;
  return "it has no result, and ran no container: its reason is above";
}
