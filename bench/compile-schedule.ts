/**
 * bench/compile-schedule: how compiling a pipeline and scheduling it to the end grow with its size.
 * Two shapes at 10k, 100k and 1M steps:
 * - a chain (each step takes the previous one's output: the deepest graph, one edge per step),
 * - a fan (one source, every other step takes its output, one sink takes all of theirs: the widest
 *   graph, two edges per step, one step with a million upstream steps).
 * Per size: building it with step() calls (context), compilePipeline (find, check, order), and the
 * engine's StepSchedule driven to the end through p-queue with a no-op step body, as ExecutionRun
 * drives it (no containers, no store). Up to 100k steps also the definition `start()` writes and reads
 * back before the engine runs it (emitDefinition, readDefinition); a million steps' definition would
 * be more JSON than a V8 string holds. The baseline is the same shape at 10k steps in the same run:
 * linear growth is a 10x ratio for 10x the steps, the same ns per step at every size. Sizes and shapes
 * alternate within each round; memory is the heap the built and compiled graph holds, after a GC.
 *
 * Run: npx tsx bench/compile-schedule.ts [rounds] [largest size]
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import PQueue from "p-queue";
import { step, type DelayedReturn } from "stepbox";
import { compilePipeline, type PipelineGraph } from "../src/graph/compile.js";
import { emitDefinition } from "../src/definition/emit-definition.js";
import { readDefinition } from "../src/definition/read-definition.js";
import { StepSchedule } from "../src/engine/schedule.js";
import { median, progress, targetLine, writeBenchmarkSection } from "./report.js";

const rounds = Number(process.argv[2] ?? 3);
const largest = Number(process.argv[3] ?? 1_000_000);
const SIZES = [10_000, 100_000, 1_000_000].filter((n) => n <= largest);
const PARALLELISM = 2;
/** The largest size whose definition is written and read: a million steps' is about 1.4 GB of JSON. */
const DEFINITION_LIMIT = 100_000;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

type Shape = "chain" | "fan";
const SHAPES: Record<Shape, (n: number) => DelayedReturn> = {
  chain(n) {
    const first = step(function first() {
      return 0;
    });
    const next = step(function next(x: number) {
      return x + 1;
    });
    let last = first();
    for (let i = 1; i < n; i++) last = next(last);
    return last;
  },
  fan(n) {
    const source = step(function source() {
      return 0;
    });
    const middle = step(function middle(x: number) {
      return x + 1;
    });
    const sink = step(function sink(xs: number[]) {
      return xs.length;
    });
    const from = source();
    const middles: DelayedReturn<number>[] = [];
    for (let i = 2; i < n; i++) middles.push(middle(from));
    return sink(middles);
  },
};

/** Runs every step of the graph with a no-op body through p-queue, as ExecutionRun does; returns how many ran. */
async function scheduleToEnd(graph: PipelineGraph): Promise<number> {
  const schedule = new StepSchedule(graph);
  const queue = new PQueue({ concurrency: PARALLELISM });
  let ran = 0;
  const enqueue = (ready: readonly string[]): void => {
    for (const name of ready) {
      void queue
        .add(async () => {
          ran++;
        })
        .then(() => enqueue(schedule.settle(name, "Succeeded")));
    }
  };
  enqueue(schedule.start());
  do {
    await queue.onIdle();
    await new Promise((resolve) => setImmediate(resolve));
  } while (queue.size > 0 || queue.pending > 0);
  return ran;
}

interface Sample {
  buildMs: number;
  compileMs: number;
  scheduleMs: number;
  /** Writing and reading back the definition; undefined past DEFINITION_LIMIT. */
  definitionMs: number | undefined;
  bytes: number;
}

async function measure(shape: Shape, n: number): Promise<Sample> {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let started = performance.now();
  const root = SHAPES[shape](n);
  const buildMs = performance.now() - started;
  started = performance.now();
  const graph = compilePipeline(`bench-${shape}`, [root]);
  const compileMs = performance.now() - started;
  gc();
  const bytes = process.memoryUsage().heapUsed - heapBefore;
  let definitionMs: number | undefined;
  if (n <= DEFINITION_LIMIT) {
    started = performance.now();
    const { json } = emitDefinition(graph, [], {
      root: "s3://stepbox-local",
      pipelineName: `bench-${shape}`,
      imageUri: "stepbox-runtime",
      region: "us-east-1",
      roleArn: "arn:aws:iam::000000000000:role/stepbox-local",
    });
    if (readDefinition(json).steps.length !== n) throw new Error(`${shape} of ${n}: the definition lost steps`);
    definitionMs = performance.now() - started;
  }
  started = performance.now();
  const ran = await scheduleToEnd(graph);
  const scheduleMs = performance.now() - started;
  if (graph.steps.length !== n || ran !== n) throw new Error(`${shape} of ${n}: compiled ${graph.steps.length} steps, ran ${ran}`);
  return { buildMs, compileMs, scheduleMs, definitionMs, bytes };
}

