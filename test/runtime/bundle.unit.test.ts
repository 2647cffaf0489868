/**
 * The step bundler with real esbuild on real files: a temporary project whose step module imports a
 * relative helper, "stepbox", lodash-es (the repository's copy, linked as a package manager links
 * it) and a small package written here. Each StepBundler given the same cache folder stands for a new
 * process sharing the cache on disk.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { CONTAINER_GLOBALS } from "../../src/container/contract.js";
import { BundleError } from "../../src/errors.js";
import { moduleIdentity } from "../../src/dsl/module-path.js";
import { defaultBundleCacheDir, inputsUnchanged, snapshotInputs } from "../../src/runtime/bundle-cache.js";
import { StepBundler, type StepBundle } from "../../src/runtime/bundle.js";

const REPO = resolve(import.meta.dirname, "..", "..");
const roots: string[] = [];
let project: string;
let cacheDir: string;
let entry: string;

const helperSource = (factor: number): string =>
  `import { step } from "stepbox";\nexport const scale = step(function scale(xs: number[]) { return xs.map((x) => x * ${factor}); });\n`;

beforeEach(async () => {
  const root = await mkdtemp(join(tmpdir(), "stepbox-bundle-test-"));
  roots.push(root);
  project = join(root, "project");
  cacheDir = join(root, "cache");
  await mkdir(join(project, "node_modules", "tiny-lib"), { recursive: true });
  await symlink(join(REPO, "node_modules", "lodash-es"), join(project, "node_modules", "lodash-es"));
  await writeFile(join(project, "node_modules", "tiny-lib", "package.json"), JSON.stringify({ name: "tiny-lib", type: "module", main: "index.js" }));
  await writeFile(join(project, "node_modules", "tiny-lib", "index.js"), `export { twice } from "./twice.js";\n`);
  await writeFile(join(project, "node_modules", "tiny-lib", "twice.js"), `export const twice = (x) => x * 2;\n`);
  await writeFile(join(project, "helper.ts"), helperSource(10));
  entry = join(project, "steps.ts");
  await writeFile(
    entry,
    [
      `import { chunk, sum } from "lodash-es";`,
      `import { step } from "stepbox";`,
      `import { twice } from "tiny-lib";`,
      `import { scale } from "./helper.js";`,
      `export { scale };`,
      `export const totals = step(function totals(n: number) { return chunk(Array.from({ length: n }, (_, i) => twice(i)), 2).map(sum); });`,
      "",
    ].join("\n"),
  );
});

afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

/** Evaluates a bundle as the container runner does, and returns its exports; the module marker it leaves is removed. */
async function evaluate(
  bundle: StepBundle,
): Promise<Record<string, { definition: { fn: (...args: unknown[]) => unknown; key: string; sourceFile?: string } }>> {
  const file = join(project, `bundle-${Math.random().toString(16).slice(2)}.mjs`);
  await writeFile(file, bundle.code);
  try {
    return (await import(pathToFileURL(file).href)) as never;
  } finally {
    delete (globalThis as Record<symbol, unknown>)[CONTAINER_GLOBALS.module];
  }
}

const markerFor = (path: string): string => `= ${JSON.stringify(moduleIdentity(path))};`;

