import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type Docker from "dockerode";
import { build } from "esbuild";
import tar from "tar-fs";
import { ImageBuildError } from "../errors.js";
import { engineError } from "./docker-engine.js";
import { LABEL, managedLabels } from "./labels.js";

export interface RuntimeImage {
  readonly tag: string;
  readonly id: string;
  readonly baseImage: string;
}

export interface RuntimeImageOptions {
  /** The runner's source. @default src/container/runner.ts (dist/src/container/runner.js when installed) */
  runnerEntry?: string;
  /** @default STEPBOX_BASE_IMAGE, else one imported from this machine's node */
  baseImage?: string;
  logger?: { info(obj: object, msg?: string): void };
}

const HERE = dirname(fileURLToPath(import.meta.url));

async function firstExisting(paths: readonly string[], what: string): Promise<string> {
  for (const path of paths) if (await stat(path).then(() => true, () => false)) return path;
  throw new ImageBuildError(`cannot find ${what} (looked in ${paths.join(", ")})`, { hint: "reinstall stepbox; the package is incomplete" });
}

/** The package root: where runtime-image/ is, from src/runtime or dist/src/runtime alike. */
async function packageFile(...parts: string[]): Promise<string> {
  return firstExisting([join(HERE, "..", "..", ...parts), join(HERE, "..", "..", "..", ...parts)], parts.join("/"));
}

async function bundleRunner(entry: string): Promise<Buffer> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: "node",
    format: "esm",
    target: "node20",
    legalComments: "none",
    logLevel: "silent",
    banner: { js: 'import { createRequire as __stepboxCreateRequire } from "node:module"; const require = __stepboxCreateRequire(import.meta.url);' },
  });
  return Buffer.from(result.outputFiles[0]!.contents);
}

async function imageId(docker: Docker, tag: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(tag).inspect()).Id;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw engineError(`to inspect image ${tag}`, error);
  }
}

function followBuild(docker: Docker, stream: NodeJS.ReadableStream, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    docker.modem.followProgress(
      stream,
      (error: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        const failed = error?.message ?? output.find((o) => o.error || o.errorDetail)?.error;
        if (failed) reject(new ImageBuildError(`building ${what} failed: ${failed}\n  ${lines.slice(-8).join("\n  ")}`));
        else resolve();
      },
      (event: { stream?: string; status?: string }) => {
        const line = (event.stream ?? event.status ?? "").trim();
        if (line) lines.push(line);
      },
    );
  });
}

/** The libraries `ldd` lists for a binary, the dynamic loader included. */
async function linkedLibraries(binary: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)("ldd", [binary]));
  } catch (cause) {
    throw new ImageBuildError(`cannot list the libraries of ${binary} with ldd`, {
      cause,
      hint: "install libc-bin, or set STEPBOX_BASE_IMAGE to an image with node at /usr/local/bin/node",
    });
  }
  const libraries: string[] = [];
  for (const line of stdout.split("\n")) {
    const linked = /=>\s*(\/\S+)/.exec(line);
    const loader = /^\s*(\/\S+)\s+\(0x/.exec(line);
    const path = linked?.[1] ?? loader?.[1];
    if (path) libraries.push(path);
  }
  return libraries;
}

/**
 * Makes the base image with no registry: a root filesystem of this machine's node binary and the
 * libraries it links, imported through the Docker API.
 */
async function ensureImportedBase(docker: Docker, log: RuntimeImageOptions["logger"]): Promise<string> {
  const node = process.execPath;
  const libraries = await linkedLibraries(node);
  const hash = createHash("sha256");
  for (const file of [node, ...libraries]) hash.update(file).update(String((await stat(file)).size));
  const tag = `stepbox-base:node-${process.version.slice(1)}-${hash.digest("hex").slice(0, 12)}`;
  if (await imageId(docker, tag)) return tag;

  log?.info({ event: "image.base-build", tag }, "building the base image from this machine's node");
  const root = await mkdtemp(join(tmpdir(), "stepbox-rootfs-"));
  try {
    for (const [from, to] of [[node, "/usr/local/bin/node"], ...libraries.map((l) => [l, l])] as const) {
      await mkdir(join(root, dirname(to)), { recursive: true });
      await copyFile(from, join(root, to));
    }
    await mkdir(join(root, "etc"), { recursive: true });
    await mkdir(join(root, "tmp"), { recursive: true, mode: 0o1777 });
    await writeFile(join(root, "etc", "passwd"), "root:x:0:0:root:/root:/usr/sbin/nologin\n");
    await writeFile(join(root, "etc", "group"), "root:x:0:\n");
    await writeFile(join(root, "etc", "nsswitch.conf"), "hosts: files dns\n");
    const [repo, version] = tag.split(":") as [string, string];
    let stream: NodeJS.ReadableStream;
    try {
      stream = await docker.importImage(tar.pack(root) as unknown as string, { repo, tag: version });
    } catch (error) {
      throw engineError(`to import the base image ${tag}`, error);
    }
    await followBuild(docker, stream, `the base image ${tag}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  if (!(await imageId(docker, tag))) throw new ImageBuildError(`the base image ${tag} was imported but cannot be found`);
  return tag;
}

/**
 * The runtime image every step runs in, built on first use and again only when its inputs change:
 * the Dockerfile, the runner bundle and the base image, hashed into its tag.
 */
export async function ensureRuntimeImage(docker: Docker, options: RuntimeImageOptions = {}): Promise<RuntimeImage> {
  const runnerEntry = options.runnerEntry ?? (await firstExisting([join(HERE, "..", "container", "runner.ts"), join(HERE, "..", "container", "runner.js")], "the container runner"));
  const dockerfilePath = await packageFile("runtime-image", "Dockerfile");
  const [dockerfile, runner] = await Promise.all([readFile(dockerfilePath), bundleRunner(runnerEntry)]);
  const requestedBase = options.baseImage ?? process.env.STEPBOX_BASE_IMAGE;
  const baseImage = requestedBase ?? (await ensureImportedBase(docker, options.logger));
  const baseId = await imageId(docker, baseImage);
  if (!baseId) {
    throw new ImageBuildError(`the base image ${baseImage} is not on this machine`, {
      hint: `pull it first (docker pull ${baseImage}) or unset STEPBOX_BASE_IMAGE to build one from this machine's node`,
    });
  }
  const contentHash = createHash("sha256").update(dockerfile).update(runner).update(baseId).digest("hex").slice(0, 16);
  const tag = `stepbox-runtime:${contentHash}`;
  const existing = await imageId(docker, tag);
  if (existing) return { tag, id: existing, baseImage };

  options.logger?.info({ event: "image.build", tag }, "building the runtime image");
  const context = await mkdtemp(join(tmpdir(), "stepbox-image-"));
  try {
    await writeFile(join(context, "Dockerfile"), dockerfile);
    await writeFile(join(context, "runner.mjs"), runner);
    let stream: NodeJS.ReadableStream;
    try {
      stream = await docker.buildImage(tar.pack(context) as unknown as NodeJS.ReadableStream, {
        t: tag,
        buildargs: { BASE_IMAGE: baseImage },
        labels: managedLabels({ [LABEL.contentHash]: contentHash }),
        rm: true,
        forcerm: true,
      });
    } catch (error) {
      throw engineError(`to build the runtime image ${tag}`, error);
    }
    await followBuild(docker, stream, `the runtime image ${tag}`);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  const id = await imageId(docker, tag);
  if (!id) throw new ImageBuildError(`the runtime image ${tag} was built but cannot be found`);
  return { tag, id, baseImage };
}
