/**
 * What `import ... from "stepbox"` means inside a step's container. The step's bundle evaluates the
 * whole module that defined it, and that module may build and start its pipeline at top level: here
 * `step()` only registers definitions, and starting a pipeline does nothing and never settles, so
 * only the one step function the runner was asked for runs.
 *
 * It exports the same names as src/index.ts (a unit test checks), so every user module bundles.
 */
export * from "../dsl/public.js";
export * from "../errors.js";

const never = <T>(): Promise<T> => new Promise<T>(() => {});

export class LocalPipelineSession {}

export const stopRunningExecutions = never;

export class PipelineSession {
  execution = never;
  close(): void {}
}

export class CloudPipelineExecution {
  describe = never;
  listSteps = never;
  listParameters = never;
  describeDefinition = never;
  retry = never;
  wait = never;
  result = never;
  stop = never;
}

export class PipelineExecution {
  describe = never;
  listSteps = never;
  listParameters = never;
  retry = never;
  wait = never;
  result = never;
  stop = never;
}

export class Pipeline {
  definition(): string {
    return "{}";
  }
  create = never;
  upsert = never;
  describe = never;
  start = never;
  execution = never;
  retryExecution = never;
  listExecutions = never;
  delete = never;
}
