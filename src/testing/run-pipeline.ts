import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeExecutionContainers } from "../runtime/docker/orphan-sweep.js";
import { LocalPipelineSession, type StepLogLine } from "../session/local-pipeline-session.js";
import type { Pipeline, StartOptions } from "../session/pipeline.js";
import type { PipelineExecution, PipelineExecutionDescription, PipelineExecutionStep } from "../session/pipeline-execution.js";
import { executionEnded } from "../store/records.js";

/** The secret a test run's payloads are signed with: fixed, so a failing run can be read back the same way. */
export const TEST_SECRET = "stepbox-testing";

export interface RunPipelineOptions extends StartOptions {
  /** The secret the run's per-execution keys derive from. @default TEST_SECRET ("stepbox-testing") */
  secret?: string;
  /**
   * Also called with each line the steps print; every line is kept in `run.logs` either way.
   * @default nothing printed
   * @example onLog: (l) => console.log(`[${l.step}] ${l.line}`)
   */
  onLog?: (line: StepLogLine) => void;
  /** Seconds between SIGTERM and SIGKILL when cleanup stops a run that is still going. @default 2 */
  stopGraceSeconds?: number;
}

/** A finished run of a pipeline in its own temporary store. Dispose of it (or call `cleanup()`) to remove everything. */
export interface PipelineRun extends AsyncDisposable {
  readonly execution: PipelineExecution;
  /** DescribePipelineExecution's answer once the run ended: `PipelineExecutionStatus`, `FailureReason`... */
  readonly description: PipelineExecutionDescription;
  /** Each step that started, by step name: `StepStatus`, `FailureReason`, `Metadata.TrainingJob`... */
  readonly steps: Readonly<Record<string, PipelineExecutionStep>>;
  /** The result of each step that succeeded, by step name, read back from the store. */
  readonly results: Readonly<Record<string, unknown>>;
  /** Every line the steps printed, in order. */
  readonly logs: readonly StepLogLine[];
  /** The session the run used: its store (`session.store`) holds the run's records and artifacts until cleanup. */
  readonly session: LocalPipelineSession;
  /** The temporary folder of the store. */
  readonly artifactRoot: string;
  /** Stops the run if it still goes, removes its containers and networks, and deletes the store. Safe to call twice. */
  cleanup(): Promise<void>;
}

/**
 * Runs `pipeline` to its end in a fresh temporary store with a fixed secret, and returns the
 * execution, its description, its steps and results by step name. The pipeline's own session is
 * left alone. A run that fails still resolves: look at `description.PipelineExecutionStatus`.
 *
 * @example
 * await using run = await runPipeline(pipeline, { parameters: { epochs: 2 } });
 * expect(run.description.PipelineExecutionStatus).toBe("Succeeded");
 * expect(run.results.evaluate).toEqual({ accuracy: 0.9 });
 */
export async function runPipeline(pipeline: Pipeline, options: RunPipelineOptions = {}): Promise<PipelineRun> {
  const { secret = TEST_SECRET, onLog, stopGraceSeconds = 2, ...start } = options;
  const artifactRoot = await mkdtemp(join(tmpdir(), "stepbox-testing-"));
  const logs: StepLogLine[] = [];
  const session = new LocalPipelineSession({
    artifactRoot,
    secret,
    stopGraceSeconds,
    onLog: (line) => {
      logs.push(line);
      onLog?.(line);
    },
  });
  let execution: PipelineExecution | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaned ??= removeRun(artifactRoot, execution));
  try {
    execution = await pipeline.withSession(session).start(start);
    const description = await execution.wait();
    const steps = Object.fromEntries((await execution.listSteps()).map((s) => [s.StepName, s]));
    const results: Record<string, unknown> = {};
    for (const step of Object.values(steps)) {
      if (step.StepStatus === "Succeeded") results[step.StepName] = await execution.result(step.StepName);
    }
    return { execution, description, steps, results, logs, session, artifactRoot, cleanup, [Symbol.asyncDispose]: cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Everything a run made: a run still going is stopped first, so no container outlives the test. */
async function removeRun(artifactRoot: string, execution: PipelineExecution | undefined): Promise<void> {
  try {
    if (execution) {
      const { PipelineExecutionStatus: status } = await execution.describe();
      if (!executionEnded(status)) {
        await execution.stop();
        await execution.wait();
      }
      // The engine removes its containers itself; this catches what a crash of it would leave.
      await removeExecutionContainers(execution.id);
    }
  } finally {
    await rm(artifactRoot, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}
