/**
 * Readers never write. An execution whose engine process is gone reads as Failed (and so do its steps
 * that had not ended) to every reader, API and command line, while the bytes in the store stay as they
 * were: so a read-only or full store is still read, and a reader never races a writer. Only a process
 * that holds the store (the session's start-up sweep, `stepbox gc`) writes that end, through
 * reconcileDeadOwners, and then writes exactly what readers derived.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipelineSession, Pipeline, step } from "stepbox";
import { StoreError } from "../../src/errors.js";
import { reconcileDeadOwners } from "../../src/session/reconciling-records.js";
import { LocalFileStore } from "../../src/store/local-store.js";
import { RecordStore, type ExecutionRecord, type StepRecord } from "../../src/store/records.js";
import { buildCli, cli } from "../cli/cli.js";
import { deadPid } from "../support/processes.js";
import { mountSmallDisk, type SmallDisk } from "../support/small-disk.js";

const PIPELINE = "orphaned";
const LAST_HEARD = "2026-01-02T03:04:05.000Z";
let base: string;
let deadOwner: string;

beforeAll(async () => {
  await buildCli();
  base = await mkdtemp(join(tmpdir(), "stepbox-readers-"));
  deadOwner = `${hostname()}:${await deadPid()}`;
}, 300_000);
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

function executionRecord(id: string, owner: string): ExecutionRecord {
  return {
    PipelineName: PIPELINE,
    PipelineArn: `arn:aws:sagemaker:local:000000000000:pipeline/${PIPELINE}`,
    PipelineExecutionId: id,
    PipelineExecutionArn: `arn:aws:sagemaker:local:000000000000:pipeline/${PIPELINE}/execution/${id}`,
    PipelineExecutionDisplayName: id,
    PipelineExecutionStatus: "Executing",
    CreationTime: "2026-01-02T03:00:00.000Z",
    LastModifiedTime: LAST_HEARD,
    ParallelismConfiguration: { MaxParallelExecutionSteps: 1 },
    PipelineParameters: [],
    ParameterValues: {},
    StepNames: ["prep", "train"],
    Owner: owner,
  };
}

function stepRecord(name: string, status: StepRecord["StepStatus"], startTime: string): StepRecord {
  return {
    StepName: name,
    StepDisplayName: name,
    StepDescription: "",
    StepStatus: status,
    StartTime: startTime,
    ...(status === "Succeeded" ? { EndTime: "2026-01-02T03:01:00.000Z" } : {}),
    AttemptCount: 1,
    Metadata: {},
  };
}

/** A store holding one execution per owner: `prep` succeeded, `train` was running when its owner went away. */
async function storeWith(root: string, owners: Record<string, string>): Promise<void> {
  const records = new RecordStore(new LocalFileStore(root));
  const created = "2026-01-01T00:00:00.000Z";
  await records.writePipeline({
    PipelineName: PIPELINE,
    PipelineArn: `arn:aws:sagemaker:local:000000000000:pipeline/${PIPELINE}`,
    PipelineDisplayName: PIPELINE,
    PipelineDefinition: "{}",
    CreationTime: created,
    LastModifiedTime: created,
  });
  for (const [id, owner] of Object.entries(owners)) {
    await records.writeExecution(executionRecord(id, owner));
    await records.writeStep(PIPELINE, id, stepRecord("prep", "Succeeded", "2026-01-02T03:00:30.000Z"));
    // Started after the execution's record last changed: the engine rewrites a step's record, not the execution's, when a step starts.
    await records.writeStep(PIPELINE, id, stepRecord("train", "Executing", "2026-01-02T03:05:00.000Z"));
  }
}

/** Every file of a folder with the SHA-256 of its bytes. */
async function fingerprint(root: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[path.slice(root.length + 1)] = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
  }
  return files;
}

function pipelineOn(root: string): Pipeline {
  const session = new LocalPipelineSession({ artifactRoot: root, secret: "x" });
  const noop = step(function noop() {
    return 1;
  });
  return new Pipeline({ name: PIPELINE, steps: [noop()], session });
}

const REASON = /^the stepbox process that ran this execution \(.+:\d+\) ended before it finished$/;

/** What every reader must see of the dead owner's execution `id` on the store at `root`: API and command line. */
async function expectReadAsFailed(root: string, id: string): Promise<void> {
  const execution = await pipelineOn(root).execution(id);
  const description = await execution.wait();
  expect(description.PipelineExecutionStatus).toBe("Failed");
  expect(description.FailureReason).toMatch(REASON);
  expect(description.FailureReason).toContain(deadOwner);
  expect(description.LastModifiedTime.toISOString()).toBe(LAST_HEARD);
  const steps = await execution.listSteps();
  expect(steps.map((s) => [s.StepName, s.StepStatus, s.FailureReason])).toEqual([
    ["train", "Failed", description.FailureReason],
    ["prep", "Succeeded", undefined],
  ]);
  // Never ending before it started, though the execution's record is older than the step's.
  expect(steps[0]!.EndTime!.getTime()).toBeGreaterThanOrEqual(steps[0]!.StartTime!.getTime());
  await expect(execution.result("train")).rejects.toThrow(/step "train" failed: the stepbox process that ran this execution/);

  const listed = await cli(root, ["executions", PIPELINE, "--json"]);
  expect(listed.stderr).toBe("");
  expect(JSON.parse(listed.stdout).find((e: { PipelineExecutionId: string }) => e.PipelineExecutionId === id)).toMatchObject({
    PipelineExecutionStatus: "Failed",
    FailureReason: description.FailureReason,
  });
  const described = await cli(root, ["describe", id, "--json"]);
  expect(described.stderr).toBe("");
  expect(JSON.parse(described.stdout)).toMatchObject({ PipelineExecutionStatus: "Failed", FailureReason: description.FailureReason });
}

