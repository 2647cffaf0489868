/**
 * How the runner gets the one step function it was asked for out of a bundle, and how it records that
 * it could not. Shared by both ways a job starts (container/runner.ts): staged by the local engine, or
 * fetched from S3 as a cloud job.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import type { StepDefinition } from "../dsl/function-step.js";
import { CONTAINER_GLOBALS, CONTAINER_PATHS } from "./contract.js";

/** SageMaker returns the first 1024 characters of the failure file as FailureReason. */
const FAILURE_LIMIT = 1024;

/** The runner could not set the step up: the step's own code never ran. */
export class SetupError extends Error {
  override name = "StepboxSetupError";
}

/** Loads the bundle and waits until it has registered the wanted definition (or finished loading without it). */
export async function loadStepFunction(bundlePath: string, definitionKey: string): Promise<StepDefinition["fn"]> {
  const registered = new Map<string, StepDefinition>();
  let notify: () => void = () => {};
  const found = new Promise<void>((resolve) => {
    notify = resolve;
  });
  (globalThis as Record<symbol, unknown>)[CONTAINER_GLOBALS.registry] = {
    register(definition: StepDefinition) {
      registered.set(definition.key, definition);
      if (definition.key === definitionKey) notify();
    },
  };
  // The module may never finish loading (its top level awaits a pipeline that never starts here),
  // so the race ends as soon as the definition is registered.
  const loading = import(pathToFileURL(bundlePath).href);
  await Promise.race([found, loading]);
  const definition = registered.get(definitionKey);
  if (definition) return definition.fn;
  const known = [...registered.keys()].map((k) => k.split("#").slice(1).join("#"));
  throw new SetupError(
    `the bundle did not define step ${definitionKey.split("#").slice(1).join("#")} when loaded` +
      ` (it defined: ${known.join(", ") || "none"}); define steps at the top level of their module`,
  );
}

/** Writes /opt/ml/output/failure unless the step already wrote its own: SageMaker keeps the first writer's text. */
export async function writeFailure(error: { name: string; message: string }): Promise<void> {
  await mkdir(dirname(CONTAINER_PATHS.failure), { recursive: true });
  await writeFile(CONTAINER_PATHS.failure, `${error.name}: ${error.message}`.slice(0, FAILURE_LIMIT), { flag: "wx" }).catch(() => {
    // The step wrote its own failure file; SageMaker keeps the first writer's text.
  });
}
