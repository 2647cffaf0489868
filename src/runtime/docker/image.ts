import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, open, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type Docker from "dockerode";
import tar from "tar-fs";
import { ContainerEngineError, ImageBuildError } from "../../errors.js";
import { engineError, isEngineUnreachable } from "./docker-engine.js";
import { LABEL, managedLabels } from "./labels.js";
import { bundleRunner } from "../bundle-runner.js";
import { stepboxPackage } from "../package-manifest.js";
import { tempFolderPrefix } from "../temp-paths.js";

/** The image steps run in, ready on the engine. */
export interface RuntimeImage {
  /** `stepbox-runtime:<content hash>`: what containers are created from. */
  readonly tag: string;
  /** The image's id (`sha256:...`); changes whenever anything in the image changes. */
  readonly id: string;
  /** The reference the image was built `FROM`. */
  readonly baseImage: string;
}

export interface RuntimeImageOptions {
  /**
   * The module that becomes the image's entry point, bundled with everything it imports.
   * @default the engine's container runner, src/container/runner.ts (dist/src/container/runner.js when compiled).
   *   The cloud job's S3 module, src/container/job-s3.ts, is bundled beside it in any case.
   */
  runnerEntry?: string;
  /**
   * An image with node at /usr/local/bin/node to build on; pulled when it is not on the engine.
   * @default process.env.STEPBOX_BASE_IMAGE, else on Linux `stepbox-base:node-<version>-<hash>`, imported
   *   from this machine's node (offline); elsewhere `node:<major>-bookworm-slim` (see {@link defaultBaseImage})
   * @example "node:20-bookworm-slim"
   */
  baseImage?: string;
  /** Told when an image is built, imported or pulled, which takes seconds, and why a base is pulled. @default silent */
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/** The node that runs stepbox, as far as the choice of a base image goes. */
export interface HostNode {
  /** `process.platform` */
  readonly platform: NodeJS.Platform;
  /** `process.arch` */
  readonly arch: string;
  /** The major version: 20 for v20.11.1. */
  readonly major: number;
  /** Whether the node binary is an ELF executable, which a Linux container can run. */
  readonly elf: boolean;
}

/** What the runtime image is built on when no base image is asked for. */
export type DefaultBaseImage = { readonly from: "host-node" } | { readonly from: "registry"; readonly reference: string; readonly reason: string };

type Logger = NonNullable<RuntimeImageOptions["logger"]>;

const RUNTIME_REPOSITORY = "stepbox-runtime";
const BASE_REPOSITORY = "stepbox-base";
const NODE_IN_IMAGE = "/usr/local/bin/node";
/** The imported base's only accounts: root runs the Dockerfile's RUN, which adds stepbox. */
const BASE_PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const BASE_GROUP = "root:x:0:\nnogroup:x:65534:\n";
const BUILD_HINT = `check runtime-image/Dockerfile, and that the base image has node at ${NODE_IN_IMAGE}`;
const BASE_HINT = "unset STEPBOX_BASE_IMAGE to build on an image made from this machine's node";
const REGISTRY_BASE_HINT = `set STEPBOX_BASE_IMAGE to an image on this machine with node at ${NODE_IN_IMAGE}`;

/** Of each line of build output that an error quotes. */
const MAX_LINE = 160;

const THIS_FILE = fileURLToPath(import.meta.url);

/** A module of the container runner of this build: src/container/<name>.ts for image.ts, its .js for image.js. */
function containerModule(name: string): string {
  return join(dirname(THIS_FILE), "..", "..", "container", `${name}${extname(THIS_FILE)}`);
}

/**
 * The tag's hash: 16 hex digits of sha256 over the Dockerfile, the runner bundle, the cloud job's S3
 * module and the base image's id. Each part is length-prefixed so that no two different inputs hash alike.
 */
function runtimeImageContentHash(inputs: { dockerfile: Uint8Array; runner: Uint8Array; jobS3: Uint8Array; baseImageId: string }): string {
  const hash = createHash("sha256");
  for (const part of [inputs.dockerfile, inputs.runner, inputs.jobS3, Buffer.from(inputs.baseImageId)]) {
    hash.update(`${part.byteLength}:`).update(part);
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * A dockerode failure while `action` (a gerund: "listing images"): the engine's absence is a
 * ContainerEngineError, anything else an image build failure.
 */
function imageFailure(action: string, cause: unknown): Error {
  if (isEngineUnreachable(cause)) return engineError(action, cause);
  const message = (cause as { json?: { message?: string } } | undefined)?.json?.message ?? String((cause as Error)?.message ?? cause);
  return new ImageBuildError(`${action} failed: ${message}`, { cause });
}

/** `name` as the engine lists it in RepoTags: with its tag, `latest` when it names none. */
function withTag(reference: string): string {
  return /:[^/]*$/.test(reference) || reference.includes("@") ? reference : `${reference}:latest`;
}

async function inspectId(docker: Docker, reference: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(reference).inspect()).Id;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw imageFailure(`inspecting the image ${reference}`, error);
  }
}

/** Follows a build, import or pull stream (`what` is a gerund); an error event fails it with the stream's last lines. */
function followStream(docker: Docker, stream: NodeJS.ReadableStream, what: string): Promise<void> {
  const lines: string[] = [];
  let failure: string | undefined;
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => {
        if (error && isEngineUnreachable(error)) reject(engineError(what, error));
        else if (error || failure !== undefined) {
          const tail = lines.slice(-10).join("\n  ");
          reject(
            new ImageBuildError(`${what} failed: ${failure ?? error?.message}${tail ? `\n  ${tail}` : ""}`, { cause: error ?? undefined, hint: BUILD_HINT }),
          );
        } else resolve();
      },
      (event: { stream?: string; status?: string; error?: string; errorDetail?: { message?: string } }) => {
        if (event.errorDetail || event.error !== undefined) failure ??= event.errorDetail?.message ?? event.error ?? "unknown error";
        const text = (event.stream ?? event.status ?? "").trimEnd();
        // A RUN step echoes its whole command: keep enough of each line to recognise it.
        if (text) lines.push(...text.split("\n").map((line) => (line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}...` : line)));
      },
    );
  });
}

/**
 * The base when none is asked for. On Linux, an image made from this machine's own node binary and the
 * libraries it links: no registry, no network, the very node that runs stepbox. A node that a Linux
 * container cannot run (macOS, Windows: Docker runs a Linux VM there) gives way to the official
 * `node:<major>-bookworm-slim`, pulled once.
 */
export function defaultBaseImage(host: HostNode): DefaultBaseImage {
  if (host.platform === "linux" && host.elf) return { from: "host-node" };
  const reference = `node:${host.major}-bookworm-slim`;
  const binary = host.platform === "linux" ? "not an ELF executable" : `a ${host.platform}/${host.arch} executable`;
  return { from: "registry", reference, reason: `this machine's node is ${binary}, which a Linux container cannot run` };
}

/** Whether a file starts with ELF's magic number. */
async function isElf(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    await handle.close();
  }
}

/** This process's node, for {@link defaultBaseImage}. */
async function hostNode(): Promise<HostNode> {
  const major = Number(process.versions.node.split(".")[0]);
  return { platform: process.platform, arch: process.arch, major, elf: await isElf(process.execPath) };
}

/** The tag of the base made from this machine's node; cheap, so a warm start spawns nothing. */
async function importedBaseTag(): Promise<string> {
  const node = await stat(process.execPath);
  const identity = [process.execPath, node.size, node.mtimeMs, node.ino, process.arch, BASE_PASSWD, BASE_GROUP].join("\n");
  const hash = createHash("sha256").update(identity).digest("hex").slice(0, 12);
  return `${BASE_REPOSITORY}:node-${process.version}-${hash}`;
}

/** The paths of the shared libraries in `ldd`'s output, the dynamic loader included. */
export function parseLdd(output: string): string[] {
  const paths = new Set<string>();
  for (const line of output.split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", or "=> not found".
    const linked = /=>\s*(.*?)\s*(?:\(0x[0-9a-f]+\))?$/.exec(line);
    if (linked) {
      const target = linked[1] ?? "";
      if (target === "not found") {
        throw new ImageBuildError(`node needs ${line.trim().split(/\s/)[0]}, which this machine does not have`, { hint: BASE_HINT });
      }
      if (target.startsWith("/")) paths.add(target);
      continue;
    }
    // The loader, "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vdso has no path and is skipped.
    const loader = /^\s*(\/\S+)\s+\(0x[0-9a-f]+\)\s*$/.exec(line);
    if (loader?.[1]) paths.add(loader[1]);
  }
  return [...paths];
}

/** The shared libraries a binary of this machine links, by path; none for a static one. */
export async function linkedLibraries(binary: string): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)("ldd", [binary]);
    return parseLdd(stdout);
  } catch (cause) {
    if (cause instanceof ImageBuildError) throw cause;
    const output = `${(cause as { stdout?: string }).stdout ?? ""}${(cause as { stderr?: string }).stderr ?? ""}`;
    if (/not a dynamic executable|statically linked/.test(output)) return [];
    throw new ImageBuildError(`cannot list the libraries of ${binary} with ldd`, {
      cause,
      hint: `install ldd (Debian: libc-bin), or set STEPBOX_BASE_IMAGE to an image with node at ${NODE_IN_IMAGE}`,
    });
  }
}

