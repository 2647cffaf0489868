import { access, chown, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CONTAINER_PATHS, pathUnder } from "../../container/contract.js";
import { digestOf } from "../../serialization/digest.js";
import { makeVolumeImage, mountVolume, unmountVolume } from "../output-volume.js";
import type { FunctionPayloads } from "../step-runtime.js";
import { writeTrainingJobConfig } from "./training-job-config.js";

/** One host's /opt/ml on this machine, and how it is mounted. */
export interface HostSetup {
  readonly host: string;
  readonly dir: string;
  readonly binds: string[];
  /** The host folders of /opt/ml/model, /opt/ml/output and /opt/ml/checkpoints. */
  readonly writable: string[];
  /**
   * Where the host's volume is mounted when the kernel holds its output limit (the folder that holds
   * all of `writable`); undefined when the runtime has to watch `writable` instead.
   */
  readonly volume: string | undefined;
}

/** What a host's folders and mounts are made from: known before the step's code and arguments are. */
export interface HostLayoutSource {
  readonly channels: ReadonlyArray<{ readonly name: string; readonly hostPath: string }>;
  /** Host folder whose `algo-<i>` subfolders are /opt/ml/checkpoints; it outlives the attempt. */
  readonly checkpointsDir: string;
}

/** What a host's /opt/ml is filled with just before its container starts. */
export interface HostFiles {
  /** The step function's code and arguments, for a job that runs one. */
  readonly function: FunctionPayloads | undefined;
  readonly instanceType: string;
  readonly hyperparameters: Readonly<Record<string, unknown>>;
  readonly channels: ReadonlyArray<{ readonly name: string }>;
}

/** The uid the step runs as: the caller's own, or an unprivileged one when the caller is root. */
export function containerUser(): { uid: number; gid: number } {
  const uid = process.getuid?.() ?? 1000;
  const gid = process.getgid?.() ?? 1000;
  return uid === 0 ? { uid: 1000, gid: 1000 } : { uid, gid };
}

/**
 * Where a path of the container's /opt/ml is in the host folder `dir` that mirrors it: /opt/ml/model
 * and /opt/ml/output (what the step writes) in `dir/writable`, the rest in `dir`.
 */
export function onHost(dir: string, containerPath: string): string {
  const writable = [CONTAINER_PATHS.model, CONTAINER_PATHS.output].some((w) => containerPath === w || containerPath.startsWith(`${w}/`));
  return join(writable ? writableFolder(dir) : dir, pathUnder(CONTAINER_PATHS.root, containerPath));
}

/** The folder of a host's /opt/ml/model and /opt/ml/output, and where its volume is mounted when it has one. */
const writableFolder = (dir: string): string => join(dir, "writable");

/**
 * Makes one host's /opt/ml folders under `workDir` (empty: the files come with `fillHost`) and says
 * how they are mounted. A container can be created on them before the step's inputs are known.
 *
 * With `volumeBytes`, the writable folders (model, output and checkpoints) are made on a volume of
 * that size of the host's own, mounted at `dir/writable`, so that the kernel refuses a write past it.
 * Its image lives in the checkpoints folder, beside the host's checkpoints as they are without one:
 * checkpoints survive the retries of the step, and so does the volume that holds them. Each attempt
 * finds the model and output of the last one gone. A volume that cannot be made fails with an
 * OutputFilesystemError and leaves nothing mounted.
 */
