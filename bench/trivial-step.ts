/**
 * The steps the overhead benchmark runs. They do next to nothing, so what is measured is stepbox:
 * a bare step, one that uses the whole training-job contract, and one on two hosts.
 */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { step } from "stepbox";

export const BENCH_CHANNEL = join(tmpdir(), "stepbox-bench-channel");

export const trivial = step(function trivial(n: number): number {
  return n;
});

/** Reads a channel and its config, writes a model and output data: config files, a mount, two archives. */
export const contract = step(
  async function contract(n: number): Promise<number> {
    const files = await readdir("/opt/ml/input/data/train");
    await mkdir("/opt/ml/model/weights", { recursive: true });
    await writeFile("/opt/ml/model/weights/w.bin", Buffer.alloc(64 * 1024, n));
    await writeFile("/opt/ml/output/data/metrics.json", JSON.stringify({ n, files: files.length }));
    return n;
  },
  { inputs: { train: pathToFileURL(BENCH_CHANNEL).href }, hyperparameters: { epochs: 3, lr: 0.1 } },
);

/** One link of the chain case: each link takes the previous link's output. */
export const link = step(function link(n: number): number {
  return n + 1;
});

export const twoHosts = step(
  function twoHosts(n: number): number {
    return n;
  },
  { instanceCount: 2 },
);
