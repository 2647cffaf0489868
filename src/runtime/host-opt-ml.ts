import { chown, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CONTAINER_PATHS } from "../container/contract.js";
import { writeTrainingJobConfig } from "./training-job-config.js";

/** One host's /opt/ml on this machine, and how it is mounted. */
export interface HostSetup {
  readonly host: string;
  readonly dir: string;
  readonly binds: string[];
  readonly writable: string[];
}

/** What a host's folders and mounts are made from: known before the step's code and arguments are. */
export interface HostLayoutSource {
  readonly channels: ReadonlyArray<{ readonly name: string; readonly hostPath: string }>;
  /** Host folder whose `algo-<i>` subfolders are /opt/ml/checkpoints; it outlives the attempt. */
  readonly checkpointsDir: string;
}

/** What a host's /opt/ml is filled with just before its container starts. */
export interface HostFiles {
  readonly code: Buffer;
  readonly codeMetadata: string;
  readonly argumentsPayload: Buffer;
  readonly argumentsMetadata: string;
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

const folders = (dir: string) => ({
  input: join(dir, "input"),
  code: join(dir, "code"),
  model: join(dir, "model"),
  output: join(dir, "output"),
});

/**
 * Makes one host's /opt/ml folders under `workDir` (empty: the files come with `fillHost`) and says
 * how they are mounted. A container can be created on them before the step's inputs are known.
 */
export async function layoutHost(source: HostLayoutSource, workDir: string, host: string): Promise<HostSetup> {
  const dir = join(workDir, host);
  const d = { ...folders(dir), checkpoints: join(source.checkpointsDir, host) };
  await Promise.all([
    mkdir(join(d.input, "config"), { recursive: true }),
    mkdir(join(d.input, "stepbox", "arguments"), { recursive: true }),
    ...source.channels.map((c) => mkdir(join(d.input, "data", c.name), { recursive: true })),
    mkdir(d.code, { recursive: true }),
    mkdir(d.model, { recursive: true }),
    mkdir(join(d.output, "data"), { recursive: true }),
    mkdir(d.checkpoints, { recursive: true }),
    mkdir(join(dir, "logs"), { recursive: true }),
  ]);
  if (process.getuid?.() === 0) {
    const { uid, gid } = containerUser();
    await Promise.all([d.model, d.output, join(d.output, "data"), d.checkpoints].map((w) => chown(w, uid, gid)));
  }
  return {
    host,
    dir,
    writable: [d.model, d.output, d.checkpoints],
    binds: [
      `${d.input}:/opt/ml/input:ro`,
      ...source.channels.map((c) => `${c.hostPath}:${CONTAINER_PATHS.inputData}/${c.name}:ro`),
      `${d.code}:${CONTAINER_PATHS.code}:ro`,
      `${d.model}:${CONTAINER_PATHS.model}`,
      `${d.output}:${CONTAINER_PATHS.output}`,
      `${d.checkpoints}:${CONTAINER_PATHS.checkpoints}`,
    ],
  };
}

/**
 * Writes the code, the arguments and the config files into a host's laid-out /opt/ml. The folders are
 * bind mounts, so a container created on them before sees the files when it starts.
 */
export async function fillHost(files: HostFiles, setup: HostSetup, hosts: readonly string[]): Promise<void> {
  const d = folders(setup.dir);
  await Promise.all([
    writeFile(join(d.code, "code.mjs"), files.code),
    writeFile(join(d.code, "metadata.json"), files.codeMetadata),
    writeFile(join(d.input, "stepbox", "arguments", "payload.bin"), files.argumentsPayload),
    writeFile(join(d.input, "stepbox", "arguments", "metadata.json"), files.argumentsMetadata),
    writeTrainingJobConfig(join(d.input, "config"), {
      currentHost: setup.host,
      hosts,
      instanceType: files.instanceType,
      hyperparameters: files.hyperparameters,
      channels: files.channels.map((c) => ({ name: c.name })),
    }),
  ]);
}
