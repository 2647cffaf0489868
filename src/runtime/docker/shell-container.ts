/**
 * The container of `stepbox shell`: made as a step's was (its image, /opt/ml, labels, user and
 * sandbox) from the step's job record, with a shell in place of the runner, attached to the caller's
 * streams, and removed with its work folder when the shell exits.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { StepboxError } from "../../errors.js";
import type { InputChannel, JobRecord } from "../step-runtime.js";
import { tempFolderPrefix } from "../temp-paths.js";
import { connectDocker, engineError } from "./docker-engine.js";
import { fillHost, layoutHost, startHost } from "./host-opt-ml.js";
import { shellHint } from "./shell-hint.js";
import { imageShell, type ImageShell } from "./shell-tools.js";
import { containerCreateOptions } from "./step-containers.js";

/** Where the shell's input comes from and its output goes. */
export interface ShellStreams {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** A terminal: the shell gets a pseudo-terminal, and a TTY stdin is put in raw mode while it runs. */
  readonly tty: boolean;
}

/** What the shell's container is made of: the step's job and its files, as one host of it. */
export interface ShellRequest {
  readonly job: JobRecord;
  readonly code: Buffer;
  readonly arguments: Buffer;
  /** The step's channels, staged again for the shell. */
  readonly channels: ReadonlyArray<Pick<InputChannel, "name" | "hostPath">>;
  readonly host: string;
  readonly hosts: readonly string[];
  /** Marks for the sweeps, as a step's containers carry. */
  readonly storeUri: string;
  readonly owner: string;
  /** Lines printed above the shell's own hint (warnings about the channels). */
  readonly notes: readonly string[];
}

/** A shell's image, checked: it exists on the engine, and a shell can start in it. */
export interface ShellImage {
  /** Makes the container, prints where the shell stands, and runs it attached; resolves with its exit code. */
  run(request: ShellRequest, streams: ShellStreams): Promise<number>;
}

/**
 * Checks the image a step ran in before anything is staged for a shell into it: it must still be on
 * the engine, and hold a shell (or take this machine's).
 */
export async function shellImage(image: string, stepName: string, owner: string): Promise<ShellImage> {
  const docker = await connectDocker();
  const rerun = await entrypoint(docker, image, stepName);
  const shell = await imageShell(docker, image, owner);
  return { run: (request, streams) => runShell(docker, shell, rerun, request, streams) };
}

async function runShell(docker: Docker, shell: ImageShell, rerun: string, request: ShellRequest, streams: ShellStreams): Promise<number> {
  const { job } = request;
  const workDir = await mkdtemp(join(tmpdir(), tempFolderPrefix("shell")));
  let container: Docker.Container | undefined;
  try {
    const checkpointsDir = join(workDir, "checkpoints");
    const setup = await layoutHost({ channels: request.channels, checkpointsDir }, workDir, request.host);
    await fillHost(
      {
        function: { code: request.code, arguments: request.arguments },
        instanceType: job.instanceType,
        hyperparameters: job.hyperparameters,
        channels: request.channels,
      },
      setup,
      request.hosts,
    );
    // The runner, run again from the shell, finds its start marker as in the step's own container.
    await startHost(setup);
    const step = containerCreateOptions({ ...job, storeUri: request.storeUri, owner: request.owner }, setup, undefined);
    try {
      container = await docker.createContainer({
        ...step,
        name: `stepbox-shell-${job.executionId}-${job.stepName}-${randomBytes(3).toString("hex")}`.slice(0, 120),
        Entrypoint: [shell.path],
        Cmd: [],
        Tty: streams.tty,
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: { ...step.HostConfig, Binds: [...(step.HostConfig?.Binds ?? []), ...shell.binds] },
      });
    } catch (error) {
      throw engineError(`to create a shell container for step "${job.stepName}"`, error);
    }
    streams.stderr.write(request.notes.map((n) => `${n}\n`).join("") + shellHint({ ...job, channels: [...request.channels] }, setup.host, rerun));
    return await runAttached(container, streams);
  } finally {
    await container?.remove({ force: true, v: true }).catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
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
async function runAttached(container: Docker.Container, options: ShellStreams): Promise<number> {
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
