import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Message, type Plugin } from "esbuild";
import { BundleError } from "../errors.js";
import { CONTAINER_GLOBALS } from "../container/contract.js";

/** The bundle of one module that defines steps, ready to run in a step's container. */
export interface StepBundle {
  readonly sourceFile: string;
  readonly code: Buffer;
}

const HERE = dirname(fileURLToPath(import.meta.url));
/** What `import ... from "stepbox"` becomes inside the container: starting a pipeline does nothing there. */
const CONTAINER_STEPBOX = [join(HERE, "..", "container", "stepbox.ts"), join(HERE, "..", "container", "stepbox.js")];
/** The package's own entry points, which a module inside this repository may import by path. */
const PACKAGE_ENTRIES = new Set([join(HERE, "..", "index.ts"), join(HERE, "..", "index.js")]);
/** stepbox's own sources: never marked as a user module. */
const PACKAGE_SOURCES = join(HERE, "..") + sep;

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
    if (await stat(candidate).then(() => true, () => false)) return candidate;
  }
  throw new BundleError(`the container build of stepbox is missing (looked for ${CONTAINER_STEPBOX.join(", ")})`, {
    hint: "reinstall stepbox; the package is incomplete",
  });
}

/**
 * Points `stepbox` at its container build, and marks each of the user's modules as it starts to
 * evaluate, so `step()` inside the container names its definitions exactly as it did on the host.
 */
function stepboxContainerPlugin(containerEntry: string): Plugin {
  const marker = `globalThis[Symbol.for(${JSON.stringify(CONTAINER_GLOBALS.module.description)})]`;
  return {
    name: "stepbox-container",
    setup(b) {
      b.onResolve({ filter: /^stepbox$/ }, () => ({ path: containerEntry }));
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === "resolved" || args.kind === "entry-point") return undefined;
        const result = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: "resolved",
        });
        if (result.errors.length > 0) return { errors: result.errors };
        const withoutExt = result.path.replace(/\.[jt]s$/, "");
        if ([...PACKAGE_ENTRIES].some((entry) => entry.replace(/\.[jt]s$/, "") === withoutExt)) return { path: containerEntry };
        return result;
      });
      b.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        if (args.path.split(sep).includes("node_modules") || args.path.startsWith(PACKAGE_SOURCES)) return undefined;
        const source = await readFile(args.path, "utf8");
        const ext = args.path.slice(args.path.lastIndexOf("."));
        // ESM evaluates a module's imports before its body, so setting the marker as the body's first
        // statement tells step() which module is evaluating, even after imports ran.
        return {
          contents: `${marker} = ${JSON.stringify(args.path)};\n${source}`,
          loader: LOADERS[ext] ?? "js",
        };
      });
    },
  };
}

function formatMessages(messages: readonly Message[]): string {
  return messages
    .slice(0, 5)
    .map((m) => (m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text))
    .join("\n  ");
}

/**
 * Bundles each module that defines steps, with every dependency it imports, into one ESM file.
 * Keeps results in memory and rebuilds a module only when one of its input files changed.
 */
export class StepBundler {
  readonly #cache = new Map<string, { bundle: StepBundle; inputs: Map<string, number> }>();

  async bundle(sourceFile: string): Promise<StepBundle> {
    if (!isAbsolute(sourceFile)) {
      throw new BundleError(`cannot bundle "${sourceFile}": the defining module's path is not absolute`);
    }
    const cached = this.#cache.get(sourceFile);
    if (cached && (await unchanged(cached.inputs))) return cached.bundle;

    const containerEntry = await containerStepboxEntry();
    let result;
    try {
      result = await build({
        entryPoints: [sourceFile],
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
        plugins: [stepboxContainerPlugin(containerEntry)],
      });
    } catch (error) {
      const errors = (error as { errors?: Message[] }).errors ?? [];
      throw new BundleError(`cannot bundle the module that defines the step, ${sourceFile}:\n  ${formatMessages(errors)}`, {
        cause: error,
        hint: "the module and everything it imports must be bundleable by esbuild (no native addons)",
      });
    }
    const output = result.outputFiles[0];
    if (!output) throw new BundleError(`esbuild produced no output for ${sourceFile}`);
    const bundle: StepBundle = { sourceFile, code: Buffer.from(output.contents) };
    const inputs = new Map<string, number>();
    for (const input of Object.keys(result.metafile.inputs)) {
      const path = isAbsolute(input) ? input : join(process.cwd(), input);
      inputs.set(path, await mtime(path));
    }
    this.#cache.set(sourceFile, { bundle, inputs });
    return bundle;
  }
}

async function mtime(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.mtimeMs,
    () => -1,
  );
}

async function unchanged(inputs: ReadonlyMap<string, number>): Promise<boolean> {
  for (const [path, time] of inputs) {
    if ((await mtime(path)) !== time) return false;
  }
  return true;
}
