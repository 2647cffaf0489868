import type { Command } from "commander";
import type { EcrLogin } from "../../cloud/ecr-login.js";
import { action, examples } from "../action.js";
import { cliLogger } from "../engine-log.js";
import { EXIT } from "../errors.js";

interface PushOptions {
  tag?: string;
  baseImage?: string;
  verbose?: boolean;
}

export function imageCommand(program: Command): void {
  const image = program
    .command("image")
    .summary("the runtime image steps run in")
    .description("The runtime image steps run in: build it and push it to a registry.");
  image
    .command("push <repository-uri>")
    .summary("build the runtime image and push it to a registry; prints <repository>@sha256:<digest>")
    .description(
      "Build the runtime image as `stepbox run` does (on --base-image, else on STEPBOX_BASE_IMAGE, else on an image made from this machine's node) and push it to <repository-uri>, host[:port]/path. " +
        "Prints the pushed reference with its digest on stdout, the one line a PipelineSession's imageUri (or STEPBOX_IMAGE_URI) takes; progress goes to stderr. " +
        "An Amazon ECR repository (<account>.dkr.ecr.<region>.amazonaws.com/...) is logged in to with the AWS SDK's credentials (AWS_ENDPOINT_URL_ECR is honoured); " +
        "any other registry is pushed to without a login. Docker's own config (docker login) is not read.",
    )
    .option("--tag <tag>", "the tag to push under (default: the runtime image's content hash)")
    .option(
      "--base-image <ref>",
      "the image to build on, with node at /usr/local/bin/node (default: $STEPBOX_BASE_IMAGE, else one made from this machine's node)",
    )
    .option("--verbose", "show every layer pushed, and the stack trace of an error")
    .addHelpText(
      "after",
      examples(
        "stepbox image push 123456789012.dkr.ecr.us-east-1.amazonaws.com/stepbox",
        "export STEPBOX_IMAGE_URI=$(stepbox image push 127.0.0.1:5000/stepbox --tag dev)",
      ),
    )
    .action(
      action(async (uri: string, options: PushOptions) => {
        // Loaded on first use, as the other commands' own modules are: `stepbox --help` needs neither dockerode nor the AWS SDK.
        const [{ parseRepositoryUri, pushTag, ecrRegistry }, { pushRuntimeImage }] = await Promise.all([
          import("../../runtime/registry-repository.js"),
          import("../../runtime/docker/image-push.js"),
        ]);
        // The URI and tag are checked before anything is asked of AWS or built.
        const repository = parseRepositoryUri(uri);
        const tag = pushTag(repository, options.tag);
        const ecr = ecrRegistry(repository.host);
        const logger = cliLogger({ message: (line) => process.stderr.write(`${line}\n`), imageActivity: () => undefined }, options.verbose === true);
        let login: EcrLogin | undefined;
        if (ecr) {
          const { ecrLogin } = await import("../../cloud/ecr-login.js");
          process.stderr.write(`logging in to ECR (account ${ecr.accountId}, ${ecr.region})...\n`);
          login = await ecrLogin(ecr);
        }
        const pushed = await pushRuntimeImage({ repository, tag, baseImage: options.baseImage, login, logger });
        // What cloud sessions on this machine name from now on, unless told another image.
        const [{ rememberPushedImage, pushedImageFile }, { stepboxPackage }] = await Promise.all([
          import("../../cloud/pushed-image.js"),
          import("../../runtime/package-manifest.js"),
        ]);
        await rememberPushedImage({ reference: pushed.reference, stepboxVersion: (await stepboxPackage()).version, pushedAt: new Date().toISOString() });
        process.stderr.write(`cloud sessions and stepbox deploy on this machine now use it (remembered in ${pushedImageFile()})\n`);
        process.stdout.write(`${pushed.reference}\n`);
        return EXIT.ok;
      }),
    );
}
