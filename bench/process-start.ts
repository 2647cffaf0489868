/**
 * bench/process-start: how long a pipeline file takes, as a new process, to reach its first container,
 * warm (image built, bundle cached), and where that time goes. Sides, alternating in each round:
 * - bare `node -e 0` (the baseline: what any Node process costs),
 * - `node` importing stepbox from its build (what the library's imports add),
 * - `stepbox --version` (the command line's own imports),
 * - `stepbox run bench/process-start-pipeline.ts`: until Docker reports the step's container created,
 *   and until the process exits,
 * - `tsx bench/process-start-pipeline.ts` (the file starts itself), until the container is created.
 * The container's creation is seen on Docker's event stream, filtered by stepbox's pipeline label.
 * One extra run under --cpu-prof says where the `stepbox run` process spends its CPU.
 *
 * Run: npx tsx bench/process-start.ts [rounds]   (needs `npm run build` first: it runs dist/)
 */
import { spawn } from "node:child_process";
import { access, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { LABEL } from "../src/runtime/docker/labels.js";
import { median, progress, targetLine, writeBenchmarkSection } from "./report.js";

const rounds = Number(process.argv[2] ?? 5);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PIPELINE_FILE = "bench/process-start-pipeline.ts";
const PIPELINE_NAME = "bench-process-start";
await access(join(ROOT, "dist/src/cli/main.js")).catch(() => {
  throw new Error("bench/process-start runs the built stepbox: run npm run build first");
});
const home = await mkdtemp(join(tmpdir(), "stepbox-bench-start-"));
const env = { ...process.env, STEPBOX_HOME: home };

/** Resolves with the time of each container create of the benchmark's pipeline, as Docker reports them. */
const docker = new Docker();
const events = (await docker.getEvents({
  filters: { type: ["container"], event: ["create"], label: [`${LABEL.pipeline}=${PIPELINE_NAME}`] },
})) as NodeJS.ReadableStream & { destroy(): void };
let onCreate: (() => void) | undefined;
events.on("data", () => onCreate?.());

interface Timing {
  firstContainerMs?: number;
  exitMs: number;
}

/** Runs a command to its exit; with `untilContainer`, also the time until the first container was created. */
function timed(command: string, args: readonly string[], untilContainer: boolean, extraEnv: NodeJS.ProcessEnv = {}): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstContainerMs: number | undefined;
    onCreate = untilContainer
      ? () => {
          firstContainerMs ??= performance.now() - started;
        }
      : undefined;
    const child = spawn(command, args, { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const exitMs = performance.now() - started;
      onCreate = undefined;
      if (code !== 0) reject(new Error(`${command} ${args.join(" ")} exited with ${code}: ${stderr.slice(-2000)}`));
      else if (untilContainer && firstContainerMs === undefined) reject(new Error(`${command} ${args.join(" ")} created no container of ${PIPELINE_NAME}`));
      else resolve({ ...(firstContainerMs !== undefined ? { firstContainerMs } : {}), exitMs });
    });
  });
}

const node = process.execPath;
const tsx = join(ROOT, "node_modules/.bin/tsx");
const sides = {
  bare: { what: "bare `node -e 0` (baseline)", run: () => timed(node, ["-e", "0"], false) },
  importStepbox: {
    what: '`node` running `await import("stepbox")` (the build)',
    run: () => timed(node, ["--input-type=module", "-e", 'await import("stepbox")'], false),
  },
  cliVersion: { what: "`stepbox --version`", run: () => timed(node, ["bin/stepbox.js", "--version"], false) },
  stepboxRun: { what: `\`stepbox run ${PIPELINE_FILE}\``, run: () => timed(node, ["bin/stepbox.js", "run", PIPELINE_FILE], true) },
  tsx: { what: `\`tsx ${PIPELINE_FILE}\` (the file starts itself)`, run: () => timed(tsx, [PIPELINE_FILE], true, { BENCH_START_ITSELF: "1" }) },
} as const;
type Side = keyof typeof sides;

