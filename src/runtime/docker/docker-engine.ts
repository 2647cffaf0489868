import { setTimeout as sleep } from "node:timers/promises";
import type Docker from "dockerode";
import { ContainerEngineError } from "../../errors.js";

/** What starts an engine, on the machines stepbox supports. */
const ENGINE_HINT =
  "start Docker (Linux: `sudo systemctl start docker`, or `sudo dockerd &`; macOS: open Docker Desktop, or `colima start`), or set DOCKER_HOST to an engine that runs";

/** Where the engine is, in words, for messages: DOCKER_HOST or the default socket. */
function describeEngine(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST ? `the Docker engine at ${env.DOCKER_HOST}` : "the Docker engine at /var/run/docker.sock";
}

/**
 * Connects to the Docker engine and checks that it answers; a clear error when it does not.
 * dockerode (with its gRPC and SSH stacks, ~170 modules) loads here, not when stepbox is imported.
 */
export async function connectDocker(): Promise<Docker> {
  const { default: DockerClient } = await import("dockerode");
  const docker = new DockerClient();
  try {
    await docker.ping();
  } catch (cause) {
    throw new ContainerEngineError(`${describeEngine()} does not answer`, { cause, hint: ENGINE_HINT, reason: "unreachable" });
  }
  return docker;
}

/** Whether an error from dockerode means the engine itself is gone, rather than a refused request. */
export function isEngineUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "ECONNREFUSED" || code === "ENOENT" || code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT";
}

/** How long stepbox waits for a Docker engine that went away (restarting) to answer again, before it gives up on it. */
export const ENGINE_RETURN_MS = 60_000;

/**
 * Waits for an engine that went away (dockerd restarting, as an upgrade or `systemctl restart docker`
 * does) to answer again: pings with backoff until it answers, `withinMs` pass or `signal` aborts.
 * Resolves whether it answers.
 */
export async function engineReturns(docker: Docker, withinMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      await docker.ping();
      return true;
    } catch (error) {
      if (!isEngineUnreachable(error)) return true;
    }
    if (signal.aborted || Date.now() + delay > deadline) return false;
    await sleep(delay, undefined, { signal }).catch(() => undefined);
  }
}

/** Wraps a dockerode failure at the runtime boundary, so nothing above looks at HTTP status codes. */
export function engineError(action: string, cause: unknown): ContainerEngineError {
  if (isEngineUnreachable(cause)) {
    return new ContainerEngineError(`${describeEngine()} went away when stepbox tried ${action}`, { cause, hint: ENGINE_HINT, reason: "lost" });
  }
  const message = (cause as { json?: { message?: string } } | undefined)?.json?.message ?? String((cause as Error)?.message ?? cause);
  return new ContainerEngineError(`${describeEngine()} refused ${action}: ${message}`, { cause, reason: "refused" });
}
