import { stopRunningExecutions } from "../session/interrupts.js";

/**
 * For the commands that run executions (`run`, `retry`): SIGINT or SIGTERM stops the running
 * executions' containers and exits 130 or 143 once they are recorded as stopped; a second signal kills
 * the containers at once. The command line owns the process: its sessions leave signals to it.
 */
export function stopOnSignals(): void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received > 1) {
      void stopRunningExecutions({ force: true });
      return;
    }
    process.stderr.write(`stepbox: ${signal}: stopping the execution and its containers (again to kill them now)\n`);
    void stopRunningExecutions().then(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
