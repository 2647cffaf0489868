/**
 * bench/step-overhead: the wall time of steps through stepbox (start → result → execution done)
 * against bare dockerode create/start/wait/remove lifecycles of the same image, in the same run:
 * - one trivial step against one bare lifecycle,
 * - a 20-step chain (each step takes the previous one's output) against twenty bare lifecycles in sequence,
 * - 64 independent trivial steps at parallelism 2 against 64 bare lifecycles through p-queue(2), and
 *   at the CPU count the same way where that is not 2 (case wideAtCpus),
 * - a trivial step on two hosts (a private network, two containers) against one bare lifecycle, with
 *   two bare containers on a private network beside it (what the engine alone costs for that shape),
 * - a step that uses the training-job contract (config files, an input channel, model and output
 *   archives) against one bare lifecycle.
 * Both sides run `node` in a container with the same sandbox settings. Each round runs every case,
 * bare side and stepbox side back to back, so drift on a noisy machine hits both alike.
 *
 * Run: npx tsx bench/step-overhead.ts [--rounds N] [--long-rounds M] [--only one,chain,wide,wideAtCpus,twoHosts,contract]
 * Progress goes to stderr; stdout gets one Markdown section (bench/run-all.ts puts it into BENCHMARKS.md).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import PQueue from "p-queue";
import type Docker from "dockerode";
import { LocalPipelineSession, Pipeline, type DelayedReturn } from "stepbox";
import { BENCH_CHANNEL, contract, link, trivial, twoHosts } from "./trivial-step.js";
import { median, progress, targetLine, writeBenchmarkSection } from "./report.js";
import { connectDocker } from "../src/runtime/docker/docker-engine.js";
import { LABEL, managedLabels } from "../src/runtime/docker/labels.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "9" },
    "long-rounds": { type: "string", default: "3" },
    only: { type: "string" },
  },
});
const rounds = Number(args.rounds);
const longRounds = Number(args["long-rounds"]);
const CHAIN = 20;
const WIDE = 64;
const WIDE_PARALLELISM = 2;

const root = await mkdtemp(join(tmpdir(), "stepbox-bench-"));
await mkdir(BENCH_CHANNEL, { recursive: true });
for (let i = 0; i < 10; i++) await writeFile(join(BENCH_CHANNEL, `part-${i}.csv`), "a,b\n1,2\n".repeat(100));
const session = new LocalPipelineSession({ artifactRoot: root, secret: "bench", onLog: () => {} });
const runtime = await session.runtime();
// The baseline talks to the engine directly: a bare container, none of stepbox's steps around it.
const docker = await connectDocker();

/** A bare container that runs `node -e 0` in the sandbox a step gets, on `network` (default: none). */
function bareContainer(network = "none", hostname?: string): Promise<Docker.Container> {
  return docker.createContainer({
    Image: runtime.image,
    Entrypoint: ["/usr/local/bin/node", "-e", "0"],
    // stepbox's labels, owned by this live process: other sessions' orphan sweeps leave it alone.
    Labels: managedLabels({ [LABEL.owner]: session.owner }),
    User: "1000:1000",
    ...(hostname ? { Hostname: hostname } : {}),
    HostConfig: {
      NetworkMode: network,
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw" },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      PidsLimit: 512,
      Memory: 8 * 1024 ** 3,
      NanoCpus: Math.min(2, cpus().length) * 1e9,
    },
  });
}

async function bareLifecycle(): Promise<void> {
  const container = await bareContainer();
  await container.start();
  await container.wait();
  await container.remove({ force: true }).catch((error: { statusCode?: number }) => {
    // Another process on this shared engine (a prune) got to it first.
    if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
  });
}

/**
 * What two hosts cost the engine itself: a private network, two containers on it created and started
 * together, waited for and removed, then the network removed. Shown beside the two-host case, whose
 * target is against one bare lifecycle.
 */
