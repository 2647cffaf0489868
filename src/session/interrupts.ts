import type { ExecutionRun } from "../engine/execution-run.js";

/** The executions running in this process, and whether each session asked for signals to stop them. */
const live = new Map<ExecutionRun, { readonly handleSignals: boolean }>();
let interrupted = 0;

/**
 * Stops every execution running in this process (running steps get SIGTERM, then SIGKILL after the
 * grace period; `force` kills them at once) and resolves once each has ended and is recorded. The
 * command line calls it from its own signal handler; sessions that handle signals call it from theirs.
 */
export async function stopRunningExecutions(options: { readonly force?: boolean } = {}): Promise<number> {
  const runs = [...live.keys()];
  for (const run of runs) run.stop({ force: options.force === true });
  await Promise.allSettled(
    runs.map(async (run) => {
      await run.done;
      await run.flush();
    }),
  );
  return runs.length;
}

/**
 * A session's default (`handleSignals`), so that Ctrl-C of a pipeline script run with tsx leaves no
 * container: SIGINT or SIGTERM stops the running executions' containers, a second signal kills them at
 * once, and then the signal is raised again with this handler gone, so the process ends as the signal
 * would have ended it. Library code never calls process.exit; the command line handles signals itself.
 */
function onSignal(signal: NodeJS.Signals): void {
  interrupted++;
  if (interrupted > 1) {
    void stopRunningExecutions({ force: true });
    return;
  }
  process.stderr.write(`stepbox: ${signal}: stopping ${live.size} execution(s) and their containers (again to kill them now)\n`);
  void stopRunningExecutions().then(() => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.kill(process.pid, signal);
  });
}

function wantsSignals(): boolean {
  return [...live.values()].some((r) => r.handleSignals);
}

/**
 * Tracks a run until it is done; while a run of a session that handles signals runs, SIGINT and
 * SIGTERM stop it (and only then: a process with none keeps Node's default behaviour).
 */
export function trackUntilDone(run: ExecutionRun, options: { readonly handleSignals: boolean }): void {
  const before = wantsSignals();
  live.set(run, options);
  if (!before && wantsSignals()) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  // A rejected run reaches its callers through wait() and result(); here it only stops being tracked.
  run.done
    .finally(() => {
      live.delete(run);
      if (!wantsSignals() && interrupted === 0) {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    })
    .catch(() => undefined);
}
