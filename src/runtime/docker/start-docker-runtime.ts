import type Docker from "dockerode";
import type { Logger } from "../../logging/logger.js";
import { volumeSupport } from "../output-volume.js";
import { connectDocker } from "./docker-engine.js";
import { DockerRuntime } from "./docker-runtime.js";
import { ensureRuntimeImage, type RuntimeImage } from "./image.js";
import { sweepOrphans, type OrphanedExecution } from "./orphan-sweep.js";

export interface DockerRuntimeOptions {
  /** The image the runtime image is built on. @default STEPBOX_BASE_IMAGE, else one made from this machine's node */
  readonly baseImage?: string | undefined;
  /** Told when the runtime image is built, imported or pulled, and when a step's output limit cannot be held by the kernel. */
  readonly logger: Logger;
}

/** A connected Docker runtime, the image its steps run in, and what killed engine processes had left. */
export interface StartedDockerRuntime {
  readonly runtime: DockerRuntime;
  /** The runtime image's tag. */
  readonly image: string;
  /** The image's content id: part of every step's cache key. */
  readonly imageId: string;
  /** Executions whose engine process died: their containers are removed now, their records are the caller's to mark. */
  readonly orphans: readonly OrphanedExecution[];
}

/**
 * Connects to the Docker engine, removes the containers and networks of engine processes that no
 * longer run, and finds (or builds) the runtime image: all a session needs before its first step.
 */
export async function startDockerRuntime(options: DockerRuntimeOptions): Promise<StartedDockerRuntime> {
  const docker = await connectDocker();
  // Independent round trips to the engine: neither waits for the other. Whether steps' output volumes
  // can be made (a probe that makes and mounts one) is learned meanwhile, not when the first step is.
  const [orphans, image] = await Promise.all([sweepOrphans(docker), runtimeImageOnce(docker, options.baseImage, options.logger), volumeSupport()]);
  return { runtime: new DockerRuntime(docker, options.logger), image: image.tag, imageId: image.id, orphans };
}

/** The runtime image of each engine and base, once a process has found or built it. */
const runtimeImages = new Map<string, Promise<RuntimeImage>>();

/**
 * Finds (or builds) the runtime image once per process for each engine and base image: every later
 * session of the process (a test file's, runPipeline's) reuses it instead of bundling the runner and
 * listing images again. A failed attempt is forgotten, so the next session tries again.
 */
function runtimeImageOnce(docker: Docker, baseImage: string | undefined, logger: Logger): Promise<RuntimeImage> {
  const key = JSON.stringify([process.env.DOCKER_HOST ?? "", baseImage || process.env.STEPBOX_BASE_IMAGE || ""]);
  let image = runtimeImages.get(key);
  if (!image) {
    image = ensureRuntimeImage(docker, { logger, ...(baseImage ? { baseImage } : {}) });
    runtimeImages.set(key, image);
    image.catch(() => runtimeImages.delete(key));
  }
  return image;
}
