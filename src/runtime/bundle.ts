import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { BuildOptions, Message, Plugin } from "esbuild";
import { BundleError } from "../errors.js";
import { CONTAINER_GLOBALS } from "../container/contract.js";
import { moduleIdentity } from "../dsl/module-path.js";
import { BundleDiskCache, bundleCacheKey, defaultBundleCacheDir, esbuildVersion, inputsUnchanged, snapshotInputs, type BundleInputs } from "./bundle-cache.js";
import { stepboxPackage } from "./package-manifest.js";

/** The bundle of one module that defines steps, ready to run in a step's container. */
export interface StepBundle {
  readonly sourceFile: string;
  readonly code: Buffer;
  /** Where the code came from: esbuild just now, this bundler's memory, or the cache on disk. */
  readonly origin: "built" | "memory" | "disk";
}

export interface StepBundlerOptions {
  /**
   * The folder of the bundle cache shared across processes.
   * @default `$STEPBOX_CACHE_DIR`, else `$XDG_CACHE_HOME/stepbox/bundles`, else `~/.cache/stepbox/bundles`
   */
  readonly cacheDir?: string;
}

const THIS_FILE = fileURLToPath(import.meta.url);
const HERE = dirname(THIS_FILE);
/** What `import ... from "stepbox"` becomes inside the container: starting a pipeline does nothing there. */
const CONTAINER_STEPBOX = [join(HERE, "..", "container", "stepbox.ts"), join(HERE, "..", "container", "stepbox.js")];
/** The package's own entry points (without extension), which a module inside this repository may import by path. */
const PACKAGE_ENTRY = join(HERE, "..", "index");
/** stepbox's own sources: never marked as a user module. */
const PACKAGE_SOURCES = join(HERE, "..") + sep;
/** The namespace of the user's own modules: only imports from these reach the plugin's resolver. */
const USER_NAMESPACE = "stepbox-user";
/** Files whose change can change how esbuild reads a module in their folder or below. */
const CONFIG_FILES = ["package.json", "tsconfig.json", "jsconfig.json"];

const LOADERS: Record<string, "ts" | "tsx" | "js" | "jsx"> = {
  ".ts": "ts",
  ".mts": "ts",
  ".cts": "ts",
  ".tsx": "tsx",
  ".js": "js",
  ".mjs": "js",
  ".cjs": "js",
  ".jsx": "jsx",
};

async function containerStepboxEntry(): Promise<string> {
  for (const candidate of CONTAINER_STEPBOX) {
    if (
      await stat(candidate).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  throw new BundleError(`the container build of stepbox is missing (looked for ${CONTAINER_STEPBOX.join(", ")})`, {
    hint: "reinstall stepbox; the package is incomplete",
  });
}

/** A module the user wrote: code outside node_modules and outside stepbox's own sources. */
function isUserModule(path: string): boolean {
  return extname(path) in LOADERS && !path.split(sep).includes("node_modules") && !path.startsWith(PACKAGE_SOURCES);
}

const sha256 = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

/** The lines the plugin puts before each user module's source. */
const MARKER_LINES = 1;

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Points `stepbox` at its container build, and marks each of the user's modules with its identity
 * (never its path, which the step could read in the bundle) as it starts to evaluate, so `step()`
 * inside the container names its definitions exactly as it did on the host.
 *
 * Only the user's modules reach this plugin: they live in their own namespace, and the resolver
 * below listens to that namespace alone. Everything they import from node_modules is resolved and
 * loaded by esbuild natively, with no call into JavaScript per file (which made a step importing two
 * ordinary libraries take seconds to bundle).
 */
function stepboxContainerPlugin(sourceFile: string, containerEntry: string, loaded: Map<string, string>): Plugin {
  const marker = `globalThis[Symbol.for(${JSON.stringify(CONTAINER_GLOBALS.module.description)})]`;
  return {
    name: "stepbox-container",
    setup(b) {
      // In any namespace: a library that imports stepbox must meet the container build too.
      b.onResolve({ filter: /^stepbox$/ }, () => ({ path: containerEntry }));
      b.onResolve({ filter: new RegExp(`^${escapeRegExp(sourceFile)}$`) }, (args) =>
        args.kind === "entry-point" ? { path: sourceFile, namespace: USER_NAMESPACE } : undefined,
      );
      b.onResolve({ filter: /.*/, namespace: USER_NAMESPACE }, async (args) => {
        const result = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, namespace: "file" });
        if (result.errors.length > 0) return { errors: result.errors };
        if (result.external || result.namespace !== "file") return result;
        if (result.path.replace(/\.[jt]s$/, "") === PACKAGE_ENTRY) return { path: containerEntry };
        return isUserModule(result.path) ? { path: result.path, namespace: USER_NAMESPACE } : result;
      });
      b.onLoad({ filter: /.*/, namespace: USER_NAMESPACE }, async (args) => {
        const source = await readFile(args.path, "utf8");
        loaded.set(args.path, sha256(source));
        // ESM evaluates a module's imports before its body, so setting the marker as the body's first
        // statement tells step() which module is evaluating, even after imports ran.
        return {
          contents: `${marker} = ${JSON.stringify(moduleIdentity(args.path))};\n${source}`,
          loader: LOADERS[extname(args.path)] ?? "js",
          resolveDir: dirname(args.path),
        };
      });
    },
  };
}

