/**
 * preprocess → train → evaluate → (register | fail): a small but real model, trained in containers.
 *
 * - preprocess makes a reproducible two-class data set and splits it (cached: a second run reuses it),
 * - train fits a logistic regression by gradient descent and saves it to /opt/ml/model
 *   (stepbox archives that folder as the step's model.tar.gz),
 * - evaluate scores the model on the held-out rows,
 * - a condition registers the model when its accuracy reaches the `min-accuracy` parameter, and
 *   fails the execution with a message that says so otherwise.
 *
 * Run it with `bash scripts/run-example.sh` (or `npx tsx examples/ml-pipeline.ts` when Docker runs);
 * `bash scripts/run-example.sh 0.99` asks for more accuracy than the model reaches.
 */
import { writeFile } from "node:fs/promises";
import { ConditionGreaterThanOrEqualTo, ConditionStep, FailStep, Join, ParameterFloat, ParameterInteger, Pipeline, step } from "stepbox";

type Row = { x: [number, number]; y: 0 | 1 };
type Model = { w: [number, number]; b: number };

const preprocess = step(
  function preprocess(rows: number, seed: number): { train: Row[]; test: Row[] } {
    // A linear congruential generator keeps the data identical on every run.
    let state = seed;
    const random = (): number => (state = (state * 1664525 + 1013904223) % 2 ** 32) / 2 ** 32;
    const data: Row[] = Array.from({ length: rows }, () => {
      const y = random() < 0.5 ? 0 : 1;
      const centre = y === 1 ? 0.6 : -0.6;
      return { x: [centre + (random() - 0.5) * 3, centre + (random() - 0.5) * 3], y };
    });
    const cut = Math.floor(rows * 0.8);
    console.log(`made ${rows} rows: ${cut} to train on, ${rows - cut} to test`);
    return { train: data.slice(0, cut), test: data.slice(cut) };
  },
  { instanceType: "ml.m5.large", cacheConfig: { enableCaching: true, expireAfter: "P1D" } },
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

const register = step(
  async function register(model: Model, report: { accuracy: number }): Promise<string> {
    const card = { model, accuracy: report.accuracy, registeredAt: new Date().toISOString() };
    await writeFile("/opt/ml/model/model-card.json", JSON.stringify(card, null, 2));
    return `registered with accuracy ${report.accuracy}`;
  },
  { instanceType: "ml.m5.large" },
);

const epochs = new ParameterInteger({ name: "epochs", defaultValue: 50 });
const learningRate = new ParameterFloat({ name: "learning-rate", defaultValue: 0.5 });
const minAccuracy = new ParameterFloat({ name: "min-accuracy", defaultValue: 0.8 });

const data = preprocess(500, 42);
const model = train(data.get("train"), epochs, learningRate);
const report = evaluate(model, data.get("test"));
const gate = new ConditionStep({
  name: "accurate-enough",
  conditions: [new ConditionGreaterThanOrEqualTo({ left: report.get("accuracy"), right: minAccuracy })],
  ifSteps: [register(model, report)],
  elseSteps: [new FailStep({ name: "not-accurate-enough", errorMessage: new Join({ on: " ", values: ["accuracy is below", minAccuracy] }) })],
});

const pipeline = new Pipeline({ name: "ml-pipeline", steps: [gate], parameters: [epochs, learningRate, minAccuracy] });
const wanted = process.argv[2];
const execution = await pipeline.start(wanted ? { parameters: { "min-accuracy": Number(wanted) } } : {});
const described = await execution.wait();

console.log(`\nexecution ${execution.id}: ${described.PipelineExecutionStatus}`);
console.table(
  (await execution.listSteps()).reverse().map((s) => ({
    step: s.StepName,
    status: s.StepStatus,
    "duration (ms)": s.EndTime && s.StartTime ? s.EndTime.getTime() - s.StartTime.getTime() : undefined,
    cache: s.CacheHitResult ? "hit" : s.CacheMissReason ? "miss" : "",
    reason: s.FailureReason ?? (s.Metadata.Condition ? `outcome: ${s.Metadata.Condition.Outcome}` : ""),
  })),
);
if (described.PipelineExecutionStatus !== "Succeeded") {
  console.error(described.FailureReason);
  process.exit(1);
}
console.log("evaluate:", await execution.result("evaluate"));
console.log("register:", await execution.result("register"));
console.log(`artifacts: ${pipeline.session.store.uri}/${pipeline.name}/${execution.id}/`);