async function bareTwoHosts(): Promise<void> {
  const network = await docker.createNetwork({
    Name: `stepbox-bench-${process.pid}-${Date.now()}`,
    Driver: "bridge",
    Internal: true,
    Labels: managedLabels({ [LABEL.owner]: session.owner }),
  });
  try {
    const containers = await Promise.all(["algo-1", "algo-2"].map((host) => bareContainer(network.id, host)));
    await Promise.all(containers.map((c) => c.start()));
    await Promise.all(containers.map((c) => c.wait()));
    await Promise.all(containers.map((c) => c.remove({ force: true })));
  } finally {
    await network.remove();
  }
}

/** Runs a pipeline of `outputs` to its end and checks every output's value. */
async function throughStepbox(outputs: ReadonlyArray<{ output: DelayedReturn; expected: number }>, parallelism?: number): Promise<void> {
  const pipeline = new Pipeline({ name: "overhead", steps: outputs.map((o) => o.output), session });
  const execution = await pipeline.start(parallelism ? { parallelism } : {});
  for (const { output, expected } of outputs) {
    const name = pipeline.stepName(output);
    const value = await execution.result(name);
    if (value !== expected) throw new Error(`step ${name} returned ${String(value)}, expected ${expected}`);
  }
  const { PipelineExecutionStatus: status } = await execution.wait();
  if (status !== "Succeeded") throw new Error(`execution ${execution.id} ended ${status}`);
}

/** 64 independent trivial steps at `parallelism`, against 64 bare lifecycles through p-queue(parallelism). */
function wideCase(parallelism: number): Case {
  return {
    what: `${WIDE} independent trivial steps at parallelism ${parallelism}`,
    baseline: `${WIDE} bare lifecycles through p-queue(${parallelism})`,
    target: 1.0,
    long: true,
    bare: async () => {
      const queue = new PQueue({ concurrency: parallelism });
      await Promise.all(Array.from({ length: WIDE }, () => queue.add(bareLifecycle)));
    },
    stepbox: (i) =>
      throughStepbox(
        Array.from({ length: WIDE }, (_, k) => ({ output: trivial(i * WIDE + k), expected: i * WIDE + k })),
        parallelism,
      ),
  };
}

interface Case {
  readonly what: string;
  readonly baseline: string;
  readonly target: number;
  readonly long: boolean;
  bare(): Promise<void>;
  /** What the engine alone costs for the same shape, measured beside the baseline and shown as its own row. */
  readonly reference?: { readonly what: string; run(): Promise<void> };
  stepbox(i: number): Promise<void>;
}

const cases: Record<string, Case> = {
  one: {
    what: "one trivial step (start → result → done)",
    baseline: "one bare create/start/wait/remove",
    target: 1.0,
    long: false,
    bare: bareLifecycle,
    stepbox: (i) => throughStepbox([{ output: trivial(i), expected: i }]),
  },
  chain: {
    what: `a ${CHAIN}-step chain, each step taking the previous one's output`,
    baseline: `${CHAIN} bare lifecycles in sequence`,
    target: 0.9,
    long: true,
    bare: async () => {
      for (let k = 0; k < CHAIN; k++) await bareLifecycle();
    },
    stepbox: (i) => {
      let output = link(i);
      for (let k = 1; k < CHAIN; k++) output = link(output);
      return throughStepbox([{ output, expected: i + CHAIN }]);
    },
  },
  // At parallelism 2, and at the CPU count where that differs (on a 2-core machine they are one case).
  ...Object.fromEntries(
    [...new Set([WIDE_PARALLELISM, cpus().length])].map((parallelism) => [parallelism === WIDE_PARALLELISM ? "wide" : "wideAtCpus", wideCase(parallelism)]),
  ),
  twoHosts: {
    what: "a trivial step on two hosts (private network, 2 containers)",
    baseline: "one bare create/start/wait/remove",
    target: 1.5,
    long: false,
    bare: bareLifecycle,
    reference: { what: "two bare containers on a private network (network and containers created, started, removed)", run: bareTwoHosts },
    stepbox: (i) => throughStepbox([{ output: twoHosts(i), expected: i }]),
  },
  contract: {
    what: "a step using the training-job contract: config files, a 10-file channel, model + output archives",
    baseline: "one bare create/start/wait/remove",
    target: 1.2,
    long: false,
    bare: bareLifecycle,
    stepbox: (i) => throughStepbox([{ output: contract(i), expected: i }]),
  },
};
const chosen = Object.entries(cases).filter(([name]) => !args.only || args.only.split(",").includes(name));
if (chosen.length === 0) throw new Error(`--only names none of: ${Object.keys(cases).join(", ")}`);

