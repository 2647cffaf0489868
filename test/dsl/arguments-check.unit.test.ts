/**
 * Arguments that cannot reach a step's container (a function, a symbol...) are refused by start()
 * before anything is recorded, naming where they sit, by the codec's own rules. No Docker: the check
 * comes before the engine is asked for anything.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipelineSession, Pipeline, ValidationError, step } from "stepbox";

const fit = step(function fit(options: { rate: number; callback?: () => void; where?: unknown }) {
  return options.rate;
});
const source = step(function source() {
  return 1;
});

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

let root: string;
let session: LocalPipelineSession;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "stepbox-arguments-"));
  session = new LocalPipelineSession({ artifactRoot: root, secret: "s" });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("arguments that cannot cross into a container", () => {
  it("make start() refuse the pipeline, naming the step and the path, before anything is recorded", async () => {
    const pipeline = new Pipeline({ name: "with-callback", steps: [fit({ rate: 0.1, callback: () => undefined })], session });
    const error = await pipeline.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe("SERIALIZATION");
    expect((error as ValidationError).message).toMatch(
      /^step "fit" cannot send its arguments to its container: cannot serialize a function at arguments\[0\]\.callback/,
    );
    expect(await session.records.readPipeline("with-callback")).toBeUndefined();
    expect(await session.records.listExecutionIds("with-callback")).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });

  it("are refused by definition() too, a symbol as a function is", () => {
    const pipeline = new Pipeline({ name: "with-symbol", steps: [fit({ rate: 1, where: [1, Symbol("here")] })], session });
    expect(() => pipeline.definition()).toThrow(/cannot serialize a symbol at arguments\[0\]\.where\[1\]/);
  });

  it("include a step's output put where the engine does not resolve it", () => {
    const pipeline = new Pipeline({ name: "in-a-map", steps: [fit({ rate: 1, where: new Map([["k", source()]]) })], session });
    // Steps are found only in arrays and plain objects: one inside a Map is not the pipeline's, and is named so, with where to put it.
    expect(() => pipeline.definition()).toThrow(
      /a pipeline value that could not be referenced[\s\S]*pass step outputs in arrays and plain objects[\s\S]*at arguments\[0\]\.where<Map value "k">/,
    );
  });

  it("leave out class instances (they arrive as plain objects) and step outputs in arrays and objects", () => {
    const pipeline = new Pipeline({ name: "crossing", steps: [fit({ rate: 1, where: { point: new Point(3, 4), from: [source()] } })], session });
    expect(() => pipeline.definition()).not.toThrow();
  });
});
