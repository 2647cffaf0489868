import type { Command } from "commander";
import { ValidationError } from "../../errors.js";
import { action, examples } from "../action.js";
import { followCloudExecution, openCloudSession, withCloudOptions, type CloudOptions } from "../cloud.js";
import { EXIT } from "../errors.js";
import { loadPipelineFile } from "../load-pipeline.js";
import { collect, parseParameters, parsePositiveInteger } from "../parameters.js";
import { withJsonOption } from "../session.js";

interface DeployOptions extends CloudOptions {
  json?: boolean;
  export?: string;
  role?: string;
  s3Root?: string;
  image?: string;
  start?: boolean;
  follow?: boolean;
  param: string[];
  parallelism?: string;
  displayName?: string;
}

export function deployCommand(program: Command): void {
  withCloudOptions(
    withJsonOption(
      program
        .command("deploy")
        .summary("create or update a pipeline file's pipeline in SageMaker, and start it")
        .description(
          "Create the pipeline in SageMaker Pipelines, or update it when it exists (pipeline.upsert() of a PipelineSession): each step's function and arguments, signed, " +
            "and its file:// input folders are uploaded under the S3 root first, then the definition goes to CreatePipeline or UpdatePipeline. " +
            "With --start, also starts an execution; with --follow, shows its progress until it ends and exits 0 only when it succeeded.\n" +
            "AWS credentials come from the environment, as the AWS CLI reads them.",
        )
        .argument("<pipeline-file>", "the .ts or .js file that exports the pipeline")
        .option("--export <name>", "the export to deploy, when the file exports several pipelines")
        .option("--role <arn>", "the IAM role the pipeline and its jobs run as (default: $STEPBOX_ROLE_ARN)")
        .option("--s3-root <uri>", "s3://bucket[/prefix] where functions, arguments and results go (default: $STEPBOX_S3_ROOT)")
        .option(
          "--image <uri>",
          "the runtime image the steps run in, as `stepbox image push` printed it (default: $STEPBOX_IMAGE_URI, else the image pushed last from this machine)",
        )
        .option("--start", "start an execution once the pipeline is deployed")
        .option("--follow", "start an execution and show its progress until it ends")
        .option("--param <name=value>", "with --start: a value for one of the pipeline's parameters (repeat for more)", collect, [])
        .option("--parallelism <n>", "with --start: run at most n steps at once (default: the pipeline's setting)")
        .option("--display-name <name>", "with --start: the execution's display name"),
      "print the pipeline's ARN (and the execution's, with --start) as JSON; with --follow, DescribePipelineExecution's answer with its steps when it ends",
    ),
    { cloudFlag: false },
  )
    .addHelpText(
      "after",
      examples(
        "stepbox deploy pipelines/churn.ts --role arn:aws:iam::123456789012:role/pipelines --s3-root s3://my-bucket/stepbox --start",
        "stepbox deploy pipelines/churn.ts --follow --param epochs=20",
      ),
    )
    .action(
      action(async (file: string, options: DeployOptions) => {
        const starting = options.start === true || options.follow === true;
        if (!starting && (options.param.length > 0 || options.parallelism !== undefined || options.displayName !== undefined)) {
          throw new ValidationError("--param, --parallelism and --display-name are for the execution that --start starts", {
            hint: "add --start (or --follow)",
          });
        }
        const parallelism = options.parallelism !== undefined ? parsePositiveInteger(options.parallelism, "--parallelism") : undefined;
        const cloud = openCloudSession(options, undefined, {
          ...(options.role !== undefined ? { roleArn: options.role } : {}),
          ...(options.s3Root !== undefined ? { s3Root: options.s3Root } : {}),
          ...(options.image !== undefined ? { imageUri: options.image } : {}),
        });
        try {
          const loaded = await loadPipelineFile(file, options.export);
          const pipeline = loaded.pipeline.withSession(cloud);
          const parameters = parseParameters(options.param, pipeline.parameters);
          // Where a person reads the progress: stdout, or stderr when stdout carries the JSON.
          const text = options.json ? process.stderr : process.stdout;
          const { PipelineArn } = await pipeline.upsert();
          text.write(`deployed pipeline ${pipeline.name}: ${PipelineArn}\n`);
          if (!starting) {
            if (options.json) process.stdout.write(`${JSON.stringify({ PipelineArn })}\n`);
            return EXIT.ok;
          }
          const execution = await pipeline.start({
            parameters,
            ...(parallelism !== undefined ? { parallelism } : {}),
            ...(options.displayName !== undefined ? { executionDisplayName: options.displayName } : {}),
          });
          text.write(`started execution ${execution.id}: ${execution.arn}\n`);
          if (!options.follow) {
            if (options.json) process.stdout.write(`${JSON.stringify({ PipelineArn, PipelineExecutionArn: execution.arn })}\n`);
            else text.write(`follow it with: stepbox steps ${execution.arn}; stepbox logs ${execution.arn} --follow\n`);
            return EXIT.ok;
          }
          // Ctrl-C ends the command only: the execution goes on in SageMaker (stepbox stop stops it).
          return await followCloudExecution(execution, text, options.json === true);
        } finally {
          cloud.close();
        }
      }),
    );
}
