/**
 * Runs the built command line as a user does: `node bin/stepbox.js ...` in a child process, on a
 * temporary store, with a fixed secret, its output through pipes or on a pseudo-terminal. The CLI is
 * compiled once (tsc into dist/) when any source is newer than the build.
 */
import { execFile, spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll } from "vitest";

export const ROOT = resolve(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "stepbox.js");
const BUILT = join(ROOT, "dist", "src", "cli", "main.js");
export const FIXTURES = join(ROOT, "test", "fixtures", "cli");

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestSource(path) : (await stat(path)).mtimeMs);
  }
  return newest;
}

/** Compiles src/ into dist/ (what `npm run build` does) unless the build is newer than every source. */
export async function buildCli(): Promise<void> {
  const built = await stat(BUILT).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (built > (await newestSource(join(ROOT, "src")))) return;
  await promisify(execFile)(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT });
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A temporary store; `cleanup` removes it. */
export async function tempStore(): Promise<{ store: string; cleanup: () => Promise<void> }> {
  const store = await mkdtemp(join(tmpdir(), "stepbox-cli-test-"));
  return { store, cleanup: () => rm(store, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }) };
}

/**
 * The hooks of a CLI test file that needs nothing else: the CLI built before its tests, and one
 * temporary store for them, removed after. Read `.store` inside the tests.
 */
export function cliTestStore(): { readonly store: string } {
  let made: Awaited<ReturnType<typeof tempStore>> | undefined;
  beforeAll(async () => {
    await buildCli();
    made = await tempStore();
  }, 300_000);
  afterAll(async () => {
    await made?.cleanup();
  });
  return {
    get store(): string {
      if (made === undefined) throw new Error("cliTestStore(): the store exists only once the file's beforeAll has run");
      return made.store;
    },
  };
}

/** The secret every CLI process of the tests has, so a session in the test process can read what they stored. */
export const CLI_SECRET = "cli-test-secret";

/** The test runner's environment less what changes the CLI's output, plus the store, the secret and `extra`. */
function environment(store: string, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _options, STEPBOX_LOG_LEVEL: _level, NO_COLOR: _noColor, FORCE_COLOR: _forceColor, ...env } = process.env;
  return { ...env, STEPBOX_HOME: store, STEPBOX_SECRET: CLI_SECRET, ...extra };
}

/** A running `stepbox` process, with its output so far. */
export interface RunningCli {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<CliResult>;
}

export function startCli(store: string, args: readonly string[], input?: string, env: NodeJS.ProcessEnv = {}): RunningCli {
  return running(spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: environment(store, env), stdio: ["pipe", "pipe", "pipe"] }), args, input);
}

function running(child: ChildProcessWithoutNullStreams, args: readonly string[], input: string | undefined): RunningCli {
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  child.stdin.end(input ?? "");
  const exited = new Promise<CliResult>((resolveExit) => child.on("close", (code) => resolveExit({ code, stdout: out, stderr: err })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = out.match(pattern);
        if (match) return match;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`stepbox ${args.join(" ")} did not print ${pattern} (exit ${child.exitCode}):\n${out}\n${err}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

const shellQuote = (word: string): string => `'${word.replaceAll("'", "'\\''")}'`;

/**
 * Runs `stepbox ...args` to its end on a pseudo-terminal 120 columns wide, as a person at a terminal
 * does. util-linux `script` makes the terminal and exits with the command's code; the terminal joins
 * stdout and stderr, so everything is in `stdout`, as the terminal received it: escape sequences, and
 * "\r\n" for each newline.
 */
export function cliOnTerminal(store: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const command = `stty cols 120 rows 40 && exec ${[process.execPath, BIN, ...args].map(shellQuote).join(" ")}`;
  const child = spawn("script", ["--quiet", "--flush", "--return", "--command", command, "/dev/null"], {
    cwd: ROOT,
    env: environment(store, env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  return running(child, args, undefined).exited;
}

/** Runs `stepbox ...args` to its end, with `env` added to its environment. */
export function cli(store: string, args: readonly string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(store, args, input, env).exited;
}

/** The execution id that `stepbox run` and `stepbox retry` print when they start one. */
export function startedExecution(stdout: string): string {
  const id = /^execution ([a-z0-9]{12}) of pipeline/m.exec(stdout)?.[1];
  if (!id) throw new Error(`no execution started in:\n${stdout}`);
  return id;
}