/**
 * Lays out the base's root file system as symlinks to this machine's files, so nothing is copied:
 * packing dereferences them into plain files at the paths ldd printed.
 */
async function layOutRootfs(root: string, libraries: readonly string[]): Promise<void> {
  for (const [target, inImage] of [[process.execPath, NODE_IN_IMAGE], ...libraries.map((l) => [l, l] as const)] as const) {
    await mkdir(join(root, dirname(inImage)), { recursive: true });
    await symlink(target, join(root, inImage));
  }
  await mkdir(join(root, "etc"));
  await writeFile(join(root, "etc", "passwd"), BASE_PASSWD);
  await writeFile(join(root, "etc", "group"), BASE_GROUP);
  await mkdir(join(root, "tmp"));
}

/** tar-fs 3 packs into a streamx stream, which pipes like a Node stream; @types/tar-fs still describes tar-fs 2. */
function asNodeStream(pack: tar.Pack): NodeJS.ReadableStream {
  return pack as unknown as NodeJS.ReadableStream;
}

function packRootfs(root: string): NodeJS.ReadableStream {
  const pack = tar.pack(root, {
    dereference: true,
    map: (header) => ({
      ...header,
      uid: 0,
      gid: 0,
      mode: header.type === "directory" ? (header.name === "tmp" ? 0o1777 : 0o755) : header.mode,
    }),
  });
  return asNodeStream(pack);
}

