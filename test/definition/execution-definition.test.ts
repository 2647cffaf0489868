/**
 * Each execution keeps the definition it ran with. A pipeline changed between two runs (a second
 * Pipeline object with the same name and other steps) moves pipeline.json on, but the first
 * execution's describeDefinition(), report, `stepbox graph` and `stepbox definition` still show what
 * it ran. An execution recorded before stepbox kept its definition (its file removed here) gets a
 * NOT_FOUND error from describeDefinition(), and a picture of the latest definition with a warning.
 * Real Docker, a temporary store.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pipeline, StepboxError, type PipelineExecution } from "stepbox";
import { loadRunReport } from "../../src/report/index.js";
import { buildCli, cli } from "../cli/cli.js";
import { add, constant } from "../fixtures/steps.js";
import { leftoverContainers, testSession } from "../support/session.js";

const NAME = "changing";

let ctx: Awaited<ReturnType<typeof testSession>>;
let second: Pipeline;
let firstDefinition: string;
let secondDefinition: string;
let firstSteps: string[];
let secondSteps: string[];
let one: PipelineExecution;
let two: PipelineExecution;

const stepsOf = (definition: string): string[] => (JSON.parse(definition) as { Steps: Array<{ Name: string }> }).Steps.map((s) => s.Name);

async function runToSuccess(pipeline: Pipeline): Promise<PipelineExecution> {
  const execution = await pipeline.start();
  expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
  expect(await leftoverContainers(execution.id)).toEqual([]);
  return execution;
}

beforeAll(async () => {
  ctx = await testSession();
  // constant → add, then constant, constant → add: only the second pipeline has a constant-2, so a
  // drawing shows which definition it is of.
  const one1 = constant(1);
  const sum1 = add(one1, 2);
  const one2 = constant(1);
  const ten2 = constant(10);
  const sum2 = add(one2, ten2);
  const first = new Pipeline({ name: NAME, steps: [sum1], session: ctx.session });
  second = new Pipeline({ name: NAME, steps: [sum2], session: ctx.session });
  firstDefinition = first.definition();
  secondDefinition = second.definition();
  firstSteps = stepsOf(firstDefinition);
  secondSteps = stepsOf(secondDefinition);
  expect([...firstSteps].sort()).toEqual([one1, sum1].map((o) => first.stepName(o)).sort());
  expect([...secondSteps].sort()).toEqual([one2, ten2, sum2].map((o) => second.stepName(o)).sort());
  const built = buildCli();
  one = await runToSuccess(first);
  two = await runToSuccess(second);
  await built;
}, 300_000);

afterAll(async () => {
  await ctx?.cleanup();
});

describe("an execution's own definition", () => {
  it("describeDefinition() answers the definition each execution ran with, whatever the pipeline became", async () => {
    expect([...firstSteps].sort()).toEqual(["add", "constant"]);
    expect([...secondSteps].sort()).toEqual(["add", "constant", "constant-2"]);
    expect((await second.describe()).PipelineDefinition).toBe(secondDefinition);

    const ownOfOne = await one.describeDefinition();
    expect(ownOfOne.PipelineDefinition).toBe(firstDefinition);
    expect(ownOfOne.CreationTime).toEqual((await one.describe()).CreationTime);
    expect((await two.describeDefinition()).PipelineDefinition).toBe(secondDefinition);

    // Read back from the store, as another process sees it.
    const recorded = await second.execution(one.id);
    expect((await recorded.describeDefinition()).PipelineDefinition).toBe(firstDefinition);
    expect(await readFile(join(ctx.root, NAME, one.id, "definition.json"), "utf8")).toBe(firstDefinition);
  });

  it("is recorded for a selective execution too", async () => {
    const selective = await second.start({ selectiveExecution: { sourceExecutionId: two.id, steps: ["add"] } });
    expect((await selective.wait()).PipelineExecutionStatus).toBe("Succeeded");
    expect((await selective.describeDefinition()).PipelineDefinition).toBe(secondDefinition);
    expect(await leftoverContainers(selective.id)).toEqual([]);
  });

  it("is what the report, `stepbox graph` and `stepbox definition` show", async () => {
    const report = await loadRunReport(ctx.session, NAME, one.id);
    expect(report.definition).toBe(firstDefinition);
    expect(report.definitionChanged).toBe(false);
    expect(report.steps.map((s) => s.name)).toEqual(firstSteps);

    const graph = await cli(ctx.root, ["graph", one.id.slice(0, 6), "--format", "dot"]);
    expect(graph.code).toBe(0);
    expect(graph.stderr).toBe("");
    expect(graph.stdout).toMatch(/"constant" \[.*tooltip="Succeeded"\]/);
    expect(graph.stdout).toMatch(/"add" \[.*tooltip="Succeeded"\]/);
    expect(graph.stdout).not.toContain(`"constant-2"`);

    const definition = await cli(ctx.root, ["definition", one.id.slice(0, 6)]);
    expect(definition.code).toBe(0);
    expect(definition.stdout).toBe(`${firstDefinition}\n`);
  });
});

describe("an execution recorded before stepbox kept its definition", () => {
  beforeAll(async () => {
    await rm(join(ctx.root, NAME, one.id, "definition.json"));
  });

  it("describeDefinition() throws NOT_FOUND with a hint instead of answering with the latest definition", async () => {
    const error = await one.describeDefinition().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StepboxError);
    expect((error as StepboxError).code).toBe("NOT_FOUND");
    expect((error as StepboxError).message).toContain(`execution ${one.id} of pipeline "${NAME}" has no definition of its own`);
    expect((error as StepboxError).hint).toContain("recorded before stepbox kept each execution's definition");

    const definition = await cli(ctx.root, ["definition", one.id]);
    expect(definition.code).toBe(2);
    expect(definition.stdout).toBe("");
    expect(definition.stderr).toMatch(/^error: execution \w+ of pipeline "changing" has no definition of its own in file:\/\/.*\nhint: it was recorded before/);
  });

  it("is drawn from the pipeline's latest definition, saying it may differ from what ran", async () => {
    const report = await loadRunReport(ctx.session, NAME, one.id);
    expect(report.definition).toBe(secondDefinition);
    expect(report.definitionChanged).toBe(true);

    const graph = await cli(ctx.root, ["graph", one.id]);
    expect(graph.code).toBe(0);
    expect(graph.stderr).toBe(
      `warning: execution ${one.id} was recorded before stepbox kept each execution's definition, and pipeline ${NAME} was changed after it started; the graph is of its latest definition\n`,
    );
  });
});
