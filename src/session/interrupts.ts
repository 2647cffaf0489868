import type { ExecutionRun } from "../engine/execution-run.js";

const live = new Set<ExecutionRun>();
let interrupted = 0;

/**
 * On SIGINT or SIGTERM, stops every running execution's containers before the process exits
 * (a second signal kills them at once). Handlers are installed only while executions run, so a
 * process with none keeps Node's default behaviour.
 */
function onSignal(signal: NodeJS.Signals): void {
  interrupted++;
  const runs = [...live];
  for (const run of runs) run.stop({ force: interrupted > 1 });
  if (interrupted > 1) return;
  const code = signal === "SIGINT" ? 130 : 143;
  process.stderr.write(`stepbox: ${signal}: stopping ${runs.length} execution(s) and their containers (again to kill them now)\n`);
  void Promise.allSettled(
    runs.map(async (run) => {
      await run.done;
      await run.flush();
    }),
  ).then(() => process.exit(code));
}

export function trackUntilDone(run: ExecutionRun): void {
  if (live.size === 0) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  live.add(run);
  // A rejected run reaches its callers through wait() and result(); here it only stops being tracked.
  run.done
    .finally(() => {
      live.delete(run);
      if (live.size === 0 && interrupted === 0) {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    })
    .catch(() => undefined);
}
