/**
 * A definition names each step's module by its path from the project's root (the nearest folder
 * above it with a package.json), so two checkouts of one project in different folders give the same
 * bytes, and no folder of this machine appears in it.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "stepbox";

/** A user's project: steps in one module, the pipeline in another, as two folders down from the root. */
const PROJECT: Record<string, string> = {
  "package.json": JSON.stringify({ name: "churn", type: "module" }),
  "src/steps/model.ts": `
import { step } from "stepbox";
export const prepare = step(function prepare(rows: number) { return { rows }; });
export const train = step(function train(data: { rows: number }) { return { acc: data.rows / 100 }; }, { instanceType: "ml.m5.large" });
`,
  "src/pipelines/churn.ts": `
import { LocalPipelineSession, Pipeline } from "stepbox";
import { prepare, train } from "../steps/model.js";
const data = prepare(10);
export const pipeline = new Pipeline({
  name: "churn",
  steps: [train(data), train(prepare(20))],
  session: new LocalPipelineSession({ artifactRoot: "store", secret: "s" }),
});
`,
};

const checkouts: string[] = [];

async function checkout(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "stepbox-checkout-"));
  checkouts.push(dir);
  for (const [path, text] of Object.entries(PROJECT)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

async function definitionIn(dir: string): Promise<string> {
  const loaded = (await import(join(dir, "src", "pipelines", "churn.ts"))) as { pipeline: Pipeline };
  return loaded.pipeline.definition();
}

let first: string;
let second: string;

beforeAll(async () => {
  first = await definitionIn(await checkout());
  second = await definitionIn(await checkout());
});

afterAll(async () => {
  await Promise.all(checkouts.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("a definition built in two checkouts of one project", () => {
  it("is the same bytes", () => {
    expect(checkouts[0]).not.toBe(checkouts[1]);
    expect(second).toBe(first);
  });

  it("names modules from the project's root, and no folder of this machine", () => {
    const steps = (
      JSON.parse(first) as { Steps: Array<{ Name: string; DisplayName: string; Description: string; Arguments: { Environment: Record<string, string> } }> }
    ).Steps;
    expect(steps.map((s) => s.DisplayName).sort()).toEqual([
      "src.steps.model.prepare",
      "src.steps.model.prepare",
      "src.steps.model.train",
      "src.steps.model.train",
    ]);
    expect(new Set(steps.map((s) => s.Description))).toEqual(new Set(["src/steps/model.ts"]));
    for (const s of steps) expect(s.Arguments.Environment.STEPBOX_DEFINITION_KEY).toMatch(/^src\/steps\/model\.ts@[0-9a-f]{16}#(prepare|train)#1$/);
    for (const folder of [tmpdir(), homedir(), ...checkouts, process.cwd()]) expect(first).not.toContain(folder);
  });
});
