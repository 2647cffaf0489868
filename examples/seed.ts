/**
 * The smallest stepbox pipeline: one `train` step, started, waited for, read back.
 * Run it with `npx tsx examples/seed.ts`.
 *
 * The same file defines the step and starts the pipeline. Inside the step's container only the
 * step's function runs: the container build of stepbox makes `pipeline.start()` do nothing there.
 */
import { Pipeline, step } from "stepbox";

const train = step(
  async function train(epochs: number, learningRate: number) {
    let loss = 1;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      loss *= 1 - learningRate;
      console.log(`epoch ${epoch}: loss=${loss.toFixed(4)}`);
    }
    return { loss, epochs };
  },
  { instanceType: "ml.m5.large" },
);

const pipeline = new Pipeline({ name: "seed", steps: [train(5, 0.3)] });
const execution = await pipeline.start();
console.log("result:", await execution.result("train"));
for (const s of await execution.listSteps()) {
  console.log(`${s.StepName}: ${s.StepStatus} in ${s.EndTime!.getTime() - s.StartTime!.getTime()} ms`);
}
