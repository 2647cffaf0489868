/**
 * Pushes the runtime image to a container registry, for SageMaker to run the steps of a cloud
 * pipeline in: built as the engine builds it (image.ts), tagged into the repository, pushed through
 * the Docker engine, and named by the digest the registry gave it, which is what a definition must
 * reference to name exactly what runs.
 */
import type Docker from "dockerode";
import { RegistryError } from "../../errors.js";
import { parseRepositoryUri, pushTag, type RegistryLogin, type RegistryRepository } from "../registry-repository.js";
import { connectDocker, engineError, isEngineUnreachable } from "./docker-engine.js";
import { ensureRuntimeImage, type RuntimeImage, type RuntimeImageOptions } from "./image.js";

type Logger = NonNullable<RuntimeImageOptions["logger"]> & { debug?(obj: object, msg?: string): void };

export interface PushRuntimeImageOptions {
  /**
   * The repository to push to, `host[:port]/path`, with a tag or without.
   * @example "123456789012.dkr.ecr.us-east-1.amazonaws.com/stepbox"
   */
  repository: string | RegistryRepository;
  /**
   * The tag to push under.
   * @default the repository's own tag, else the runtime image's content hash (`stepbox-runtime:<hash>`'s `<hash>`)
   */
  tag?: string | undefined;
  /** The image the runtime image is built on. @default as the engine builds it: STEPBOX_BASE_IMAGE, else this machine's node */
  baseImage?: string | undefined;
  /** The registry's credentials (an ECR login). @default none: the push is anonymous, Docker's own config is not read */
  login?: RegistryLogin | undefined;
  /** Told when the image is built and pushed. @default silent */
  logger?: Logger | undefined;
}

/** The runtime image, in the registry. */
export interface PushedImage {
  /** `host/path@sha256:...`: the reference a SageMaker definition names (a PipelineSession's `imageUri`). */
  readonly reference: string;
  /** `sha256:...`, the manifest's digest, as the registry gave it. */
  readonly digest: string;
  /** `host/path:tag`, which moves when another push takes the tag. */
  readonly tagged: string;
  /** The image on this machine's engine that was pushed. */
  readonly image: RuntimeImage;
}

/** What the engine streams while it pushes. */
interface PushEvent {
  status?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** The engine's words when it could not talk to the registry at all. */
const UNREACHABLE =
  /connection refused|no such host|i\/o timeout|dial tcp|connection reset|context deadline exceeded|no route to host|TLS handshake|HTTP response to HTTPS client/i;

/** The RegistryError for what the engine said went wrong in a push. */
function pushFailure(repository: RegistryRepository, message: string, login: RegistryLogin | undefined, cause?: unknown): RegistryError {
  const options = { repository: repository.name, cause };
  if (UNREACHABLE.test(message)) {
    const plainHttp = /HTTP response to HTTPS client/i.test(message);
    return new RegistryError(`the registry ${repository.host} cannot be reached: ${message}`, {
      ...options,
      reason: "unreachable",
      hint: plainHttp
        ? `the registry answers plain HTTP: add ${repository.host} to the engine's insecure-registries (/etc/docker/daemon.json; 127.0.0.0/8 is allowed already), or serve it over TLS`
        : `start the registry at ${repository.host}, or check the host and port of the repository URI`,
    });
  }
  const denied = /unauthorized|authentication required|denied|forbidden|credentials/i.test(message);
  return new RegistryError(`the registry ${repository.host} refused the push to ${repository.name}: ${message}`, {
    ...options,
    reason: "refused",
    hint: !denied
      ? `check the repository URI and the registry's log: the message above is the registry's`
      : login
        ? `the registry refused the login stepbox gave it: check that the repository ${repository.path} exists and that the credentials may push to it (ECR: ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:PutImage)`
        : "this registry asks for a login, and docker login is not used: push to Amazon ECR (stepbox logs in through the AWS SDK) or to a registry that takes anonymous pushes",
  });
}

/**
 * Follows a push to its end: an `error` event fails it, the last `aux.Digest` is the manifest's
 * digest. Progress goes to the logger's debug level, a line per layer as it ends.
 */
function followPush(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  repository: RegistryRepository,
  login: RegistryLogin | undefined,
  logger?: Logger,
): Promise<string> {
  let failure: string | undefined;
  let digest: string | undefined;
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => {
        if (error && isEngineUnreachable(error)) reject(engineError(`pushing to ${repository.name}`, error));
        else if (error || failure !== undefined) reject(pushFailure(repository, failure ?? error?.message ?? "unknown error", login, error ?? undefined));
        else if (digest === undefined) {
          reject(
            new RegistryError(`the registry ${repository.host} took the push to ${repository.name} but the engine reported no digest for it`, {
              repository: repository.name,
              reason: "no-digest",
              hint: "check that the registry speaks the Docker Registry HTTP API v2 (distribution, ECR); push again to read the digest",
            }),
          );
        } else resolve(digest);
      },
      (event: PushEvent) => {
        if (event.errorDetail || event.error !== undefined) failure ??= event.errorDetail?.message ?? event.error ?? "unknown error";
        const found = event.aux?.Digest;
        if (found !== undefined && DIGEST.test(found)) digest = found;
        if (event.id && (event.status === "Pushed" || event.status === "Layer already exists")) {
          logger?.debug?.({ event: "image.push.layer", layer: event.id, status: event.status }, `${event.id}: ${event.status}`);
        }
      },
    );
  });
}

