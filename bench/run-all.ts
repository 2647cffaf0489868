/**
 * bench/run-all: `npm run bench` runs every benchmark in bench/, one after another on a fresh build,
 * and rewrites BENCHMARKS.md: a header that describes the machine, a summary of the targets met and
 * not met, then each benchmark's section. A benchmark is a `bench/<name>.ts` whose header says
 * `Run: npx tsx bench/<name>.ts`; it prints progress on stderr and its `## <title>` section on stdout
 * (see bench/report.ts).
 *
 * Run: npm run bench                  (all of them; rewrites BENCHMARKS.md)
 *      npm run bench -- store import  (those whose name holds a word; prints, writes nothing)
 */
import { execFile, spawn } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { cpus, platform, release, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { progress, TARGET_LINE } from "./report.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BENCH = join(ROOT, "bench");
const filters = process.argv.slice(2);

async function benchmarks(): Promise<string[]> {
  const names: string[] = [];
  for (const file of (await readdir(BENCH)).sort()) {
    const name = file.replace(/\.ts$/, "");
    if (name === file || name === "run-all") continue;
    if ((await readFile(join(BENCH, file), "utf8")).includes(`Run: npx tsx bench/${name}.ts`)) names.push(name);
  }
  return names;
}

/** Runs one benchmark: its stderr shows as it goes, its stdout from the `## ` heading on is its section. */
function run(name: string): Promise<{ section: string; failed: boolean }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(join(ROOT, "node_modules/.bin/tsx"), [`bench/${name}.ts`], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderrTail = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString()).slice(-2000);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      const start = stdout.search(/^## /m);
      if (code === 0 && start >= 0) {
        progress(`bench/${name}.ts: done in ${seconds} s`);
        resolve({ section: stdout.slice(start).trimEnd(), failed: false });
        return;
      }
      progress(`bench/${name}.ts: FAILED (exit ${code}) after ${seconds} s`);
      const why = code === 0 ? "printed no `## ` section" : `exited with ${code}`;
      resolve({ section: `## ${name}\n\n\`bench/${name}.ts\` ${why}; the end of its stderr:\n\n\`\`\`\n${stderrTail.trim()}\n\`\`\``, failed: true });
    });
  });
}

async function output(command: string, args: readonly string[]): Promise<string> {
  return (await promisify(execFile)(command, args, { cwd: ROOT }).catch(() => ({ stdout: "unknown" }))).stdout.trim();
}

async function machine(): Promise<string> {
  const docker = await output("docker", ["version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"]);
  const commit = await output("git", ["rev-parse", "--short", "HEAD"]);
  return [
    `- CPU: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores`,
    `- Memory: ${(totalmem() / 1024 ** 3).toFixed(0)} GiB`,
    `- OS: ${platform()} ${release()}`,
    `- Docker Engine: ${docker}`,
    `- Node: ${process.version}`,
    `- Commit: ${commit}${(await output("git", ["status", "--porcelain"])) ? " with uncommitted changes" : ""}`,
    `- Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
  ].join("\n");
}

/** One row per target line of each section. */
function summary(sections: readonly string[]): string {
  const rows: string[] = [];
  for (const section of sections) {
    const title = /^## (.*)$/m.exec(section)?.[1] ?? "?";
    const targets = section.split("\n").flatMap((line) => {
      const m = TARGET_LINE.exec(line);
      return m ? [m] : [];
    });
    for (const [, met, what] of targets) rows.push(`| ${title} | ${met === "met" ? "met" : "**not met**"} | ${what} |`);
    if (targets.length === 0) rows.push(`| ${title} | — | no target line in its section |`);
  }
  return ["| benchmark | target | what (numbers) |", "|---|---|---|", ...rows].join("\n");
}

const selected = (await benchmarks()).filter((name) => filters.length === 0 || filters.some((word) => name.includes(word)));
if (selected.length === 0) throw new Error(`no benchmark in bench/ matches ${filters.join(", ")}`);
progress(`building stepbox (dist/), then running ${selected.map((n) => `bench/${n}.ts`).join(", ")}`);
await promisify(execFile)("npm", ["run", "build"], { cwd: ROOT });
const results: Array<{ section: string; failed: boolean }> = [];
for (const name of selected) results.push(await run(name));
const sections = results.map((r) => r.section);

if (filters.length > 0) {
  process.stdout.write(`${sections.join("\n\n")}\n`);
} else {
  const document = [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (bench/run-all.ts), which runs every benchmark in bench/ one after another. Every ratio " +
      "compares against a baseline measured in the same run, on this machine:",
    "",
    await machine(),
    "",
    "## Targets",
    "",
    summary(sections),
    "",
    // The causes of what is not met, written by hand where they were measured: kept beside the summary.
    (await readFile(join(BENCH, "targets-not-met.md"), "utf8")).trimEnd(),
    "",
    ...sections.flatMap((s) => [s, ""]),
  ].join("\n");
  await writeFile(join(ROOT, "BENCHMARKS.md"), document);
  progress("BENCHMARKS.md rewritten");
}
if (results.some((r) => r.failed)) process.exitCode = 1;
