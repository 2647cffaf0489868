/**
 * No host path reaches a step: the definition key in its environment, its config files and its
 * code bundle name the module that defines it by its path from the project's root and a digest, and
 * so do the job record and the function's manifest in the store. Two modules of one repository with
 * the same path in their own packages and the same function name still name different definitions.
 * (/proc/self/mountinfo still shows the host folders bind-mounted at /opt/ml: Docker writes it.)
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { Pipeline, type DelayedReturn, type StepFunction, type LocalPipelineSession } from "stepbox";
import { whatItSees } from "../fixtures/host-path-steps.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const FIXTURE = join(ROOT, "test", "fixtures", "host-path-steps.ts");

let monorepo: string;

beforeAll(async () => {
  monorepo = await mkdtemp(join(tmpdir(), "stepbox-monorepo-"));
});

afterAll(async () => {
  await rm(monorepo, { recursive: true, force: true });
});

/** Writes `files` under the monorepo folder. */
async function writeProject(files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(monorepo, path)), { recursive: true });
    await writeFile(join(monorepo, path), text);
  }
}

async function run(session: LocalPipelineSession, name: string, steps: DelayedReturn[]) {
  const execution = await new Pipeline({ name, steps, session }).start();
  const described = await execution.wait();
  return { execution, described };
}

describe("a step's container", () => {
  it("holds no host path of its module: not in its environment, config files, bundle, job record or manifest", async ({ ctx }) => {
    const { execution, described } = await run(ctx.session, "host-paths", [whatItSees()]);
    expect(described.PipelineExecutionStatus).toBe("Succeeded");
    const seen = (await execution.result("whatItSees")) as { env: Record<string, string>; config: Record<string, string>; bundle: string };

    // The step still found its definition, by a key that names the module from the project's root.
    expect(seen.env.STEPBOX_DEFINITION_KEY).toMatch(/^test\/fixtures\/host-path-steps\.ts@[0-9a-f]{16}#whatItSees#1$/);
    expect(Object.keys(seen.config).sort()).toEqual(["hyperparameters.json", "inputdataconfig.json", "resourceconfig.json"]);
    expect(seen.bundle.length).toBeGreaterThan(1000);

    const stepFolder = join(ctx.root, "host-paths", execution.id, "whatItSees");
    const jobRecord = await readFile(join(stepFolder, "job.json"), "utf8");
    const manifest = await readFile(join(stepFolder, "function", "manifest.json"), "utf8");
    expect(JSON.parse(jobRecord).definitionKey).toBe(seen.env.STEPBOX_DEFINITION_KEY);
    expect(JSON.parse(manifest)).toMatchObject({ DefinitionKey: seen.env.STEPBOX_DEFINITION_KEY, SourceFile: "test/fixtures/host-path-steps.ts" });

    const places: Record<string, string> = {
      environment: JSON.stringify(seen.env),
      ...Object.fromEntries(Object.entries(seen.config).map(([name, text]) => [`config ${name}`, text])),
      bundle: seen.bundle,
      "job.json": jobRecord,
      "manifest.json": manifest,
    };
    // The module, its checkout, the store, and the engine's temp folders (the step's /opt/ml lives in one).
    const hostPaths = [FIXTURE, ROOT, ctx.root, join(tmpdir(), "stepbox-")];
    const found = Object.entries(places).flatMap(([where, text]) => hostPaths.filter((path) => text.includes(path)).map((path) => `${path} in ${where}`));
    expect(found).toEqual([]);
  });

  it("finds its definition when another package's module with the same path and function name was loaded first", async ({ ctx }) => {
    const work = (who: string) => `import { step } from "stepbox";\nexport const work = step(function work() { return "${who}"; });\n`;
    await writeProject({
      "package.json": JSON.stringify({ name: "mono", type: "module", private: true }),
      "packages/a/package.json": JSON.stringify({ name: "a", type: "module" }),
      "packages/a/src/steps.ts": work("from a"),
      "packages/b/package.json": JSON.stringify({ name: "b", type: "module" }),
      "packages/b/src/steps.ts": work("from b"),
    });
    const a = (await import(join(monorepo, "packages", "a", "src", "steps.ts"))) as { work: StepFunction<() => string> };
    const b = (await import(join(monorepo, "packages", "b", "src", "steps.ts"))) as { work: StepFunction<() => string> };
    // The same path from each package's root, yet two definitions: b's bundle holds only b's module,
    // so a key that counted a's definition in would name none there.
    const keys = [a.work, b.work].map((f) => f.definition.key);
    expect(keys.map((k) => k.replace(/@[0-9a-f]{16}#/, "@#"))).toEqual(["src/steps.ts@#work#1", "src/steps.ts@#work#1"]);
    expect(keys[0]).not.toBe(keys[1]);

    const { execution, described } = await run(ctx.session, "same-names", [b.work()]);
    expect(described.PipelineExecutionStatus).toBe("Succeeded");
    expect(await execution.result("work")).toBe("from b");
  });
});
