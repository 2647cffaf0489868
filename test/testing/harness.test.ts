import { stat } from "node:fs/promises";
import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { Pipeline, SerializationError, StepFailedError, ValidationError } from "stepbox";
import { callStep, runPipeline, TEST_SECRET } from "stepbox/testing";
import { inspectArgument, Point, returnsFunction, tally, throwsCoded, top } from "../fixtures/testing/steps.js";

/** Containers of an execution that still exist, found by stepbox's labels. */
async function containersOf(executionId: string): Promise<string[]> {
  const found = await new Docker().listContainers({ all: true, filters: { label: [`dev.stepbox.execution=${executionId}`] } });
  return found.map((c) => c.Id);
}

const gone = (path: string): Promise<boolean> =>
  stat(path).then(
    () => false,
    () => true,
  );

const since = new Date("2024-05-01T00:00:00Z");
const words = top(tally(["a", "b", "a"]), since);
const wordsPipeline = new Pipeline({ name: "words", steps: [words] });

describe("runPipeline", () => {
  it("runs a pipeline in a temporary store, gives its results by step name, and removes everything when disposed", async () => {
    let root = "";
    let executionId = "";
    {
      await using run = await runPipeline(wordsPipeline);
      root = run.artifactRoot;
      executionId = run.execution.id;
      expect(run.description.PipelineExecutionStatus).toBe("Succeeded");
      expect(Object.keys(run.steps).sort()).toEqual(["tally", "top"]);
      expect(run.steps.tally?.StepStatus).toBe("Succeeded");
      expect(run.results.tally).toEqual(
        new Map([
          ["a", 2],
          ["b", 1],
        ]),
      );
      expect(run.results.top).toEqual({ word: "a", count: 2, since, checked: new Date("2024-05-01T00:00:01Z"), bytes: Buffer.from("a") });
      expect(run.logs).toContainEqual({ step: "tally", stream: "stdout", line: "counting 3 words" });
      expect(run.session.store.uri).toContain(root);
      expect(await gone(root)).toBe(false);
    }
    expect(await gone(root)).toBe(true);
    expect(await containersOf(executionId)).toEqual([]);
    // The pipeline's own session and store were never used.
    expect(wordsPipeline.session.artifactRoot).not.toBe(root);
  });

  it("resolves with a failed run, whose step failure reads as in a pipeline, and cleanup() removes it", async () => {
    const run = await runPipeline(new Pipeline({ name: "fails", steps: [throwsCoded(0)] }), { secret: "another-secret" });
    try {
      expect(run.description.PipelineExecutionStatus).toBe("Failed");
      expect(run.steps.throwsCoded?.FailureReason).toBe("Error: no rows: got 0");
      expect(run.results).toEqual({});
      const failure = await run.execution.result("throwsCoded").catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(StepFailedError);
      expect((failure as StepFailedError).originalError).toMatchObject({ name: "Error", message: "no rows: got 0", code: "E_EMPTY" });
    } finally {
      await run.cleanup();
      await run.cleanup();
    }
    expect(await gone(run.artifactRoot)).toBe(true);
    expect(await containersOf(run.execution.id)).toEqual([]);
  });

  it("signs with a fixed secret by default", () => {
    expect(TEST_SECRET).toBe("stepbox-testing");
  });
});

describe("callStep", () => {
  it("hands over arguments and the result through the codec: Map, Date, Buffer survive", async () => {
    const counts = await callStep(tally, ["x", "y", "x"]);
    expect(counts).toEqual(
      new Map([
        ["x", 2],
        ["y", 1],
      ]),
    );
    const best = await callStep(top, counts, since);
    expect(best.since).toBeInstanceOf(Date);
    expect(best.since).not.toBe(since);
    expect(best.since.getTime()).toBe(since.getTime());
    expect(Buffer.isBuffer(best.bytes) && best.bytes.toString()).toBe("x");
  });

  it("gives a class instance to the function as a plain object, as a container does", async () => {
    expect(await callStep(inspectArgument, new Point(3, 4))).toEqual({ isPoint: false, hasNorm: false, x: 3 });
  });

  it("fails a result that cannot cross, naming where it is", async () => {
    const error = await callStep(returnsFunction).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).path).toBe("result.model.predict");
  });

  it("throws the step's error as it crosses the boundary: name, message, cause and code", async () => {
    const error = (await callStep(throwsCoded, 0).catch((e: unknown) => e)) as Error & { code?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe("no rows: got 0");
    expect(error.code).toBe("E_EMPTY");
    expect(error.cause).toBeInstanceOf(RangeError);
  });

  it("refuses a step's output as an argument, which only a pipeline run can resolve", async () => {
    await expect(callStep(top, tally(["a"]) as unknown as Map<string, number>, since)).rejects.toBeInstanceOf(ValidationError);
  });
});
