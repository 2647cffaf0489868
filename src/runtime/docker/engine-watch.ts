import type Docker from "dockerode";
import { engineError, isEngineUnreachable } from "./docker-engine.js";

const PING_TIMEOUT = Symbol("timeout");

/**
 * Notices an engine that went away while a container runs. A wait request whose connection drops
 * after the engine sent its headers never settles in dockerode, so a separate ping, every
 * `intervalMs`, is what finds out.
 */
export function watchEngine(docker: Docker, action: string, intervalMs = 2000, timeoutMs = 10_000): { lost: Promise<never>; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const lost = new Promise<never>((_, reject) => {
    const check = async (): Promise<void> => {
      if (stopped) return;
      let failure: unknown;
      try {
        const answer = await Promise.race([
          docker.ping(),
          new Promise<typeof PING_TIMEOUT>((resolve) => setTimeout(() => resolve(PING_TIMEOUT), timeoutMs).unref()),
        ]);
        if (answer === PING_TIMEOUT) failure = Object.assign(new Error(`no answer to a ping within ${timeoutMs} ms`), { code: "ETIMEDOUT" });
      } catch (error) {
        if (isEngineUnreachable(error)) failure = error;
      }
      if (stopped) return;
      if (failure) {
        reject(engineError(action, failure));
        return;
      }
      timer = setTimeout(() => void check(), intervalMs);
    };
    timer = setTimeout(() => void check(), intervalMs);
  });
  // Nobody may be listening when the watch is stopped before the engine is lost.
  lost.catch(() => undefined);
  return {
    lost,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