const times = Object.fromEntries(Object.keys(sides).map((side) => [side, [] as Timing[]])) as unknown as Record<Side, Timing[]>;
let profile: string;
try {
  progress("warming: the runtime image, the bundle cache, the page cache");
  for (const side of Object.values(sides)) await side.run();
  for (let round = 0; round < rounds; round++) {
    for (const side of Object.keys(sides) as Side[]) times[side].push(await sides[side].run());
    progress(`round ${round + 1}/${rounds} done`);
  }
  const profiles = join(home, "profile");
  await timed(node, ["--cpu-prof", `--cpu-prof-dir=${profiles}`, "bin/stepbox.js", "run", PIPELINE_FILE], true);
  profile = cpuBreakdown(JSON.parse(await readFile(join(profiles, (await readdir(profiles))[0]!), "utf8")) as CpuProfile);
} finally {
  events.destroy();
  await rm(home, { recursive: true, force: true });
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string } }>;
  samples: number[];
  timeDeltas: number[];
}

/** Where a process spent its time, in ms per place: stepbox's layers, each package, Node's own, GC, idle. */
function cpuBreakdown(p: CpuProfile): string {
  const placeOf = new Map<number, string>();
  for (const { id, callFrame } of p.nodes) {
    const { url, functionName } = callFrame;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    const layer = /\/dist\/src\/([^/]+)\//.exec(url)?.[1];
    placeOf.set(
      id,
      pkg
        ? `package ${pkg}`
        : layer
          ? `stepbox ${layer}/`
          : url.startsWith("node:") || url === ""
            ? functionName.startsWith("(")
              ? functionName
              : "Node's own (module loading, I/O)"
            : "other",
    );
  }
  const ms = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const place = placeOf.get(id)!;
    ms.set(place, (ms.get(place) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...ms]
    .sort((a, b) => b[1] - a[1])
    .filter(([, t]) => t >= 5)
    .map(([place, t]) => `${place} ${t.toFixed(0)} ms`)
    .join(", ");
}

const base = median(times.bare.map((t) => t.exitMs));
const fmt = (xs: number[]): string => `${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)}`;
const rows: string[] = [];
for (const side of Object.keys(sides) as Side[]) {
  const toContainer = times[side].flatMap((t) => (t.firstContainerMs !== undefined ? [t.firstContainerMs] : []));
  if (toContainer.length > 0)
    rows.push(`| ${sides[side].what}: to its first container created | ${fmt(toContainer)} | ${(median(toContainer) / base).toFixed(1)} |`);
  const exits = times[side].map((t) => t.exitMs);
  rows.push(`| ${sides[side].what}: to its exit | ${fmt(exits)} | ${(median(exits) / base).toFixed(1)} |`);
}
const first = (side: Side): number => median(times[side].map((t) => t.firstContainerMs ?? t.exitMs));
const toContainer = first("stepboxRun");
const body = [
  `A pipeline file of one trivial step, run as a new process, warm; ms over ${rounds} rounds, sides alternating; ` +
    "the ratio is against bare `node -e 0` in the same run.",
  "",
  "| what | median ms | min ms | max ms | ratio to bare node |",
  "|---|---|---|---|---|",
  ...rows,
  "",
  `Where \`stepbox run\`'s ${toContainer.toFixed(0)} ms to its first container go (medians): Node itself ${base.toFixed(0)} ms; ` +
    `stepbox's imports +${(first("importStepbox") - base).toFixed(0)} ms (see Import time); the rest, +${(toContainer - first("importStepbox")).toFixed(0)} ms, ` +
    "is the command line, loading the pipeline file, compiling, bundling the step, the image check, the store and the container's creation. " +
    `Through tsx: ${first("tsx").toFixed(0)} ms. CPU of one profiled \`stepbox run\`, whole process, by where the running function lives ` +
    `(compiling imported files counts as Node's own): ${profile}.`,
  "",
  targetLine("a warm `stepbox run` reaches its first container in under 0.5 s", toContainer < 500, `median ${toContainer.toFixed(0)} ms`),
].join("\n");
await writeBenchmarkSection("Process start", body, `npx tsx bench/process-start.ts ${rounds}`);
