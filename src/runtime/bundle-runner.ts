import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { BuildOptions, Message, Plugin } from "esbuild";
import { ImageBuildError } from "../errors.js";
import { BundleDiskCache, bundleCacheKey, defaultBundleCacheDir, esbuildVersion, snapshotInputs } from "./bundle-cache.js";

/** ESM bundles cannot `require`, which CommonJS dependencies do. */
const REQUIRE_BANNER = 'import { createRequire as __stepboxCreateRequire } from "node:module"; const require = __stepboxCreateRequire(import.meta.url);';

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

/** esbuild's options for the runner; part of the cache key, so a change to them rebuilds. */
function runnerBuildOptions(entry: string, root: string): BuildOptions {
  return {
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    write: false,
    metafile: true,
    platform: "node",
    format: "esm",
    target: "node20",
    legalComments: "none",
    logLevel: "silent",
    banner: { js: REQUIRE_BANNER },
  };
}

/**
 * The container runner as one ESM file; paths in its comments are relative to `root`, so the bytes do
 * not depend on the cwd. Kept in the bundle cache on disk while every file it was built from is
 * unchanged: a warm start neither starts esbuild nor waits for it (~0.1-0.2 s).
 */
export async function bundleRunner(entry: string, root: string, cacheDir = defaultBundleCacheDir()): Promise<Buffer> {
  const options = runnerBuildOptions(entry, root);
  const cache = new BundleDiskCache(cacheDir);
  const key = bundleCacheKey({ runner: entry, esbuild: await esbuildVersion(), options });
  const stored = await cache.get(key);
  if (stored) return stored.code;
  const { code, files, read } = await build(entry, options);
  // package.json too: a new version of stepbox may resolve the same files differently.
  const inputs = await snapshotInputs([...files, join(root, "package.json")]);
  // A file that changed after esbuild read it would be recorded as it is now, not as it is in the bundle:
  // that bundle is used once and never kept.
  if ([...read].every(([path, hash]) => inputs.files[path]?.sha256 === hash)) await cache.set(key, code, inputs);
  return code;
}

/** Runs esbuild; `read` is each module's hash as esbuild came to read it. */
async function build(entry: string, options: BuildOptions): Promise<{ code: Buffer; files: string[]; read: Map<string, string> }> {
  // esbuild costs ~0.1 s of CPU to load: only when the runner is not cached.
  const esbuild = await import("esbuild");
  const read = new Map<string, string>();
  const recordReads: Plugin = {
    name: "stepbox-runner-inputs",
    setup(b) {
      // Returns nothing: esbuild goes on to load the file itself, unchanged.
      b.onLoad({ filter: /.*/ }, async (args) => {
        read.set(args.path, sha256(await readFile(args.path)));
        return undefined;
      });
    },
  };
  try {
    const result = await esbuild.build({ ...options, plugins: [recordReads] });
    const [output] = result.outputFiles ?? [];
    if (!output || !result.metafile) throw new Error("esbuild wrote no output");
    return { code: Buffer.from(output.contents), files: Object.keys(result.metafile.inputs).map((file) => resolve(options.absWorkingDir!, file)), read };
  } catch (cause) {
    const errors = (cause as { errors?: Message[] }).errors ?? [];
    const detail = errors.map((m) => (m.location ? `${m.location.file}:${m.location.line}: ${m.text}` : m.text)).slice(0, 5);
    throw new ImageBuildError(`cannot bundle the container runner ${entry}${detail.length > 0 ? `:\n  ${detail.join("\n  ")}` : ""}`, {
      cause,
    });
  }
}