const timed = async (run: () => Promise<void>): Promise<number> => {
  const started = performance.now();
  await run();
  return performance.now() - started;
};

// Warm every path once: the bundle cache, the image's layers in the page cache.
await bareLifecycle();
for (const [, c] of chosen) if (!c.long) await c.stepbox(-1);
const times = new Map(chosen.map(([name]) => [name, { bare: [] as number[], stepbox: [] as number[], reference: [] as number[] }]));
for (let round = 0; round < rounds; round++) {
  for (const [name, c] of chosen) {
    if (c.long && round >= longRounds) continue;
    const t = times.get(name)!;
    // Which side goes first alternates, so neither always runs on a machine the other just warmed.
    if (round % 2 === 0) {
      t.bare.push(await timed(c.bare));
      t.stepbox.push(await timed(() => c.stepbox(round)));
    } else {
      t.stepbox.push(await timed(() => c.stepbox(round)));
      t.bare.push(await timed(c.bare));
    }
    if (c.reference) t.reference.push(await timed(c.reference.run));
    progress(`round ${round + 1}/${rounds} ${name}: bare ${t.bare.at(-1)!.toFixed(0)} ms, stepbox ${t.stepbox.at(-1)!.toFixed(0)} ms`);
  }
}
await rm(root, { recursive: true, force: true });
await rm(BENCH_CHANNEL, { recursive: true, force: true });

const ms = (x: number): string => x.toFixed(0);
const lines = ["| case | side | median ms | min ms | max ms | ratio (median) | ratio (min) | target | met |", "|---|---|---|---|---|---|---|---|---|"];
const verdicts: string[] = [];
for (const [name, c] of chosen) {
  const { bare, stepbox, reference } = times.get(name)!;
  const ratio = median(stepbox) / median(bare);
  const met = ratio <= c.target;
  lines.push(`| ${name} | ${c.baseline} (baseline) | ${ms(median(bare))} | ${ms(Math.min(...bare))} | ${ms(Math.max(...bare))} | 1.00 | 1.00 | | |`);
  if (c.reference && reference.length > 0) {
    lines.push(
      `| ${name} | ${c.reference.what} (the engine alone) | ${ms(median(reference))} | ${ms(Math.min(...reference))} | ${ms(Math.max(...reference))} | ${(median(reference) / median(bare)).toFixed(2)} | ${(Math.min(...reference) / Math.min(...bare)).toFixed(2)} | | |`,
    );
  }
  lines.push(
    `| ${name} | ${c.what} | ${ms(median(stepbox))} | ${ms(Math.min(...stepbox))} | ${ms(Math.max(...stepbox))} | ${ratio.toFixed(2)} | ${(Math.min(...stepbox) / Math.min(...bare)).toFixed(2)} | ≤ ${c.target.toFixed(1)} | ${met ? "yes" : "no"} |`,
  );
  verdicts.push(targetLine(`${c.what} ≤ ${c.target.toFixed(1)}× ${c.baseline}`, met, `${ratio.toFixed(2)}×, median of ${stepbox.length} rounds`));
}
const command = `npx tsx bench/step-overhead.ts --rounds ${rounds} --long-rounds ${longRounds}${args.only ? ` --only ${args.only}` : ""}`;
const body = [...lines, "", "Ratios are to the same run's bare lifecycles; the sides alternate which goes first each round.", "", ...verdicts].join("\n");
await writeBenchmarkSection("Step overhead", body, command);