describe("reading an execution whose engine process is gone", () => {
  it("answers Failed with the reason, to the API and the command line, and leaves every byte of the store as it was", async () => {
    const root = join(base, "plain");
    await storeWith(root, { deadowner1: deadOwner });
    const before = await fingerprint(root);
    await expectReadAsFailed(root, "deadowner1");
    expect(await fingerprint(root)).toEqual(before);
    expect((await new RecordStore(new LocalFileStore(root)).readExecution(PIPELINE, "deadowner1")).PipelineExecutionStatus).toBe("Executing");
  });

  it("answers the same from a store on a read-only disk, where a writer gets a clear error", async (ctx) => {
    const disk: SmallDisk | { refused: string } = await mountSmallDisk(4 * 1024 * 1024);
    if ("refused" in disk) return ctx.skip(disk.refused);
    try {
      const root = join(disk.path, "store");
      await storeWith(root, { deadowner2: deadOwner });
      await disk.readOnly();
      await expectReadAsFailed(root, "deadowner2");
      const error: unknown = await reconcileDeadOwners(new LocalFileStore(root)).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).errno).toBe("EROFS");
    } finally {
      await disk.unmount();
    }
  });
});

describe("reading an execution whose engine process is gone, on a full disk", () => {
  it("answers Failed, naming the full disk as the likely cause and the fix, and writes nothing", async (ctx) => {
    const disk: SmallDisk | { refused: string } = await mountSmallDisk(1024 * 1024);
    if ("refused" in disk) return ctx.skip(disk.refused);
    try {
      const root = join(disk.path, "store");
      await storeWith(root, { deadowner5: deadOwner });
      // Fill the disk as a run's artifacts would: the write stops where the disk does.
      await writeFile(join(disk.path, "filler"), Buffer.alloc(2 * 1024 * 1024)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOSPC") throw error;
      });
      const before = await fingerprint(root);
      const description = await (await pipelineOn(root).execution("deadowner5")).wait();
      expect(description.PipelineExecutionStatus).toBe("Failed");
      expect(description.FailureReason).toMatch(
        /^the stepbox process that ran this execution \(.+\) ended before it finished; the disk holding .*\/store is full \(\d+ bytes free\), which may be why its last records were never written: free space on that disk, or set STEPBOX_HOME/,
      );
      const listed = await cli(root, ["executions", "--json"]);
      expect(listed.stderr).toBe("");
      expect(JSON.parse(listed.stdout)).toMatchObject([
        { PipelineExecutionId: "deadowner5", PipelineExecutionStatus: "Failed", FailureReason: description.FailureReason },
      ]);
      expect(await fingerprint(root)).toEqual(before);
    } finally {
      await disk.unmount();
    }
  });
});

describe("reconcileDeadOwners", () => {
  it("writes what readers derived, and only for owners of this host that are gone", async () => {
    const root = join(base, "reconciled");
    const elsewhere = "another-host:1";
    await storeWith(root, { deadowner3: deadOwner, liveowner: `${hostname()}:${process.pid}`, elsewhere });
    const derived = await (await pipelineOn(root).execution("deadowner3")).describe();
    const derivedSteps = await (await pipelineOn(root).execution("deadowner3")).listSteps();

    const ended = await reconcileDeadOwners(new LocalFileStore(root));
    expect(ended).toEqual([{ pipeline: PIPELINE, execution: "deadowner3", owner: deadOwner }]);
    const raw = new RecordStore(new LocalFileStore(root));
    const written = await raw.readExecution(PIPELINE, "deadowner3");
    expect(written).toMatchObject({ PipelineExecutionStatus: "Failed", FailureReason: derived.FailureReason, LastModifiedTime: LAST_HEARD });
    expect(await (await pipelineOn(root).execution("deadowner3")).listSteps()).toEqual(derivedSteps);
    expect((await raw.readStep(PIPELINE, "deadowner3", "train"))?.StepStatus).toBe("Failed");
    for (const id of ["liveowner", "elsewhere"]) {
      expect((await raw.readExecution(PIPELINE, id)).PipelineExecutionStatus, id).toBe("Executing");
      expect((await raw.readStep(PIPELINE, id, "train"))?.StepStatus, id).toBe("Executing");
    }
    // A second sweep finds nothing left to end.
    expect(await reconcileDeadOwners(new LocalFileStore(root))).toEqual([]);
  });

  it("is what stepbox gc runs first, so it reports the executions it ended", async () => {
    const root = join(base, "gc");
    await storeWith(root, { deadowner4: deadOwner });
    const gc = await cli(root, ["gc", "--older-than", "1000d", "--json"]);
    expect(gc.stderr).toBe("");
    expect(JSON.parse(gc.stdout)).toMatchObject({
      EndedOrphans: [{ PipelineName: PIPELINE, PipelineExecutionId: "deadowner4", Owner: deadOwner }],
      Removed: [],
      KeptRunning: [],
    });
    expect((await new RecordStore(new LocalFileStore(root)).readExecution(PIPELINE, "deadowner4")).PipelineExecutionStatus).toBe("Failed");
  });
});
