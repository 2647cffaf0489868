/**
 * bench/step-overhead: the wall time of a trivial step through stepbox (start → result), against a
 * bare dockerode create/start/wait/remove of the same image in the same run. Both run `node` in a
 * container with the same sandbox settings; stepbox adds bundling, signing, records, log capture and
 * result collection. Runs alternate so drift on a noisy machine hits both sides alike.
 *
 * Run: npx tsx bench/step-overhead.ts [rounds]   (writes its section of BENCHMARKS.md)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { LocalPipelineSession, Pipeline, getStep } from "stepbox";
import { trivial } from "./trivial-step.js";
import { writeBenchmarkSection } from "./report.js";

const rounds = Number(process.argv[2] ?? 15);
const root = await mkdtemp(join(tmpdir(), "stepbox-bench-"));
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

async function stepboxStep(i: number): Promise<number> {
  const started = performance.now();
  const output = trivial(i);
  const execution = await new Pipeline({ name: "overhead", steps: [output], session }).start();
  const value = await execution.result(getStep(output).name);
  if (value !== i) throw new Error(`trivial step returned ${String(value)}, expected ${i}`);
  await execution.wait();
  return performance.now() - started;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

// Warm both paths: the bundle cache, the image's layers in the page cache.
await bareLifecycle();
await stepboxStep(-1);
const bare: number[] = [];
const ours: number[] = [];
for (let i = 0; i < rounds; i++) {
  bare.push(await bareLifecycle());
  ours.push(await stepboxStep(i));
}
await rm(root, { recursive: true, force: true });

const ratio = median(ours) / median(bare);
const table = [
  "| what | median ms | min ms | max ms |",
  "|---|---|---|---|",
  `| bare dockerode create/start/wait/remove | ${median(bare).toFixed(0)} | ${Math.min(...bare).toFixed(0)} | ${Math.max(...bare).toFixed(0)} |`,
  `| trivial step through stepbox (start → result) | ${median(ours).toFixed(0)} | ${Math.min(...ours).toFixed(0)} | ${Math.max(...ours).toFixed(0)} |`,
  "",
  `**Ratio stepbox / bare: ${ratio.toFixed(2)}** (${rounds} rounds, alternating; target ≤ 1.5, goal 1.2)`,
].join("\n");
console.log(table);
await writeBenchmarkSection("Step overhead", table, `npx tsx bench/step-overhead.ts ${rounds}`);
