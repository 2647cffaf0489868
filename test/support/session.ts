import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { LocalPipelineSession, type StepLogLine } from "stepbox";
import { LABEL } from "../../src/runtime/docker/labels.js";
import { parseTempName } from "../../src/runtime/temp-paths.js";

/** A session on a fresh temporary store with a fixed secret, that keeps the steps' output lines. */
export async function testSession(): Promise<{
  session: LocalPipelineSession;
  root: string;
  lines: StepLogLine[];
  cleanup: () => Promise<void>;
}> {
  const root = await mkdtemp(join(tmpdir(), "stepbox-test-"));
  const lines: StepLogLine[] = [];
  const session = new LocalPipelineSession({
    artifactRoot: root,
    secret: "test-secret",
    onLog: (line) => lines.push(line),
    stopGraceSeconds: 2,
  });
  return { session, root, lines, cleanup: () => rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }) };
}

/** The containers stepbox created for an execution (or for any when none is named) that still exist. */
export async function leftoverContainers(executionId?: string): Promise<string[]> {
  const filters = { label: [executionId ? `${LABEL.execution}=${executionId}` : `${LABEL.managed}=true`] };
  const containers = await new Docker().listContainers({ all: true, filters });
  return containers.map((c) => c.Names.join(","));
}

/** This process's step work folders in the temp folder (each step's /opt/ml lives in one while it runs). */
export async function workFolders(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => {
    const owner = parseTempName(name);
    return owner?.kind === "work" && owner.pid === process.pid;
  });
}

/**
 * The "ready" lines of steps, as events: give `onLog` to a session, then `ready(step)` resolves once
 * that step's code printed "ready" in its running container (at once when it already has).
 */
export class ReadyLines {
  readonly #seen = new Set<string>();
  readonly #waiting = new Map<string, Array<() => void>>();

  readonly onLog = ({ step, line }: StepLogLine): void => {
    if (line !== "ready") return;
    this.#seen.add(step);
    for (const resolve of this.#waiting.get(step)?.splice(0) ?? []) resolve();
  };

  ready(step: string): Promise<void> {
    if (this.#seen.has(step)) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.set(step, [...(this.#waiting.get(step) ?? []), resolve]));
  }
}

/** The host folder mounted at /opt/ml/output in the container of a step's host (that container exists). */
export async function hostOutputFolder(executionId: string, step: string, host = "algo-1"): Promise<string> {
  const docker = new Docker();
  const filters = { label: [`${LABEL.execution}=${executionId}`, `${LABEL.step}=${step}`, `${LABEL.host}=${host}`] };
  const [container] = await docker.listContainers({ all: true, filters });
  if (!container) throw new Error(`no container of step ${step} (${host}) in execution ${executionId}`);
  const output = container.Mounts.find((m) => m.Destination === "/opt/ml/output");
  if (!output) throw new Error(`the container of step ${step} (${host}) has no /opt/ml/output`);
  return output.Source;
}
