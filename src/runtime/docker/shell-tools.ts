import { constants } from "node:fs";
import { access, realpath } from "node:fs/promises";
import { delimiter, join } from "node:path";
import type Docker from "dockerode";
import { ContainerEngineError } from "../../errors.js";
import { engineError } from "./docker-engine.js";
import { linkedLibraries } from "./image.js";
import { LABEL, managedLabels } from "./labels.js";

/** A shell to start in an image: its own, or this machine's mounted in when it has none. */
export interface ImageShell {
  /** The shell's path in the container. */
  readonly path: string;
  /** Read-only binds that add this machine's shell, a few tools and the libraries they link; empty when the image has a shell. */
  readonly binds: readonly string[];
}

const IMAGE_SHELLS = ["/bin/bash", "/usr/bin/bash", "/bin/sh", "/usr/bin/sh"];
const HOST_SHELLS = ["bash", "sh"];
/** Enough to look around /opt/ml; the image built from this machine's node has none of them. */
const HOST_TOOLS = ["ls", "cat", "head", "tail", "env", "id", "grep", "find", "wc", "du", "mkdir", "rm"];

/**
 * The shell to start in `image`. When the image has none (the default runtime image holds node and
 * nothing else), this machine's shell and tools are mounted read-only at their own paths, with the
 * libraries they link; a file the image already has is never covered, so node keeps its own.
 */
export async function imageShell(docker: Docker, image: string, owner: string): Promise<ImageShell> {
  const probe = await createProbe(docker, image, owner);
  try {
    for (const path of IMAGE_SHELLS) if (await probe.has(path)) return { path, binds: [] };
    const shell = await firstOnHost(HOST_SHELLS);
    if (!shell) {
      throw new ContainerEngineError(`the image ${image} has no shell (${IMAGE_SHELLS.join(", ")}), and this machine has neither bash nor sh to lend it`, {
        hint: "set STEPBOX_BASE_IMAGE to an image with a shell (node:20-bookworm-slim) and rerun the pipeline",
        // The engine did what it was asked; what it has cannot do this.
        reason: "refused",
      });
    }
    const tools = [shell, ...(await Promise.all(HOST_TOOLS.map((t) => firstOnHost([t])))).filter((t) => t !== undefined)];
    const files = new Set<string>(tools);
    for (const tool of tools) for (const library of await linkedLibraries(tool)) files.add(library);
    const binds: string[] = [];
    for (const file of files) {
      // Bound by their real file: Docker cannot bind a symlink (the host's /bin/sh is one).
      if (!(await probe.has(file))) binds.push(`${await realpath(file)}:${file}:ro`);
    }
    return { path: shell, binds };
  } finally {
    await probe.remove();
  }
}

/** The path of the first of these commands on this machine's PATH. */
async function firstOnHost(commands: readonly string[]): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? "/usr/bin:/bin").split(delimiter).filter(Boolean);
  for (const command of commands) {
    for (const dir of dirs) {
      const path = join(dir, command);
      if (
        await access(path, constants.X_OK).then(
          () => true,
          () => false,
        )
      )
        return path;
    }
  }
  return undefined;
}

/** A container of the image that never starts: the engine answers which paths its file system has. */
async function createProbe(docker: Docker, image: string, owner: string): Promise<{ has(path: string): Promise<boolean>; remove(): Promise<void> }> {
  let container: Docker.Container;
  try {
    container = await docker.createContainer({ Image: image, Labels: managedLabels({ [LABEL.owner]: owner }), NetworkDisabled: true });
  } catch (error) {
    throw engineError(`to look for a shell in the image ${image}`, error);
  }
  return {
    async has(path) {
      try {
        const answer = (await container.infoArchive({ path })) as NodeJS.ReadableStream & { destroy?: () => void };
        answer.destroy?.();
        return true;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return false;
        throw engineError(`to look for ${path} in the image ${image}`, error);
      }
    },
    remove: () =>
      container.remove({ force: true }).then(
        () => undefined,
        () => undefined,
      ),
  };
}
