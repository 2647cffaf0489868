/**
 * `stepbox shell <execution> <step>`: a shell in a container made as the step's was, from what the
 * store recorded (its image, code, arguments, config files and channels), in the same sandbox, so
 * the step's function can be run again by hand and looked at. Channels from S3 are downloaded again
 * for the shell, as the engine downloads them for a step.
 */
import { ValidationError } from "../errors.js";
import { stageChannels } from "../engine/input-channels.js";
import { shellImage } from "../runtime/docker/shell-container.js";
import { jobHosts } from "../runtime/docker/step-containers.js";
import type { LocalPipelineSession } from "./local-pipeline-session.js";
import { readStepShellSource, type StepShellSource } from "./step-shell-source.js";

export interface StepShellOptions {
  session: LocalPipelineSession;
  pipelineName: string;
  executionId: string;
  stepName: string;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** A terminal: the shell gets a pseudo-terminal, and a TTY stdin is put in raw mode while it runs. */
  tty: boolean;
  /**
   * Which host of a multi-host step to be: its /opt/ml/input/config/resourceconfig.json says so.
   * @default "algo-1"
   */
  host?: string;
}

/**
 * Starts a shell in a new container with the step's image, /opt/ml (code, arguments, config files,
 * channels) and sandbox, wires it to the given streams, and removes the container (and the channels
 * it downloaded) when the shell exits. Piped commands on stdin work as well as a terminal. Resolves
 * with the shell's exit code.
 */
export async function openStepShell(options: StepShellOptions): Promise<number> {
  const { session, executionId, stepName } = options;
  const source = await readStepShellSource(session, options.pipelineName, executionId, stepName);
  const hosts = jobHosts(source.job.instanceCount);
  const host = options.host ?? hosts[0]!;
  if (!hosts.includes(host)) {
    throw new ValidationError(`step "${stepName}" ran on ${hosts.join(", ")}: it had no host "${host}"`, { hint: `open one of ${hosts.join(", ")}` });
  }
  const image = await shellImage(source.job.image, stepName, session.owner);
  let staged: Awaited<ReturnType<typeof stageChannels>> | undefined;
  try {
    staged = await stageShellChannels(source, options.stderr);
    const request = {
      job: source.job,
      code: source.code,
      arguments: source.arguments,
      channels: staged.channels,
      host,
      hosts,
      storeUri: session.store.uri,
      owner: session.owner,
      notes: source.changed,
    };
    return await image.run(request, options);
  } finally {
    await staged?.release();
  }
}

/**
 * Stages the step's channels with the engine's code: folders are mounted as they are, S3 objects are
 * downloaded into temp folders named for this process, so a sweep removes them if it is killed.
 */
function stageShellChannels(source: StepShellSource, stderr: NodeJS.WritableStream): ReturnType<typeof stageChannels> {
  for (const { name, uri, listing } of source.channels) {
    if (listing) stderr.write(`stepbox shell: downloading input channel "${name}" from ${uri} (${listing.objects} object(s), ${listing.bytes} bytes)\n`);
  }
  // Nothing stops a shell's download but this process ending, which the temp sweep cleans up after.
  return stageChannels(source.channels, new AbortController().signal);
}
