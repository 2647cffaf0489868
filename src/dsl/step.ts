import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { ValidationError } from "../errors.js";
import { CONTAINER_GLOBALS } from "../container/contract.js";
import { DelayedReturn, isDelayedReturn } from "./delayed-return.js";
import { FunctionStep, type StepDefinition } from "./function-step.js";
import { moduleIdentity } from "./module-path.js";
import type { PipelineValue } from "./pipeline-value.js";
import { assertValidStepName, validateStepOptions, type StepOptions } from "./step-options.js";

/**
 * An argument of a step call: the value itself, or a pipeline value that stands for it, anywhere
 * inside arrays and plain objects.
 */
export type Deferred<T> =
  | T
  | PipelineValue<T>
  | (T extends readonly unknown[]
      ? { [K in keyof T]: Deferred<T[K]> }
      : T extends Date | RegExp | Map<unknown, unknown> | Set<unknown> | ArrayBufferView | ArrayBuffer | ((...args: never[]) => unknown)
        ? never
        : T extends object
          ? { [K in keyof T]: Deferred<T[K]> }
          : never);

// biome-ignore lint/suspicious/noExplicitAny: every function is assignable to `any[]` parameters; `unknown[]` rejects typed ones
type AnyFunction = (...args: any[]) => unknown;

/** Each argument of a step call may be deferred. */
export type DeferredArguments<A extends unknown[]> = { [K in keyof A]: Deferred<A[K]> };

/** What `step(fn)` returns: call it with the function's arguments to add a step to a pipeline. */
export type StepFunction<F extends AnyFunction> = ((...args: DeferredArguments<Parameters<F>>) => DelayedReturn<Awaited<ReturnType<F>>>) & {
  readonly definition: StepDefinition;
};

/** The registry the container runner installs before it loads the step's bundle. */
interface ContainerRegistry {
  register(definition: StepDefinition): void;
}

const definitionCounts = new Map<string, number>();

/**
 * Turns a function into a pipeline step. Calling the result runs nothing: it returns a
 * `DelayedReturn` for the step's output, and passing that into other steps defines the DAG.
 *
 * @example
 * const train = step(async function train(data: number[]) { return { acc: 0.9 } }, { instanceType: "ml.m5.large" });
 * const model = train(preprocess(raw));
 */
export function step<F extends AnyFunction>(fn: F, options?: StepOptions): StepFunction<F> {
  if (typeof fn !== "function") {
    throw new ValidationError(`step() takes a function, got ${inspect(fn)}`, { hint: "step(async function train() { ... })" });
  }
  const validated = validateStepOptions(fn.name || "<anonymous>", options);
  const baseName = validated.name ?? fn.name;
  if (!baseName) {
    throw new ValidationError("step() was given an anonymous function and no name", {
      code: "INVALID_STEP_OPTION",
      hint: 'name the function (step(async function train() {...})) or pass { name: "train" }',
    });
  }
  assertValidStepName(baseName, `step(${baseName})`);

  const { sourceFile, identity } = definingModule();
  // Counted per file where the host knows it: two checkouts of one project loaded in one process share
  // an identity (it names no folder), and each copy's definitions are numbered as its bundle numbers them.
  const ordinalKey = `${sourceFile ?? identity}#${baseName}`;
  const ordinal = (definitionCounts.get(ordinalKey) ?? 0) + 1;
  definitionCounts.set(ordinalKey, ordinal);
  const definition: StepDefinition = Object.freeze({
    key: `${identity}#${baseName}#${ordinal}`,
    baseName,
    fn,
    options: Object.freeze({ ...validated }),
    sourceFile,
  });
  (globalThis as { [CONTAINER_GLOBALS.registry]?: ContainerRegistry })[CONTAINER_GLOBALS.registry]?.register(definition);

  const call = (...args: unknown[]): DelayedReturn<unknown> => new DelayedReturn(new FunctionStep(definition, args));
  Object.defineProperty(call, "name", { value: baseName });
  Object.defineProperty(call, "definition", { value: definition });
  return call as StepFunction<F>;
}

/**
 * The step that produces a DelayedReturn: `getStep(r).addDependsOn([...])`. Its `name` is the step
 * function's; the name it has in a pipeline (`train-2` for a second call) is `pipeline.stepName(r)`.
 */
export function getStep(output: DelayedReturn): FunctionStep {
  if (!isDelayedReturn(output)) {
    throw new ValidationError(`getStep() takes the DelayedReturn a step call returned, got ${inspect(output)}`, {
      hint: "const r = train(data); getStep(r).addDependsOn([other])",
    });
  }
  return output.step;
}

/** Each module's identity, made once: a module mostly defines several steps. */
const identities = new Map<string, string>();

/**
 * The module that called `step()`: its absolute path on the host (from the caller's stack frame),
 * and its identity in definition keys. In the container the bundle tells each module's identity as
 * it evaluates, and no path: the step must not learn the host's folders.
 */
function definingModule(): { sourceFile: string | undefined; identity: string } {
  const marked = (globalThis as { [CONTAINER_GLOBALS.module]?: string })[CONTAINER_GLOBALS.module];
  if (marked) return { sourceFile: undefined, identity: marked };
  const sourceFile = callerFile();
  if (!sourceFile) return { sourceFile, identity: "" };
  let identity = identities.get(sourceFile);
  if (identity === undefined) identities.set(sourceFile, (identity = moduleIdentity(sourceFile)));
  return { sourceFile, identity };
}

function callerFile(): string | undefined {
  const holder: { stack?: NodeJS.CallSite[] } = {};
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (_, frames) => frames;
  try {
    Error.captureStackTrace(holder, step);
    const file = holder.stack?.[0]?.getFileName() ?? undefined;
    if (!file) return undefined;
    return file.startsWith("file:") ? fileURLToPath(file) : file;
  } finally {
    Error.prepareStackTrace = previous;
  }
}
