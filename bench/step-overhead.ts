/**
 * bench/step-overhead: the wall time of steps through stepbox (start → result) against a bare
 * dockerode create/start/wait/remove of the same image, in the same run:
 * - a trivial step (bundling, signing, records, log capture, result collection),
 * - a step that uses the training-job contract (config files, an input channel, model and output archives),
 * - a trivial step on two hosts (a private network, two containers).
 * Both sides run `node` in a container with the same sandbox settings. Runs alternate so drift on a
 * noisy machine hits every side alike.
 *
 * Run: npx tsx bench/step-overhead.ts [rounds]   (writes its section of BENCHMARKS.md)
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { LocalPipelineSession, Pipeline, getStep, type DelayedReturn } from "stepbox";
import { BENCH_CHANNEL, contract, trivial, twoHosts } from "./trivial-step.js";
import { writeBenchmarkSection } from "./report.js";

const rounds = Number(process.argv[2] ?? 15);
const root = await mkdtemp(join(tmpdir(), "stepbox-bench-"));
await mkdir(BENCH_CHANNEL, { recursive: true });
for (let i = 0; i < 10; i++) await writeFile(join(BENCH_CHANNEL, `part-${i}.csv`), "a,b\n1,2\n".repeat(100));
const session = new LocalPipelineSession({ artifactRoot: root, secret: "bench", onLog: () => {} });
const runtime = await session.runtime();

async function bareLifecycle(): Promise<number> {
  const started = performance.now();
  const container = await runtime.docker.createContainer({
    Image: runtime.image,
    Entrypoint: ["/usr/local/bin/node", "-e", "0"],
    User: "1000:1000",
    HostConfig: {
      NetworkMode: "none",
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw" },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      PidsLimit: 512,
      Memory: 8 * 1024 ** 3,
      NanoCpus: Math.min(2, cpus().length) * 1e9,
    },
  });
  await container.start();
  await container.wait();
  await container.remove({ force: true });
  return performance.now() - started;
}

async function throughStepbox(make: (i: number) => DelayedReturn, i: number): Promise<number> {
  const started = performance.now();
  const output = make(i);
  const execution = await new Pipeline({ name: "overhead", steps: [output], session }).start();
  const value = await execution.result(getStep(output).name);
  if (value !== i) throw new Error(`step ${getStep(output).name} returned ${String(value)}, expected ${i}`);
  await execution.wait();
  return performance.now() - started;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const kinds = {
  trivial: (i: number) => trivial(i),
  contract: (i: number) => contract(i),
  twoHosts: (i: number) => twoHosts(i),
};
// Warm every path: the bundle cache, the image's layers in the page cache.
await bareLifecycle();
for (const make of Object.values(kinds)) await throughStepbox(make, -1);
const times: Record<"bare" | keyof typeof kinds, number[]> = { bare: [], trivial: [], contract: [], twoHosts: [] };
for (let i = 0; i < rounds; i++) {
  times.bare.push(await bareLifecycle());
  for (const [kind, make] of Object.entries(kinds)) times[kind as keyof typeof kinds].push(await throughStepbox(make, i));
}
await rm(root, { recursive: true, force: true });
await rm(BENCH_CHANNEL, { recursive: true, force: true });

const base = median(times.bare);
const row = (what: string, xs: number[]): string =>
  `| ${what} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)} | ${(median(xs) / base).toFixed(2)} |`;
const table = [
  "| what | median ms | min ms | max ms | ratio to bare |",
  "|---|---|---|---|---|",
  row("bare dockerode create/start/wait/remove (baseline)", times.bare),
  row("trivial step through stepbox (start → result)", times.trivial),
  row("step using the training-job contract: config files, a 10-file channel, model + output archives", times.contract),
  row("trivial step on two hosts (private network, 2 containers)", times.twoHosts),
  "",
  `**Trivial step: ${(median(times.trivial) / base).toFixed(2)}× the bare lifecycle** (target ≤ 1.5, goal 1.2). ` +
    `The contract adds ${(median(times.contract) - median(times.trivial)).toFixed(0)} ms over a trivial step; a second host adds ` +
    `${(median(times.twoHosts) - median(times.trivial)).toFixed(0)} ms. ${rounds} rounds, alternating.`,
].join("\n");
console.log(table);
await writeBenchmarkSection("Step overhead", table, `npx tsx bench/step-overhead.ts ${rounds}`);
