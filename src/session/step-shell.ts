/**
 * `stepbox shell <execution> <step>`: a shell in a container made as the step's was, from what the
 * store recorded (its image, code, arguments, config files and channels), in the same sandbox, so
 * the step's function can be run again by hand and looked at. Channels from S3 are downloaded again
 * for the shell, as the engine downloads them for a step.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { StepboxError, ValidationError } from "../errors.js";
import { stageChannels } from "../engine/input-channels.js";
import { engineError } from "../runtime/docker-engine.js";
import { DockerStepRunner, jobHosts, type HostSetup } from "../runtime/docker-step-runner.js";
import { shellHint } from "../runtime/shell-hint.js";
import { imageShell } from "../runtime/shell-tools.js";
import { tempFolderPrefix } from "../runtime/temp-paths.js";
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
  const { docker } = await session.runtime();
  const rerun = await entrypoint(docker, source.job.image, stepName);
  const shell = await imageShell(docker, source.job.image, session.owner);
  const workDir = await mkdtemp(join(tmpdir(), tempFolderPrefix("shell")));
  let container: Docker.Container | undefined;
  let staged: Awaited<ReturnType<typeof stageChannels>> | undefined;
  try {
    staged = await stageShellChannels(source, options.stderr);
    const { channels } = staged;
    const setup = await DockerStepRunner.prepareHost({ ...source.contents, channels, checkpointsDir: join(workDir, "checkpoints") }, workDir, host, hosts);
    try {
      container = await docker.createContainer(shellContainerOptions(options, source, setup, shell));
    } catch (error) {
      throw engineError(`to create a shell container for step "${stepName}"`, error);
    }
    options.stderr.write(source.changed.map((w) => `${w}\n`).join("") + shellHint({ ...source.job, channels }, setup.host, rerun));
    return await runAttached(container, options);
  } finally {
    await container?.remove({ force: true, v: true }).catch(() => undefined);
    await staged?.release();
    await rm(workDir, { recursive: true, force: true });
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

/** The step's own container options (labels, user, environment and sandbox), with the shell in place of the runner. */
function shellContainerOptions(options: StepShellOptions, source: StepShellSource, setup: HostSetup, shell: { path: string; binds: readonly string[] }): Docker.ContainerCreateOptions {
  const { session } = options;
  const step = DockerStepRunner.containerOptions(
    // The key goes into the shell's environment so the runner, run by hand, can verify the code and arguments.
    { ...source.job, secretKeyHex: source.key.toString("hex"), storeUri: session.store.uri, owner: session.owner },
    setup,
    undefined,
  );
  return {
    ...step,
    name: `stepbox-shell-${options.executionId}-${options.stepName}-${randomBytes(3).toString("hex")}`.slice(0, 120),
    Entrypoint: [shell.path],
    Cmd: [],
    Tty: options.tty,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: { ...step.HostConfig, Binds: [...(step.HostConfig?.Binds ?? []), ...shell.binds] },
  };
}

/** The command the step's container ran: the image's entry point, the stepbox runner. */
async function entrypoint(docker: Docker, image: string, stepName: string): Promise<string> {
  try {
    const config = (await docker.getImage(image).inspect()).Config as { Entrypoint?: string[] | null };
    return (config.Entrypoint ?? []).join(" ");
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw engineError(`to inspect the image ${image}`, error);
    throw new StepboxError("NOT_FOUND", `the image ${image} that step "${stepName}" ran in is no longer on this Docker engine`, {
      cause: error,
      hint: "run the pipeline again: the runtime image is rebuilt, and the new execution can be opened",
    });
  }
}

type RawModeStream = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** Starts the container attached to the streams; resolves with its exit code once its output is all written. */
async function runAttached(container: Docker.Container, options: StepShellOptions): Promise<number> {
  const { stdin, stdout, stderr, tty } = options;
  let stream: NodeJS.ReadWriteStream;
  try {
    stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as NodeJS.ReadWriteStream;
  } catch (error) {
    throw engineError("to attach to the shell container", error);
  }
  stream.on("error", () => {
    // Input that arrives after the shell exited has nowhere to go; the exit code says how it ended.
  });
  const outputDone = new Promise<void>((resolve) => {
    stream.once("end", resolve);
    stream.once("close", resolve);
  });
  if (tty) stream.pipe(stdout, { end: false });
  else container.modem.demuxStream(stream, stdout, stderr);

  const raw = stdin as RawModeStream;
  const rawMode = tty && raw.isTTY === true && typeof raw.setRawMode === "function";
  const resize = (): void => {
    const { columns, rows } = stdout as { columns?: number; rows?: number };
    if (columns && rows) container.resize({ w: columns, h: rows }).catch(() => undefined);
  };
  try {
    try {
      await container.start();
    } catch (error) {
      throw engineError("to start the shell container", error);
    }
    if (rawMode) raw.setRawMode!(true);
    if (tty) {
      resize();
      stdout.on("resize", resize);
    }
    // Piped: the end of stdin closes the shell's stdin, so the commands run and the shell exits. On a
    // terminal, Ctrl-D reaches the pseudo-terminal as a byte and ends the shell; closing the attach
    // stream early would cut off the output still to come.
    stdin.pipe(stream, { end: !tty });
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    await outputDone;
    return StatusCode;
  } finally {
    stdin.unpipe(stream);
    // A terminal's stdin would otherwise keep the process alive after the shell ended.
    stdin.pause();
    stdout.removeListener("resize", resize);
    if (rawMode) raw.setRawMode!(false);
  }
}