const samples = new Map<string, Sample[]>();
const keyOf = (shape: Shape, n: number): string => `${shape}:${n}`;
for (let round = 0; round < rounds; round++) {
  for (const n of SIZES) {
    for (const shape of Object.keys(SHAPES) as Shape[]) {
      const sample = await measure(shape, n);
      samples.set(keyOf(shape, n), [...(samples.get(keyOf(shape, n)) ?? []), sample]);
      progress(`round ${round + 1}/${rounds}: ${shape} of ${n}: compile ${sample.compileMs.toFixed(0)} ms, schedule ${sample.scheduleMs.toFixed(0)} ms`);
    }
  }
}

const total = (s: Sample): number => s.compileMs + s.scheduleMs;
const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const stat = (xs: readonly number[]): string => `${ms(median(xs))} (${ms(Math.min(...xs))}–${ms(Math.max(...xs))})`;
const rows: string[] = [];
const targets: string[] = [];
for (const shape of Object.keys(SHAPES) as Shape[]) {
  const base = median(samples.get(keyOf(shape, SIZES[0]!))!.map(total));
  for (const n of SIZES) {
    const xs = samples.get(keyOf(shape, n))!;
    const totals = xs.map(total);
    const nsPerStep = (median(totals) * 1e6) / n;
    rows.push(
      `| ${shape} | ${n.toLocaleString("en")} | ${stat(xs.map((s) => s.buildMs))} | ${stat(xs.map((s) => s.compileMs))} | ` +
        `${stat(xs.map((s) => s.scheduleMs))} | ${stat(totals)} | ${nsPerStep.toFixed(0)} | ${(median(totals) / base).toFixed(1)} | ` +
        `${xs[0]!.definitionMs === undefined ? "n/a" : stat(xs.map((s) => s.definitionMs!))} | ` +
        `${(median(xs.map((s) => s.bytes)) / n).toFixed(0)} |`,
    );
  }
  for (const [n, limitMs] of [
    [100_000, 1_000],
    [1_000_000, 10_000],
  ] as const) {
    const xs = samples.get(keyOf(shape, n));
    if (!xs) continue;
    const worst = Math.max(...xs.map(total));
    targets.push(
      targetLine(
        `${n.toLocaleString("en")}-step ${shape} compiles and schedules in under ${limitMs / 1000} s`,
        worst < limitMs,
        `slowest of ${rounds} rounds ${ms(worst)} ms, median ${ms(median(xs.map(total)))} ms`,
      ),
    );
  }
}

const body = [
  `Builds each shape with step() calls, compiles it (\`compilePipeline\`: find every step, check names and cycles, order) and ` +
    `schedules it to the end (\`StepSchedule\` through p-queue(${PARALLELISM}) with a no-op step body, as ExecutionRun drives it; ` +
    `no containers, no store). The chain is the deepest graph (a step after each step); the fan the widest (one source, every ` +
    `other step after it, one sink after all of them). Times in ms, median (min–max) of ${rounds} rounds, sizes alternating; ` +
    `the ratio is compile + schedule against the same shape at ${SIZES[0]!.toLocaleString("en")} steps in the same run ` +
    `(linear growth: 10x per 10x steps); memory is the heap the built and compiled graph holds, after a GC. ` +
    `\`start()\` also writes the SageMaker definition and reads it back before the engine runs it: that column, up to ` +
    `${DEFINITION_LIMIT.toLocaleString("en")} steps (a million steps' definition is more JSON than a V8 string holds, so such a pipeline cannot start).`,
  "",
  "| shape | steps | build (step calls) | compile | schedule | compile + schedule | ns per step | ratio to 10k | definition written and read | heap bytes per step |",
  "|---|---|---|---|---|---|---|---|---|---|",
  ...rows,
  "",
  ...targets,
].join("\n");
await writeBenchmarkSection("Compile and schedule", body, `npx tsx bench/compile-schedule.ts ${rounds}${largest < 1_000_000 ? ` ${largest}` : ""}`);
