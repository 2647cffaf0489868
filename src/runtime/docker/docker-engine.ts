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
const ENGINE_RETURN_MS = 60_000;

/** Whether a failure means the engine went away: dockerode's own, or one engineError already wrapped. */
function engineWentAway(error: unknown): boolean {
  return isEngineUnreachable(error) || (error instanceof ContainerEngineError && error.reason === "lost");
}

/**
 * Runs an engine call; when it fails because the engine went away (dockerd restarting, as an upgrade or
 * `systemctl restart docker` does), calls `onWait`, pings with backoff until the engine answers again
 * (at most ENGINE_RETURN_MS, or until `signal` aborts) and runs the call once more. Rejects with the
 * first failure when the engine does not come back, and with the second call's when that one fails.
 */
export async function whenEngineReturns<T>(
  docker: Docker,
  call: () => Promise<T>,
  options: { signal?: AbortSignal; onWait?: (withinSeconds: number) => void } = {},
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!engineWentAway(error)) throw error;
    options.onWait?.(ENGINE_RETURN_MS / 1000);
    if (!(await engineAnswersAgain(docker, options.signal))) throw error;
    return call();
  }
}

async function engineAnswersAgain(docker: Docker, signal: AbortSignal | undefined): Promise<boolean> {
  const deadline = Date.now() + ENGINE_RETURN_MS;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      await docker.ping();
      return true;
    } catch (error) {
      if (!isEngineUnreachable(error)) return true;
    }
    if (signal?.aborted || Date.now() + delay > deadline) return false;
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