/** esbuild's messages as `file:line:column: text`, lines counted in the user's file (without the marker line). */
function formatMessages(messages: readonly Message[]): string {
  return messages
    .slice(0, 5)
    .map(({ location: at, text }) => {
      if (!at) return text;
      // A user module's messages name it as `stepbox-user:<path>`.
      const user = at.file.startsWith(`${USER_NAMESPACE}:`);
      const file = user ? at.file.slice(USER_NAMESPACE.length + 1) : at.file;
      return `${file}:${user ? at.line - MARKER_LINES : at.line}:${at.column}: ${text}`;
    })
    .join("\n  ");
}

/**
 * The bundle with each user module's header comment (`// stepbox-user:/abs/path`: esbuild leaves a
 * namespaced path as it is) made relative to `workingDir`, as esbuild writes every other module's:
 * the step can read its bundle, and must not learn the host's folders from it.
 */
function withoutHostPaths(code: string, workingDir: string): string {
  return code.replace(
    new RegExp(`^// ${escapeRegExp(USER_NAMESPACE)}:(.+)$`, "gm"),
    (_, path: string) => `// ${relative(workingDir, path).split(sep).join("/")}`,
  );
}

/** esbuild's options for a step's bundle; part of the cache key, so a change to them rebuilds. */
function buildOptions(sourceFile: string): BuildOptions {
  return {
    entryPoints: [sourceFile],
    // Paths in the bundle's comments are relative to this: the module's folder, so the bundle (and
    // the step's cache key) does not depend on where the process was started.
    absWorkingDir: dirname(sourceFile),
    bundle: true,
    write: false,
    platform: "node",
    format: "esm",
    target: "node20",
    metafile: true,
    // step() names definitions after their functions; bundling must not rename them.
    keepNames: true,
    logLevel: "silent",
    legalComments: "none",
    banner: { js: 'import { createRequire as __stepboxCreateRequire } from "node:module"; const require = __stepboxCreateRequire(import.meta.url);' },
  };
}

/** The absolute path of each file in esbuild's metafile, whose keys are relative to absWorkingDir or namespaced. */
function inputPaths(metafileInputs: Readonly<Record<string, unknown>>, workingDir: string): { files: string[]; userModules: string[] } {
  const files: string[] = [];
  const userModules: string[] = [];
  for (const key of Object.keys(metafileInputs)) {
    const user = key.startsWith(`${USER_NAMESPACE}:`);
    const path = resolve(workingDir, user ? key.slice(USER_NAMESPACE.length + 1) : key);
    files.push(path);
    if (user) userModules.push(path);
  }
  return { files, userModules };
}

/** The config files esbuild may read for these modules: each folder's, up to the root (absent ones too). */
function configFiles(userModules: readonly string[]): string[] {
  const files = new Set<string>();
  const seen = new Set<string>();
  for (const module of userModules) {
    for (let dir = dirname(module); !seen.has(dir); dir = dirname(dir)) {
      seen.add(dir);
      for (const name of CONFIG_FILES) files.add(join(dir, name));
      if (dirname(dir) === dir) break;
    }
  }
  return [...files];
}

