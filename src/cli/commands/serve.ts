import type { Command } from "commander";
import { ValidationError } from "../../errors.js";
import { action, examples } from "../action.js";
import { EXIT } from "../errors.js";
import { openSession, withCommonOptions, type CommonOptions } from "../session.js";

interface ServeCommandOptions extends CommonOptions {
  port: string;
  host: string;
  fault: string[];
}

function parsePort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) {
    throw new ValidationError(`--port ${text} is not a port number`, { hint: "give 1 to 65535, or 0 for any free port" });
  }
  return Number(text);
}

/** Resolves on the first SIGINT or SIGTERM, with its name. */
function interrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(signal);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

export function serveCommand(program: Command): void {
  withCommonOptions(
    program
      .command("serve")
      .summary("answer SageMaker's Pipelines API over the store, for the AWS CLI and SDKs")
      .description(
        "Serve SageMaker's API (JSON 1.1, as the AWS SDKs call it) for pipelines, their executions and steps, and the training jobs they ran, " +
          "over the records of the store: pipelines created here are found by stepbox executions, report and logs, and pipelines upserted by a session on the same store are found here. " +
          "Any credentials are accepted and none are checked. SIGINT or SIGTERM stops it, and stops the executions it started.",
      )
      .option("--port <port>", "the port to listen on (0 for any free port)", "8080")
      .option("--host <host>", "the address to listen on", "127.0.0.1")
      .option(
        "--fault <Operation=ErrorCode[:times]>",
        "for testing clients: answer the next <times> calls of an operation (every call, without a count) with an AWS error: ThrottlingException, AccessDeniedException, ResourceLimitExceeded, ServiceUnavailable, InternalFailure (repeatable)",
        (value: string, previous: string[]) => [...previous, value],
        [] as string[],
      ),
  )
    .addHelpText(
      "after",
      examples(
        "stepbox serve --port 8080",
        "AWS_ENDPOINT_URL_SAGEMAKER=http://127.0.0.1:8080 aws sagemaker list-pipelines --region us-east-1",
        "stepbox serve --fault StartPipelineExecution=ThrottlingException:3",
      ),
    )
    .action(
      action(async (options: ServeCommandOptions) => {
        const port = parsePort(options.port);
        // Loaded on first use, as the other commands' own modules are: `stepbox --help` needs no HTTP server.
        const [{ startServe, SERVE_OPERATIONS }, { parseFault }] = await Promise.all([import("../../serve/server.js"), import("../../serve/faults.js")]);
        const faults = options.fault.map((f) => parseFault(f, SERVE_OPERATIONS));
        const session = openSession(options);
        const signal = interrupted();
        const serve = await startServe({ session, port, host: options.host, faults });
        process.stdout.write(
          `stepbox serve: the SageMaker API at ${serve.url} (store: ${session.store.uri})\n` +
            "point the AWS CLI and SDKs at it (any credentials and region do; it answers CloudWatch Logs' calls for its jobs too):\n" +
            `  export AWS_ENDPOINT_URL_SAGEMAKER=${serve.url} AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=${serve.url}\n` +
            "  aws sagemaker list-pipelines\n" +
            "Ctrl-C stops it\n",
        );
        const received = await signal;
        process.stderr.write(`stepbox serve: ${received}: stopping\n`);
        await serve.close();
        return EXIT.ok;
      }),
    );
}
