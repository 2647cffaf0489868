import { spawn, type ChildProcess } from "node:child_process";

/**
 * Starts test/fixtures/long-run.ts, a separate engine process whose one step sleeps, on the store at
 * `home` (`stubborn`: a step that ignores SIGTERM); `executionId` resolves once the step's code runs
 * (and rejects if the process ends first); `printed(text)` once the process printed a line that is `text`.
 */
export function startLongRun(home: string, stubborn = false): { child: ChildProcess; executionId: Promise<string>; printed: (text: string) => Promise<void> } {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/long-run.ts", ...(stubborn ? ["stubborn"] : [])], {
    env: { ...process.env, STEPBOX_HOME: home },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const printed = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!out.split("\n").includes(text)) return;
        child.stdout!.off("data", check);
        resolve();
      };
      child.stdout!.on("data", check);
      child.once("exit", (code) => reject(new Error(`long-run exited with ${code} before it printed ${text}`)));
      check();
    });
  const executionId = new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const match = /EXECUTION (\w+)/.exec(out);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on("data", check);
    child.once("exit", (code) => reject(new Error(`long-run exited with ${code} before starting its step`)));
  });
  return { child, executionId, printed };
}

/** A child's exit code (null when a signal ended it), at once when it has already exited. */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** How a child process ended: its exit code, or the signal that ended it. */
export function endedBy(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/**
 * The pid of a process that has run and ended: what a record or temp file of a killed stepbox process
 * names. Pids are reused only after the kernel wraps around, far beyond one test.
 */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await exited(child);
  return child.pid!;
}
