/**
 * The pipeline bench/process-start runs as a process: one trivial step. `stepbox run` runs its export;
 * `tsx` runs the file itself, which then starts it (as examples/seed.ts does).
 */
import { Pipeline, step } from "stepbox";

const hello = step(function hello(): number {
  return 1;
});

export const pipeline = new Pipeline({ name: "bench-process-start", steps: [hello()] });

if (process.env.BENCH_START_ITSELF === "1") await (await pipeline.start()).wait();
