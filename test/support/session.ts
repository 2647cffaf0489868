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
