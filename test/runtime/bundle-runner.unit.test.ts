/**
 * The container runner's bundle, with real esbuild on real files: a temporary "runner" that imports a
 * relative module. The bundle is kept on disk while its files are unchanged, so a warm process takes
 * it from there instead of bundling again; a change to any file it was built from rebuilds it.
 */
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { ImageBuildError } from "../../src/errors.js";
import { bundleRunner } from "../../src/runtime/bundle-runner.js";

const roots: string[] = [];
let root: string;
let cacheDir: string;
let entry: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "stepbox-bundle-runner-test-"));
  roots.push(root);
  cacheDir = join(root, "cache");
  entry = join(root, "runner.js");
  await writeFile(join(root, "package.json"), JSON.stringify({ name: "runner-probe", type: "module" }));
  await writeFile(entry, `import { greeting } from "./part.js";\nconsole.log(greeting);\n`);
  await writeFile(join(root, "part.js"), `export const greeting = "first greeting";\n`);
});

afterAll(async () => {
  for (const dir of roots) await rm(dir, { recursive: true, force: true });
});

/** Each cache file with its mtime: a bundle taken from the cache rewrites none of them. */
async function cacheState(): Promise<Record<string, number>> {
  const names = await readdir(cacheDir);
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, (await stat(join(cacheDir, name))).mtimeMs] as const)));
}

describe("bundleRunner", () => {
  it("bundles the runner with what it imports into one ESM file that can require", async () => {
    const code = (await bundleRunner(entry, root, cacheDir)).toString();
    expect(code).toContain("first greeting");
    expect(code).not.toMatch(/from "\.\/part\.js"/);
    expect(code).toContain("createRequire");
  });

  it("takes the bundle from the cache on disk while its files are unchanged, without writing it again", async () => {
    const first = await bundleRunner(entry, root, cacheDir);
    const cached = await cacheState();
    expect(Object.keys(cached).sort()).toEqual([expect.stringMatching(/\.json$/), expect.stringMatching(/\.mjs$/)]);

    const second = await bundleRunner(entry, root, cacheDir);
    expect(second.equals(first)).toBe(true);
    expect(await cacheState()).toEqual(cached);
  });

  it("bundles again when a file it imports changes", async () => {
    await bundleRunner(entry, root, cacheDir);
    await writeFile(join(root, "part.js"), `export const greeting = "second greeting";\n`);
    const changed = (await bundleRunner(entry, root, cacheDir)).toString();
    expect(changed).toContain("second greeting");
    expect(changed).not.toContain("first greeting");
  });

  it("fails as an image build naming the runner and the import it cannot resolve", async () => {
    await writeFile(entry, `import { missing } from "./nowhere.js";\nconsole.log(missing);\n`);
    const failure = await bundleRunner(entry, root, cacheDir).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ImageBuildError);
    expect((failure as ImageBuildError).message).toContain(entry);
    expect((failure as ImageBuildError).message).toContain("nowhere.js");
  });
});