let identity: Promise<Record<string, string>> | undefined;
let esbuildModule: Promise<typeof import("esbuild")> | undefined;

/** esbuild loads when the first step is bundled, not when stepbox is imported (it costs ~100 ms). */
function loadEsbuild(): Promise<typeof import("esbuild")> {
  esbuildModule ??= import("esbuild");
  return esbuildModule;
}

/**
 * stepbox's and esbuild's versions, this module's own hash (the plugin's logic shapes every bundle),
 * and the identity the markers would give this very file: a change to how modules are identified
 * rebuilds every bundle, whose markers would otherwise name no definition the host asks for.
 */
function bundlerIdentity(): Promise<Record<string, string>> {
  // esbuild's version, not esbuild itself: a bundle found on disk then never loads it.
  identity ??= Promise.all([stepboxPackage(), readFile(THIS_FILE), esbuildVersion()]).then(([pkg, source, esbuild]) => ({
    stepbox: pkg.version,
    esbuild,
    bundler: sha256(source),
    moduleIdentity: moduleIdentity(THIS_FILE),
  }));
  return identity;
}

/**
 * Bundles each module that defines steps, with every dependency it imports, into one ESM file.
 * Keeps results in memory and in a cache on disk shared by every process, and rebuilds a module only
 * when one of its input files changed.
 */
export class StepBundler {
  readonly #memory = new Map<string, { code: Buffer; inputs: BundleInputs }>();
  readonly #disk: BundleDiskCache;

  constructor(options: StepBundlerOptions = {}) {
    this.#disk = new BundleDiskCache(options.cacheDir ?? defaultBundleCacheDir());
  }

  /** The folder of the cache on disk. */
  get cacheDir(): string {
    return this.#disk.dir;
  }

  async bundle(sourceFile: string): Promise<StepBundle> {
    if (!isAbsolute(sourceFile)) {
      throw new BundleError(`cannot bundle "${sourceFile}": the defining module's path is not absolute`);
    }
    const remembered = this.#memory.get(sourceFile);
    if (remembered && (await inputsUnchanged(remembered.inputs))) {
      return { sourceFile, code: remembered.code, origin: "memory" };
    }

    const containerEntry = await containerStepboxEntry();
    const options = buildOptions(sourceFile);
    const key = bundleCacheKey({ ...(await bundlerIdentity()), containerEntry, options });
    const stored = await this.#disk.get(key);
    if (stored) {
      this.#memory.set(sourceFile, stored);
      return { sourceFile, code: stored.code, origin: "disk" };
    }

    const { code, inputs, settled } = await this.#build(sourceFile, containerEntry, options);
    if (settled) {
      this.#memory.set(sourceFile, { code, inputs });
      await this.#disk.set(key, code, inputs);
    }
    return { sourceFile, code, origin: "built" };
  }

  /**
   * Runs esbuild, and records its inputs as they are after it. `settled` is false when one of the
   * user's modules changed while it ran: that bundle is used once but never cached.
   */
  async #build(sourceFile: string, containerEntry: string, options: BuildOptions): Promise<{ code: Buffer; inputs: BundleInputs; settled: boolean }> {
    const loaded = new Map<string, string>();
    let result;
    try {
      const { build } = await loadEsbuild();
      result = await build({ ...options, metafile: true, write: false, plugins: [stepboxContainerPlugin(sourceFile, containerEntry, loaded)] });
    } catch (error) {
      const errors = (error as { errors?: Message[] }).errors ?? [];
      throw new BundleError(`cannot bundle the module that defines the step, ${sourceFile}:\n  ${formatMessages(errors)}`, {
        cause: error,
        hint: "the module and everything it imports must be bundleable by esbuild (no native addons)",
      });
    }
    const output = result.outputFiles[0];
    if (!output) throw new BundleError(`esbuild produced no output for ${sourceFile}`);
    const { files, userModules } = inputPaths(result.metafile.inputs, dirname(sourceFile));
    const inputs = await snapshotInputs([...files, ...configFiles(userModules)]);
    const settled = [...loaded].every(([path, hash]) => inputs.files[path]?.sha256 === hash);
    return { code: Buffer.from(withoutHostPaths(output.text, dirname(sourceFile))), inputs, settled };
  }
}