export async function layoutHost(source: HostLayoutSource, workDir: string, host: string, volumeBytes?: number): Promise<HostSetup> {
  const dir = join(workDir, host);
  const at = (containerPath: string): string => onHost(dir, containerPath);
  await Promise.all([
    mkdir(at(CONTAINER_PATHS.inputConfig), { recursive: true }),
    mkdir(at(CONTAINER_PATHS.arguments), { recursive: true }),
    ...source.channels.map((c) => mkdir(join(at(CONTAINER_PATHS.inputData), c.name), { recursive: true })),
    mkdir(at(CONTAINER_PATHS.code), { recursive: true }),
    mkdir(writableFolder(dir), { recursive: true }),
    mkdir(logFolder(dir), { recursive: true }),
  ]);
  const volume = volumeBytes === undefined ? undefined : await mountHostVolume(source.checkpointsDir, host, writableFolder(dir), volumeBytes);
  const checkpoints = volume ? join(volume, "checkpoints") : join(source.checkpointsDir, host);
  const writable = [at(CONTAINER_PATHS.model), at(CONTAINER_PATHS.output), checkpoints];
  try {
    await Promise.all([
      mkdir(at(CONTAINER_PATHS.model), { recursive: true }),
      mkdir(at(CONTAINER_PATHS.outputData), { recursive: true }),
      mkdir(checkpoints, { recursive: true }),
    ]);
    if (process.getuid?.() === 0) {
      const { uid, gid } = containerUser();
      await Promise.all([...writable, at(CONTAINER_PATHS.outputData)].map((w) => chown(w, uid, gid)));
    }
  } catch (error) {
    if (volume) await unmountVolume(volume).catch(() => undefined);
    throw error;
  }
  return {
    host,
    dir,
    writable,
    volume,
    binds: [
      `${at(CONTAINER_PATHS.input)}:${CONTAINER_PATHS.input}:ro`,
      ...source.channels.map((c) => `${c.hostPath}:${CONTAINER_PATHS.inputData}/${c.name}:ro`),
      `${at(CONTAINER_PATHS.code)}:${CONTAINER_PATHS.code}:ro`,
      `${at(CONTAINER_PATHS.model)}:${CONTAINER_PATHS.model}`,
      `${at(CONTAINER_PATHS.output)}:${CONTAINER_PATHS.output}`,
      `${checkpoints}:${CONTAINER_PATHS.checkpoints}`,
    ],
  };
}

/**
 * Mounts the host's volume (made on its first attempt, `<checkpointsDir>/<host>.ext4`) at `mountPoint`
 * and removes the model and output an earlier attempt left on it. Returns the mount point.
 */
async function mountHostVolume(checkpointsDir: string, host: string, mountPoint: string, bytes: number): Promise<string> {
  const image = join(checkpointsDir, `${host}.ext4`);
  await mkdir(checkpointsDir, { recursive: true });
  const made = await access(image).then(
    () => true,
    () => false,
  );
  if (!made) await makeVolumeImage(image, bytes, containerUser());
  await mountVolume(image, mountPoint);
  try {
    await Promise.all(["model", "output"].map((earlier) => rm(join(mountPoint, earlier), { recursive: true, force: true })));
  } catch (error) {
    await unmountVolume(mountPoint).catch(() => undefined);
    throw error;
  }
  return mountPoint;
}

/** Beside the host's /opt/ml folders, never mounted: where its container's output is captured. */
const logFolder = (dir: string): string => join(dir, "logs");

/** The file that holds everything a host's container printed. */
export const hostLogFile = (setup: Pick<HostSetup, "dir">): string => join(logFolder(setup.dir), "stream.log");

/**
 * Writes the code, the arguments (each with its digest) and the config files into a host's laid-out
 * /opt/ml. The folders are bind mounts, so a container created on them before sees the files when it starts.
 */
export async function fillHost(files: HostFiles, setup: HostSetup, hosts: readonly string[]): Promise<void> {
  const at = (containerPath: string): string => onHost(setup.dir, containerPath);
  await Promise.all([
    ...(files.function
      ? [
          writeFile(at(CONTAINER_PATHS.codeBundle), files.function.code),
          writeFile(at(CONTAINER_PATHS.codeMetadata), JSON.stringify(digestOf(files.function.code))),
          writeFile(at(CONTAINER_PATHS.argumentsPayload), files.function.arguments),
          writeFile(at(CONTAINER_PATHS.argumentsMetadata), JSON.stringify(digestOf(files.function.arguments))),
        ]
      : []),
    writeTrainingJobConfig(at(CONTAINER_PATHS.inputConfig), {
      currentHost: setup.host,
      hosts,
      instanceType: files.instanceType,
      hyperparameters: files.hyperparameters,
      channels: files.channels.map((c) => ({ name: c.name })),
    }),
  ]);
}

/**
 * Tells a host's runner to go: the start marker, written once every file of the step is in place. A
 * runner started ahead of its step waits for it (see CONTAINER_ENV.waitForStart); one started after
 * finds it at once.
 */
export async function startHost(setup: HostSetup): Promise<void> {
  await writeFile(onHost(setup.dir, CONTAINER_PATHS.startMarker), "");
}
