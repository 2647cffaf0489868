/**
 * bench/bundle-deps: a pipeline whose steps import two ordinary npm libraries (lodash-es, date-fns)
 * against the same pipeline written without them, end to end through stepbox: a fresh session (as a
 * new process has: nothing bundled in memory) from start to the last step's result, warm image.
 * - cold: an empty bundle cache, as on the first run after a step's module changed;
 * - warm: the bundle cache on disk already holds the module, as on every run after that — what a user
 *   sees run after run, and what the target is about.
 * Runs alternate so drift on a noisy machine hits every side alike.
 *
 * Run: npx tsx bench/bundle-deps.ts [rounds]   (progress on stderr, the Markdown section on stdout)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalPipelineSession, Pipeline, type DelayedReturn } from "stepbox";
import * as plain from "./fixtures/plain.js";
import * as withDeps from "./fixtures/with-deps.js";
import { median, progress, targetLine, writeBenchmarkSection } from "./report.js";

const TARGET = 1.2;
const rounds = Number(process.argv[2] ?? 2);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a whole number >= 1, got ${process.argv[2]}`);
const root = await mkdtemp(join(tmpdir(), "stepbox-bench-bundle-"));
const warmCache = join(root, "warm-cache");
const expected = "2026-01-04";

type Steps = typeof plain;
const variants = { plain, withDeps } satisfies Record<string, Steps>;

/** One run as a new process would make it: a new session (new bundler), the given bundle cache. */
async function run(steps: Steps, cacheDir: string): Promise<number> {
  process.env.STEPBOX_CACHE_DIR = cacheDir;
  const started = performance.now();
  const session = new LocalPipelineSession({ artifactRoot: join(root, "store"), secret: "bench", onLog: () => {} });
  const totals = steps.batchTotals(10);
  const day: DelayedReturn = steps.schedule(totals);
  const pipeline = new Pipeline({ name: "bundle-deps", steps: [day], session });
  const execution = await pipeline.start();
  const value = await execution.result(pipeline.stepName(day));
  await execution.wait();
  const elapsed = performance.now() - started;
  if (value !== expected) throw new Error(`the pipeline returned ${String(value)}, expected ${expected}`);
  return elapsed;
}

let coldCaches = 0;
const freshCache = (): string => join(root, `cold-cache-${coldCaches++}`);

// Warm the image and its layers, and fill the warm cache with both modules.
for (const steps of Object.values(variants)) await run(steps, warmCache);

const times = { plainCold: [] as number[], depsCold: [] as number[], plainWarm: [] as number[], depsWarm: [] as number[] };
for (let i = 0; i < rounds; i++) {
  progress(`round ${i + 1}/${rounds}`);
  times.plainCold.push(await run(variants.plain, freshCache()));
  times.depsCold.push(await run(variants.withDeps, freshCache()));
  times.plainWarm.push(await run(variants.plain, warmCache));
  times.depsWarm.push(await run(variants.withDeps, warmCache));
}
await rm(root, { recursive: true, force: true });

const row = (what: string, xs: number[], base: number[]): string =>
  `| ${what} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)} | ${(median(xs) / median(base)).toFixed(2)} |`;
const warmRatio = median(times.depsWarm) / median(times.plainWarm);
const coldRatio = median(times.depsCold) / median(times.plainCold);
await writeBenchmarkSection(
  "Bundling steps that import npm libraries",
  [
    "| what (two-step pipeline, new session, start → last result) | median ms | min ms | max ms | ratio to its baseline |",
    "|---|---|---|---|---|",
    row("no npm imports, warm bundle cache (baseline)", times.plainWarm, times.plainWarm),
    row("steps import lodash-es and date-fns, warm bundle cache", times.depsWarm, times.plainWarm),
    row("no npm imports, empty bundle cache (baseline)", times.plainCold, times.plainCold),
    row("steps import lodash-es and date-fns, empty bundle cache", times.depsCold, times.plainCold),
    "",
    `With an empty cache (the first run after a module changed) it is ${coldRatio.toFixed(2)}×. ${rounds} rounds, alternating.`,
    "",
    targetLine(
      `steps importing two npm libraries ≤ ${TARGET}× the same pipeline without them`,
      warmRatio <= TARGET,
      `${warmRatio.toFixed(2)}× with a warm bundle cache`,
    ),
  ].join("\n"),
  `npx tsx bench/bundle-deps.ts ${rounds}`,
);