/** Imports a base image of this machine's node and the libraries it links; there is no registry to pull one from. */
async function importBase(docker: Docker, tag: string, logger: Logger | undefined): Promise<string> {
  const started = Date.now();
  logger?.info({ event: "image.base.import", tag }, "making the base image from this machine's node");
  const libraries = await linkedLibraries(process.execPath);
  const [repo, version] = [tag.slice(0, tag.lastIndexOf(":")), tag.slice(tag.lastIndexOf(":") + 1)];
  const root = await mkdtemp(join(tmpdir(), tempFolderPrefix("rootfs")));
  try {
    await layOutRootfs(root, libraries);
    const changes = [`ENV PATH=/usr/local/bin:/usr/bin:/bin`, ...Object.entries(managedLabels()).map(([key, value]) => `LABEL ${key}=${value}`)];
    let stream: NodeJS.ReadableStream;
    try {
      stream = await docker.importImage(packRootfs(root), { repo, tag: version, changes });
    } catch (error) {
      throw imageFailure(`importing the base image ${tag}`, error);
    }
    await followStream(docker, stream, `importing the base image ${tag}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const id = await inspectId(docker, tag);
  if (!id) throw new ImageBuildError(`the base image ${tag} was imported but the engine does not know it`, { hint: BASE_HINT });
  logger?.info({ event: "image.base.imported", tag, id, durationMs: Date.now() - started }, "base image ready");
  return id;
}

async function pullBase(docker: Docker, reference: string, logger: Logger | undefined, hint = BASE_HINT): Promise<string> {
  logger?.info({ event: "image.base.pull", reference }, `pulling the base image ${reference}`);
  try {
    await followStream(docker, await docker.pull(reference), `pulling the base image ${reference}`);
  } catch (cause) {
    if (cause instanceof ContainerEngineError) throw cause;
    if (isEngineUnreachable(cause)) throw engineError(`pulling the base image ${reference}`, cause);
    throw new ImageBuildError(`the base image ${reference} is not on this machine and cannot be pulled`, {
      cause,
      hint: `pull or load it yourself (docker pull ${reference}), or ${hint}`,
    });
  }
  const id = await inspectId(docker, reference);
  if (!id) throw new ImageBuildError(`the base image ${reference} was pulled but the engine does not know it`, { hint });
  return id;
}

/** Pulls the default base where this machine's node cannot be imported, saying why: it needs the network, once. */
function pullRegistryBase(docker: Docker, base: { reference: string; reason: string }, logger: Logger | undefined): Promise<string> {
  logger?.warn(
    { event: "image.base.registry", reference: base.reference, reason: base.reason },
    `${base.reason}: the runtime image is built on ${base.reference}, pulled once (set STEPBOX_BASE_IMAGE to use another)`,
  );
  return pullBase(docker, base.reference, logger, REGISTRY_BASE_HINT);
}

/** The files of the build context, by name: the Dockerfile, runner.mjs and job-s3.mjs. */
type BuildContextFiles = Readonly<Record<"Dockerfile" | "runner.mjs" | "job-s3.mjs", Buffer>>;

/** Packs the build context, with fixed metadata so equal inputs make equal tars. */
async function withBuildContext<T>(files: BuildContextFiles, use: (context: NodeJS.ReadableStream) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), tempFolderPrefix("image")));
  try {
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
    const context = tar.pack(dir, {
      entries: Object.keys(files),
      map: (header) => ({ ...header, uid: 0, gid: 0, mode: 0o644, mtime: new Date(0) }),
    });
    return await use(asNodeStream(context));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function buildRuntime(
  docker: Docker,
  inputs: { tag: string; contentHash: string; baseImage: string; baseImageId: string; files: BuildContextFiles },
  logger: Logger | undefined,
): Promise<string> {
  const started = Date.now();
  logger?.info({ event: "image.build", tag: inputs.tag, baseImage: inputs.baseImage }, "building the runtime image");
  await withBuildContext(inputs.files, async (context) => {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await docker.buildImage(context, {
        t: inputs.tag,
        // By id: the tag may have moved since it was hashed (a concurrent import or pull).
        buildargs: { BASE_IMAGE: inputs.baseImageId },
        labels: managedLabels({ [LABEL.contentHash]: inputs.contentHash }),
        rm: true,
        forcerm: true,
      });
    } catch (error) {
      throw imageFailure(`building the runtime image ${inputs.tag}`, error);
    }
    await followStream(docker, stream, `building the runtime image ${inputs.tag}`);
  });
  const id = await inspectId(docker, inputs.tag);
  if (!id) throw new ImageBuildError(`the runtime image ${inputs.tag} was built but the engine does not know it`, { hint: BUILD_HINT });
  logger?.info({ event: "image.built", tag: inputs.tag, id, durationMs: Date.now() - started }, "runtime image ready");
  return id;
}

/**
 * Makes sure the image steps run in exists, and says which it is. Its tag hashes the Dockerfile, the
 * runner bundle and the base image's id, so it is built on first use and again only when one of
 * them changes. When it exists this costs one request to the engine, and the runner's bundle comes
 * from the cache on disk.
 * Concurrent callers may all build; each ends with the same tag.
 */
export async function ensureRuntimeImage(docker: Docker, options: RuntimeImageOptions = {}): Promise<RuntimeImage> {
  const requestedBase = options.baseImage || process.env.STEPBOX_BASE_IMAGE || undefined;
  const defaultBase = requestedBase === undefined ? defaultBaseImage(await hostNode()) : undefined;
  const registryBase = defaultBase?.from === "registry" ? defaultBase : undefined;
  const { root } = await stepboxPackage();
  const [dockerfile, runner, jobS3, baseImage] = await Promise.all([
    readFile(join(root, "runtime-image", "Dockerfile")),
    bundleRunner(options.runnerEntry ?? containerModule("runner"), root),
    // The AWS SDK, bundled apart: the runner imports it only as a cloud job (container/job-s3.ts).
    bundleRunner(containerModule("job-s3"), root),
    requestedBase ?? registryBase?.reference ?? importedBaseTag(),
  ]);

  let listed: Docker.ImageInfo[];
  try {
    listed = await docker.listImages({ filters: { reference: [baseImage, RUNTIME_REPOSITORY] } });
  } catch (error) {
    throw imageFailure("listing images", error);
  }
  const idOf = (reference: string): string | undefined => listed.find((image) => image.RepoTags?.includes(withTag(reference)))?.Id;

  // A requested reference the listing cannot match (an id, a digest, a registry prefix) is inspected.
  const baseImageId =
    idOf(baseImage) ??
    (requestedBase
      ? ((await inspectId(docker, baseImage)) ?? (await pullBase(docker, baseImage, options.logger)))
      : registryBase
        ? await pullRegistryBase(docker, registryBase, options.logger)
        : await importBase(docker, baseImage, options.logger));

  const contentHash = runtimeImageContentHash({ dockerfile, runner, jobS3, baseImageId });
  const tag = `${RUNTIME_REPOSITORY}:${contentHash}`;
  const files = { Dockerfile: dockerfile, "runner.mjs": runner, "job-s3.mjs": jobS3 };
  const id = idOf(tag) ?? (await buildRuntime(docker, { tag, contentHash, baseImage, baseImageId, files }, options.logger));
  return { tag, id, baseImage };
}