/**
 * Tags an image of the engine (`source`: a tag or id) as `repository:tag` and pushes it; returns the
 * digest the registry gave its manifest.
 */
export async function pushImage(
  docker: Docker,
  args: { source: string; repository: RegistryRepository; tag: string; login?: RegistryLogin | undefined; logger?: Logger | undefined },
): Promise<string> {
  const { repository, tag, login } = args;
  try {
    await docker.getImage(args.source).tag({ repo: repository.name, tag });
  } catch (error) {
    throw engineError(`tagging ${args.source} as ${repository.name}:${tag}`, error);
  }
  try {
    return await pushTagged(docker, repository, tag, login, args.logger);
  } catch (error) {
    // A failed push leaves no name behind: the image keeps its stepbox-runtime tag.
    await docker
      .getImage(`${repository.name}:${tag}`)
      .remove({ noprune: true })
      .catch(() => undefined);
    throw error;
  }
}

/** Pushes `repository:tag`, already on the engine, and follows the push to its digest. */
async function pushTagged(
  docker: Docker,
  repository: RegistryRepository,
  tag: string,
  login: RegistryLogin | undefined,
  logger: Logger | undefined,
): Promise<string> {
  let stream: NodeJS.ReadableStream;
  try {
    const authconfig = login ? { username: login.username, password: login.password, serveraddress: login.serveraddress } : undefined;
    stream = (await docker.getImage(repository.name).push({ tag, ...(authconfig ? { authconfig } : {}) })) as NodeJS.ReadableStream;
  } catch (error) {
    throw engineError(`pushing ${repository.name}:${tag}`, error);
  }
  return followPush(docker, stream, repository, login, logger);
}

/**
 * Builds the runtime image as the engine does (or finds it built) and pushes it to `repository`.
 * The URI and tag are checked before anything is built.
 */
export async function pushRuntimeImage(options: PushRuntimeImageOptions): Promise<PushedImage> {
  const repository = typeof options.repository === "string" ? parseRepositoryUri(options.repository) : options.repository;
  const asked = pushTag(repository, options.tag);
  const { logger } = options;
  const docker = await connectDocker();
  const image = await ensureRuntimeImage(docker, {
    ...(options.baseImage ? { baseImage: options.baseImage } : {}),
    ...(logger ? { logger } : {}),
  });
  const tag = asked ?? image.tag.slice(image.tag.lastIndexOf(":") + 1);
  const tagged = `${repository.name}:${tag}`;
  const started = Date.now();
  logger?.info({ event: "image.push", tag: tagged }, "pushing the runtime image to");
  const digest = await pushImage(docker, { source: image.id, repository, tag, login: options.login, logger });
  const reference = `${repository.name}@${digest}`;
  logger?.info({ event: "image.pushed", tag: tagged, reference, durationMs: Date.now() - started }, `pushed ${reference}`);
  return { reference, digest, tagged, image };
}
