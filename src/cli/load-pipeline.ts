/**
 * Loads a user's pipeline file, TypeScript or JavaScript, and finds the Pipeline in it: the default
 * export or a named one, a Pipeline or a function (default export only) that returns one.
 */
import { access, readFile } from "node:fs/promises";
import { register } from "node:module";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { StepboxError, ValidationError } from "../errors.js";
import { Pipeline } from "../session/pipeline.js";
import { PipelineStartedWhileLoadingError, withStartsRefused } from "../session/start-guard.js";

export interface LoadedPipeline {
  readonly pipeline: Pipeline;
  /** The file's absolute path. */
  readonly file: string;
  /** The export it came from. */
  readonly exportName: string;
}

const EXPORT_HINT = 'export it: `export default new Pipeline({ name: "my-pipeline", steps: [...] })`, or a function that returns one';

let loadersRegistered: Promise<void> | undefined;

/**
 * tsx for TypeScript, then the hook that gives the file this process's own stepbox. tsx (with esbuild,
 * ~0.15 s) loads here, with the first pipeline file, not for every command.
 */
function registerLoaders(): Promise<void> {
  loadersRegistered ??= (async () => {
    const { register: registerTypeScript } = await import("tsx/esm/api");
    registerTypeScript();
    // Hooks registered later run first, so "stepbox" is settled before tsx's tsconfig paths see it.
    const here = fileURLToPath(import.meta.url);
    register(new URL(`./stepbox-resolve-hook${extname(here)}`, import.meta.url), {
      data: { stepboxUrl: new URL(`../index${extname(here)}`, import.meta.url).href },
    });
  })();
  return loadersRegistered;
}

/** The "type" of the package.json nearest above a file: how Node reads its .js and .ts files. */
async function packageType(file: string): Promise<string | undefined> {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = await readFile(join(dir, "package.json"), "utf8").then(
      (text) => JSON.parse(text) as { type?: string },
      () => undefined,
    );
    if (manifest) return manifest.type ?? "commonjs";
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Pipeline files are ES modules, as stepbox is (and as the bundles its containers load are): one
 * that Node would read as CommonJS fails deep in the loader, so it is refused here, with the fix.
 */
async function checkIsEsModule(file: string, path: string): Promise<void> {
  const ext = extname(file);
  if (ext === ".mts" || ext === ".mjs") return;
  const type = ext === ".cts" || ext === ".cjs" ? "commonjs" : await packageType(file);
  if (type === "module") return;
  throw new ValidationError(`the pipeline file ${path} would be loaded as CommonJS, and pipeline files must be ES modules`, {
    hint:
      ext === ".cts" || ext === ".cjs"
        ? `rename it to ${ext === ".cts" ? ".mts" : ".mjs"} and use import/export`
        : `add "type": "module" to ${type === undefined ? "a package.json in its project" : "its package.json"}, or rename it to .mts`,
  });
}

/** A function that builds a pipeline, rather than a step (step functions carry their definition). */
function isFactory(value: unknown): value is () => unknown {
  return typeof value === "function" && !(value instanceof Pipeline) && !("definition" in value) && !/^class\s/.test(Function.prototype.toString.call(value));
}

export async function loadPipelineFile(path: string, exportName?: string): Promise<LoadedPipeline> {
  const file = resolve(path);
  try {
    await access(file);
  } catch {
    throw new ValidationError(`the pipeline file ${path} does not exist`, {
      hint: `give the path of a .ts or .js file that exports a Pipeline (looked at ${file})`,
    });
  }
  await checkIsEsModule(file, path);
  await registerLoaders();
  // A file that starts its pipeline as it loads would run it here, behind the command's back.
  return withStartsRefused(path, () => importPipeline(file, path, exportName));
}

async function importPipeline(file: string, path: string, exportName: string | undefined): Promise<LoadedPipeline> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    if (cause instanceof PipelineStartedWhileLoadingError) throw cause;
    const { message, hint } = loadFailure(cause);
    throw new ValidationError(`loading the pipeline file ${path} failed: ${message}`, {
      cause,
      hint: hint ?? "fix the error in that file (run with --verbose for its stack)",
    });
  }

  const candidates = Object.entries(module).filter(([name, value]) => value instanceof Pipeline || (name === "default" && isFactory(value)));
  let chosen: [string, unknown] | undefined;
  if (exportName !== undefined) {
    chosen = candidates.find(([name]) => name === exportName);
    if (!chosen) {
      throw new ValidationError(`${path} has no export "${exportName}" that is a Pipeline`, {
        hint: candidates.length > 0 ? `its pipelines are exported as: ${candidates.map(([n]) => n).join(", ")}` : EXPORT_HINT,
      });
    }
  } else if (new Set(candidates.map(([, value]) => value)).size === 1) {
    // `export const pipeline = ...; export default pipeline` is one pipeline.
    chosen = candidates[0];
  } else if (candidates.length === 0) {
    throw new ValidationError(`${path} exports no Pipeline`, { hint: EXPORT_HINT });
  } else {
    chosen = candidates.find(([name]) => name === "default");
    if (!chosen) {
      throw new ValidationError(`${path} exports ${candidates.length} pipelines: ${candidates.map(([n]) => n).join(", ")}`, {
        hint: "choose one with --export <name>",
      });
    }
  }
  const [name, value] = chosen!;
  const pipeline = isFactory(value) ? await value() : value;
  if (!(pipeline instanceof Pipeline)) {
    throw new ValidationError(`the default export of ${path} is a function that returned ${describe(pipeline)}, not a Pipeline`, { hint: EXPORT_HINT });
  }
  return { pipeline, file, exportName: name };
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  return typeof value === "object" ? `a ${value.constructor?.name ?? "object"}` : `a ${typeof value}`;
}

/**
 * One line that says why a pipeline file did not load, and stepbox's own hint when stepbox raised it
 * (a step() without a name, a bad option). esbuild's syntax errors say where only on a later line
 * (`file:line:column: ERROR: ...`): that line leads instead.
 */
function loadFailure(cause: unknown): { message: string; hint?: string } {
  if (cause instanceof StepboxError) {
    return { message: cause.detail.split("\n", 1)[0]!, ...(cause.hint ? { hint: cause.hint } : {}) };
  }
  // Errors from the loader thread arrive as messages only: esbuild's names the place on a later line.
  const lines = (cause instanceof Error ? cause.message : String(cause)).split("\n");
  return { message: (lines.find((line) => / ERROR: /.test(line)) ?? lines[0]!).trim() };
}

/**
 * For commands that take a pipeline file or an execution: an argument written as a file path (a
 * slash or a script extension) that names no file is a mistyped path, not an execution id.
 */
export async function assertNoMissingFile(target: string): Promise<void> {
  if (!/[\\/]|\.[cm]?[jt]s$/.test(target)) return;
  if (
    await access(target).then(
      () => true,
      () => false,
    )
  )
    return;
  throw new ValidationError(`the pipeline file ${target} does not exist`, {
    hint: `check the path (relative to ${process.cwd()}), or give an execution id without a slash or extension`,
  });
}
