/**
 * preprocess → train → evaluate: a small but real model, trained in three containers.
 *
 * - preprocess makes a reproducible two-class data set and splits it,
 * - train fits a logistic regression by gradient descent and saves it to /opt/ml/model
 *   (stepbox archives that folder as the step's model.tar.gz),
 * - evaluate scores the model on the held-out rows.
 *
 * Run it with `bash scripts/run-example.sh` (or `npx tsx examples/ml-pipeline.ts` when Docker runs).
 */
import { writeFile } from "node:fs/promises";
import { Pipeline, step } from "stepbox";

type Row = { x: [number, number]; y: 0 | 1 };
type Model = { w: [number, number]; b: number };

const preprocess = step(
  function preprocess(rows: number, seed: number): { train: Row[]; test: Row[] } {
    // A linear congruential generator keeps the data identical on every run.
    let state = seed;
    const random = (): number => ((state = (state * 1664525 + 1013904223) % 2 ** 32) / 2 ** 32);
    const data: Row[] = Array.from({ length: rows }, () => {
      const y = random() < 0.5 ? 0 : 1;
      const centre = y === 1 ? 0.6 : -0.6;
      return { x: [centre + (random() - 0.5) * 3, centre + (random() - 0.5) * 3], y };
    });
    const cut = Math.floor(rows * 0.8);
    console.log(`made ${rows} rows: ${cut} to train on, ${rows - cut} to test`);
    return { train: data.slice(0, cut), test: data.slice(cut) };
  },
  { instanceType: "ml.m5.large" },
);

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

const train = step(
  async function train(rows: Row[], epochs: number, learningRate: number): Promise<Model> {
    const model: Model = { w: [0, 0], b: 0 };
    for (let epoch = 1; epoch <= epochs; epoch++) {
      let loss = 0;
      const grad = { w: [0, 0] as [number, number], b: 0 };
      for (const { x, y } of rows) {
        const p = sigmoid(model.w[0] * x[0] + model.w[1] * x[1] + model.b);
        loss -= y * Math.log(p + 1e-12) + (1 - y) * Math.log(1 - p + 1e-12);
        grad.w[0] += (p - y) * x[0];
        grad.w[1] += (p - y) * x[1];
        grad.b += p - y;
      }
      model.w[0] -= (learningRate * grad.w[0]) / rows.length;
      model.w[1] -= (learningRate * grad.w[1]) / rows.length;
      model.b -= (learningRate * grad.b) / rows.length;
      if (epoch % 10 === 0) console.log(`epoch ${epoch}: loss=${(loss / rows.length).toFixed(4)}`);
    }
    await writeFile("/opt/ml/model/model.json", JSON.stringify(model));
    return model;
  },
  { instanceType: "ml.m5.large" },
);

const evaluate = step(
  function evaluate(model: Model, rows: Row[]): { accuracy: number; rows: number } {
    const correct = rows.filter(({ x, y }) => (sigmoid(model.w[0] * x[0] + model.w[1] * x[1] + model.b) > 0.5 ? 1 : 0) === y).length;
    return { accuracy: correct / rows.length, rows: rows.length };
  },
  { instanceType: "ml.m5.large" },
);

const data = preprocess(500, 42);
const model = train(data.get("train"), 50, 0.5);
const report = evaluate(model, data.get("test"));

const pipeline = new Pipeline({ name: "ml-pipeline", steps: [report] });
const execution = await pipeline.start();
const described = await execution.wait();

console.log(`\nexecution ${execution.id}: ${described.PipelineExecutionStatus}`);
console.table(
  (await execution.listSteps()).reverse().map((s) => ({
    step: s.StepName,
    status: s.StepStatus,
    "duration (ms)": s.EndTime && s.StartTime ? s.EndTime.getTime() - s.StartTime.getTime() : undefined,
    reason: s.FailureReason ?? "",
  })),
);
if (described.PipelineExecutionStatus !== "Succeeded") {
  console.error(described.FailureReason);
  process.exit(1);
}
console.log("evaluate:", await execution.result("evaluate"));
console.log(`artifacts: ${pipeline.session.store.uri}/${pipeline.name}/${execution.id}/`);