describe("StepBundler", () => {
  it("bundles a module importing npm packages, and the bundle runs", async () => {
    const bundle = await new StepBundler({ cacheDir }).bundle(entry);
    expect(bundle.origin).toBe("built");
    const exports = await evaluate(bundle);
    expect(exports.totals!.definition.fn(4)).toEqual([2, 10]);
    expect(exports.scale!.definition.fn([1, 2])).toEqual([10, 20]);
  });

  it("marks each user module, and no module from node_modules", async () => {
    const bundle = await new StepBundler({ cacheDir }).bundle(entry);
    const code = bundle.code.toString("utf8");
    expect(code).toContain(markerFor(entry));
    expect(code).toContain(markerFor(join(project, "helper.ts")));
    expect(code).not.toContain(markerFor(join(project, "node_modules", "tiny-lib", "twice.js")));
    expect(code).not.toMatch(/= "[^"]*node_modules[^"]*";/);
    // The marker is what tells step() in the container which module defined each step: by the
    // module's identity, as on the host, and never by a host path, which the step could read.
    expect(code).not.toContain(project);
    const exports = await evaluate(bundle);
    expect(exports.totals!.definition.key).toBe(`${moduleIdentity(entry)}#totals#1`);
    expect(exports.scale!.definition.key).toBe(`${moduleIdentity(join(project, "helper.ts"))}#scale#1`);
    expect(exports.totals!.definition.sourceFile).toBeUndefined();
  });

  it("gives the container build of stepbox for `stepbox` and for the package entry imported by path", async () => {
    const byPath = join(project, "by-path.ts");
    await writeFile(byPath, `import { step } from ${JSON.stringify(join(REPO, "src", "index.js"))};\nexport const f = step(function f() { return 1; });\n`);
    for (const file of [entry, byPath]) {
      const code = (await new StepBundler({ cacheDir }).bundle(file)).code.toString("utf8");
      expect(code).toContain(markerFor(file));
      // The host build would bring the Docker client along.
      expect(code).not.toContain("dockerode");
    }
  });

  it("reuses the bundle on disk in a new bundler, without running esbuild", async () => {
    const first = await new StepBundler({ cacheDir }).bundle(entry);
    const files = await cacheFiles();
    const mtimes = await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs));

    const second = await new StepBundler({ cacheDir }).bundle(entry);
    expect(second.origin).toBe("disk");
    expect(second.code.equals(first.code)).toBe(true);
    expect(await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs))).toEqual(mtimes);
  });

  it("reuses the bundle in memory, also after a file is touched without a change", async () => {
    const bundler = new StepBundler({ cacheDir });
    const first = await bundler.bundle(entry);
    expect((await bundler.bundle(entry)).origin).toBe("memory");
    const later = new Date(Date.now() + 60_000);
    await utimes(join(project, "helper.ts"), later, later);
    const again = await bundler.bundle(entry);
    expect(again.origin).toBe("memory");
    expect(again.code.equals(first.code)).toBe(true);
  });

  it("rebuilds when a user module, a package file or a config file changes", async () => {
    const first = await new StepBundler({ cacheDir }).bundle(entry);

    await writeFile(join(project, "helper.ts"), helperSource(100));
    const afterHelper = await new StepBundler({ cacheDir }).bundle(entry);
    expect(afterHelper.origin).toBe("built");
    expect((await evaluate(afterHelper)).scale!.definition.fn([1])).toEqual([100]);

    await writeFile(join(project, "node_modules", "tiny-lib", "twice.js"), `export const twice = (x) => x * 3;\n`);
    const afterLib = await new StepBundler({ cacheDir }).bundle(entry);
    expect(afterLib.origin).toBe("built");
    expect((await evaluate(afterLib)).totals!.definition.fn(2)).toEqual([3]);

    // A tsconfig.json that appears can change how esbuild compiles the module.
    await writeFile(join(project, "tsconfig.json"), "{}");
    expect((await new StepBundler({ cacheDir }).bundle(entry)).origin).toBe("built");
    expect((await new StepBundler({ cacheDir }).bundle(entry)).origin).toBe("disk");
    expect(first.code.equals(afterLib.code)).toBe(false);
  });

  it("detects a corrupt cache entry and rebuilds it", async () => {
    const first = await new StepBundler({ cacheDir }).bundle(entry);
    const [code] = (await cacheFiles()).filter((f) => f.endsWith(".mjs"));
    await writeFile(code!, (await readFile(code!, "utf8")).replace("chunk", "chonk"));
    const rebuilt = await new StepBundler({ cacheDir }).bundle(entry);
    expect(rebuilt.origin).toBe("built");
    expect(rebuilt.code.equals(first.code)).toBe(true);
    expect((await new StepBundler({ cacheDir }).bundle(entry)).origin).toBe("disk");

    const [manifest] = (await cacheFiles()).filter((f) => f.endsWith(".json"));
    await writeFile(manifest!, "{ not json");
    expect((await new StepBundler({ cacheDir }).bundle(entry)).origin).toBe("built");
    expect((await new StepBundler({ cacheDir }).bundle(entry)).origin).toBe("disk");
  });

  it("names the module and the missing import when bundling fails", async () => {
    const broken = join(project, "broken.ts");
    await writeFile(broken, `import { nothing } from "./missing.js";\nexport const x = nothing;\n`);
    const failure = await new StepBundler({ cacheDir }).bundle(broken).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(BundleError);
    expect((failure as Error).message).toContain(`${broken}:1:24: Could not resolve "./missing.js"`);
  });

  it("refuses a relative module path", async () => {
    await expect(new StepBundler({ cacheDir }).bundle("steps.ts")).rejects.toThrow(/not absolute/);
  });
});

describe("whether a bundle's inputs are unchanged", () => {
  it("takes a long-settled file's unchanged stat for it, and sees any write since by its ctime", async () => {
    const file = join(project, "helper.ts");
    // A whole second, which utimes sets back exactly.
    const then = Math.floor(Date.now() / 1000) - 3600;
    await utimes(file, then, then);
    const recorded = await snapshotInputs([file]);
    // As a record made long after the file's last change: its stat then vouches for it.
    const settled = { ...recorded, recordedAtMs: recorded.recordedAtMs + 60_000 };
    expect(await inputsUnchanged(settled)).toBe(true);

    // The same size, and the old mtime set back: only the ctime tells, and it cannot be set back.
    await writeFile(file, helperSource(20));
    await utimes(file, then, then);
    const now = await stat(file);
    expect([now.size, now.mtimeMs]).toEqual([recorded.files[file]!.size, recorded.files[file]!.mtimeMs]);
    expect(await inputsUnchanged(settled)).toBe(false);
  });

  it("hashes a file changed within its record's moment again, and a touched identical file still matches", async () => {
    const file = join(project, "helper.ts");
    const recorded = await snapshotInputs([file]);
    expect(await inputsUnchanged(recorded)).toBe(true);
    // Rewritten at once with the same size: its stat may not have moved, its content has.
    await writeFile(file, helperSource(20));
    expect(await inputsUnchanged(recorded)).toBe(false);
    await writeFile(file, helperSource(10));
    expect(await inputsUnchanged(recorded)).toBe(true);
  });
});

describe("the bundle cache folder", () => {
  it("is STEPBOX_CACHE_DIR, else under XDG_CACHE_HOME, else under ~/.cache", () => {
    expect(defaultBundleCacheDir({ STEPBOX_CACHE_DIR: "/x/cache", XDG_CACHE_HOME: "/y" })).toBe("/x/cache");
    expect(defaultBundleCacheDir({ XDG_CACHE_HOME: "/y" })).toBe(join("/y", "stepbox", "bundles"));
    expect(defaultBundleCacheDir({})).toMatch(/[/\\]\.cache[/\\]stepbox[/\\]bundles$/);
  });
});

async function cacheFiles(): Promise<string[]> {
  const names = await readdir(cacheDir);
  expect(names.filter((n) => n.endsWith(".tmp"))).toEqual([]);
  return names.map((n) => join(cacheDir, n));
}
