import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { Readable } from "node:stream";
import { pipeline as streamPipeline } from "node:stream/promises";
import tar from "tar-fs";
import { connect, createServer, type Socket } from "node:net";
import Docker from "dockerode";
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { LocalPipelineSession, Pipeline, ValidationError, type DelayedReturn } from "stepbox";
import {
  bigWriter,
  cluster,
  exitCode,
  failsOnAlgo2,
  failureFile,
  forkBomb,
  hog,
  hogsOnce,
  linksOut,
  missingChannel,
  napper,
  readsChannel,
  sleeper,
  tryNetwork,
  writeOutside,
  writesModel,
} from "../fixtures/training-steps.js";
import { endedBy, exited, startLongRun } from "../support/processes.js";
import { leftoverContainers, ReadyLines } from "../support/session.js";

async function runOne(session: LocalPipelineSession, name: string, output: DelayedReturn) {
  const execution = await new Pipeline({ name, steps: [output], session }).start();
  const described = await execution.wait();
  const [stepInfo] = await execution.listSteps();
  expect(await leftoverContainers(execution.id)).toEqual([]);
  return { execution, described, step: stepInfo! };
}

/** The entries of a .tar.gz in the store: name → type and, for files, content. */
async function archiveEntries(file: string): Promise<Map<string, { type: string; content?: string; linkname?: string }>> {
  const out = await mkdtemp(join(tmpdir(), "stepbox-untar-"));
  const entries = new Map<string, { type: string; content?: string; linkname?: string }>();
  const extract = tar.extract(out, {
    map: (header) => {
      const linkname = (header as { linkname?: string }).linkname;
      entries.set(header.name, { type: header.type ?? "file", ...(linkname ? { linkname } : {}) });
      return header;
    },
    ignore: (_name, header) => header?.type === "symlink",
  });
  await streamPipeline(Readable.from(await readFile(file)), createGunzip(), extract);
  for (const [name, entry] of entries) {
    if (entry.type === "file") entry.content = await readFile(join(out, name), "utf8");
  }
  await rm(out, { recursive: true, force: true });
  return entries;
}

/** The Docker engine's container events for an execution from `since` (seconds) until now. */
async function containerEvents(executionId: string, since: number): Promise<Array<{ Action: string; Actor: { ID: string } }>> {
  const stream = await new Docker().getEvents({
    since,
    // wait() answers only after the containers are gone, so every event is in the past.
    until: Math.ceil(Date.now() / 1000),
    filters: { type: ["container"], label: [`dev.stepbox.execution=${executionId}`] },
  });
  let text = "";
  for await (const chunk of stream) text += (chunk as Buffer).toString("utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { Action: string; Actor: { ID: string } });
}

describe("the training-job contract", () => {
  it("fails a step that runs out of memory with a reason that says so", async ({ ctx }) => {
    const { step } = await runOne(ctx.session, "oom", hog(1024));
    expect(step.StepStatus).toBe("Failed");
    expect(step.FailureReason).toMatch(/^OutOfMemory: .*0\.25 GiB \(instance type ml\.t3\.medium\)/);
  });

  it("retries a step that ran out of memory under a RESOURCE_LIMIT policy, as a new job in a new container after its interval", async ({ ctx }) => {
    const since = Math.floor(Date.now() / 1000);
    const { step, execution } = await runOne(ctx.session, "oom-retried", hogsOnce(1024));
    // No container is reused: the engine's own events show one created, and removed, per attempt.
    const events = await containerEvents(execution.id, since);
    const created = events.filter((e) => e.Action === "create").map((e) => e.Actor.ID);
    expect(new Set(created).size).toBe(2);
    expect(
      events
        .filter((e) => e.Action === "destroy")
        .map((e) => e.Actor.ID)
        .sort(),
    ).toEqual([...created].sort());
    expect(step.StepStatus).toBe("Succeeded");
    expect(await execution.result("hogsOnce")).toBe("attempt 2 fit in memory");
    const attempts = step.Attempts!;
    expect(attempts.map((a) => [a.StepStatus, a.TrainingJobName])).toEqual([
      ["Failed", `hogsOnce-${execution.id}`],
      ["Succeeded", `hogsOnce-${execution.id}-2`],
    ]);
    expect(attempts[0]!.FailureReason).toMatch(/^OutOfMemory: step "hogsOnce" used more than its memory limit of 0\.25 GiB/);
    expect(Date.parse(attempts[1]!.StartTime) - Date.parse(attempts[0]!.EndTime)).toBeGreaterThanOrEqual(500);
    expect(new Set(attempts.flatMap((a) => a.LogStreams)).size).toBe(2);
  });

  it("stops a step at maxRuntimeInSeconds, records MaxRuntimeExceeded and keeps its artifacts", async ({ ctx }) => {
    const { step, execution } = await runOne(ctx.session, "max-runtime", sleeper(300));
    expect(step.StepStatus).toBe("Stopped");
    expect(step.FailureReason).toMatch(/^MaxRuntimeExceeded/);
    const job = step.Metadata.TrainingJob!;
    expect(job.TrainingJobStatus).toBe("Stopped");
    expect(job.SecondaryStatus).toBe("MaxRuntimeExceeded");
    const model = await archiveEntries(join(ctx.root, "max-runtime", execution.id, "sleeper", "output", "model.tar.gz"));
    expect(model.get("partial.txt")?.content).toBe("saved before the stop");
    // The execution does not read Succeeded with a step that was cut short: it fails, naming the step.
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Failed");
    expect(described.FailureReason).toMatch(/^Step 'sleeper' failed with message: MaxRuntimeExceeded/);
  });

  it("stops a running execution: Stopping, then every step Stopped, and nothing new starts", async ({ ctx }) => {
    const first = napper(300);
    const second = napper(first as never);
    const execution = await new Pipeline({ name: "stopping", steps: [second], session: ctx.session }).start();
    for (;;) {
      const [s] = await execution.listSteps();
      if (s?.Metadata.TrainingJob?.SecondaryStatus === "Training") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await execution.stop();
    expect((await execution.describe()).PipelineExecutionStatus).toBe("Stopping");
    const described = await execution.wait();
    expect(described.PipelineExecutionStatus).toBe("Stopped");
    const steps = await execution.listSteps();
    expect(steps.map((s) => [s.StepName, s.StepStatus])).toEqual([["napper", "Stopped"]]);
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("takes FailureReason from /opt/ml/output/failure", async ({ ctx }) => {
    const { step } = await runOne(ctx.session, "failure-file", failureFile());
    expect(step.FailureReason).toBe("DataError: the training set has no rows");
  });

  it("reports an exit code without a failure file with the log's last lines", async ({ ctx }) => {
    const { step } = await runOne(ctx.session, "exit-code", exitCode(7));
    expect(step.StepStatus).toBe("Failed");
    expect(step.FailureReason).toMatch(/^AlgorithmError: exit code 7/);
    expect(step.FailureReason).toContain("about to exit");
  });

  it("archives /opt/ml/model and /opt/ml/output/data and writes the config files", async ({ ctx }) => {
    const { step, execution } = await runOne(ctx.session, "model", writesModel());
    expect(step.StepStatus).toBe("Succeeded");
    const job = step.Metadata.TrainingJob!;
    expect(job.ModelArtifacts?.S3ModelArtifacts).toMatch(/model\/.+\/writesModel\/output\/model\.tar\.gz$/);
    expect(job.SecondaryStatusTransitions!.map((t) => t.Status)).toEqual(["Starting", "Downloading", "Training", "Uploading", "Completed"]);
    const folder = join(ctx.root, "model", execution.id, "writesModel", "output");
    expect((await archiveEntries(join(folder, "model.tar.gz"))).get("weights/w.json")?.content).toBe("[1,2,3]");
    expect((await archiveEntries(join(folder, "output.tar.gz"))).get("metrics.csv")?.content).toBe("acc,0.9\n");

    const seen = (await execution.result("writesModel")) as Record<string, any>;
    expect(seen.resourceconfig).toMatchObject({
      current_host: "algo-1",
      hosts: ["algo-1"],
      current_instance_type: "ml.m5.large",
      network_interface_name: "eth0",
      instance_groups: [{ instance_type: "ml.m5.large", hosts: ["algo-1"] }],
    });
    expect(seen.hyperparameters).toEqual({ epochs: "3", lr: "0.1", name: "x" });
    expect(seen.env.TRAINING_JOB_NAME).toBe(`writesModel-${execution.id}`);
    expect(seen.env.TRAINING_JOB_ARN).toBe(`arn:aws:sagemaker:local:000000000000:training-job/writesModel-${execution.id}`);
    expect(seen.env.secret).toBeUndefined();
    expect(seen.uid).not.toBe(0);
  });

  it("shows a file:// input channel read-only under /opt/ml/input/data", async ({ ctx }) => {
    const { step, execution } = await runOne(ctx.session, "channels", readsChannel());
    expect(step.StepStatus).toBe("Succeeded");
    const seen = (await execution.result("readsChannel")) as Record<string, unknown>;
    expect(seen.files).toEqual(["rows.csv"]);
    expect(seen.content).toBe("a,b\n1,2\n");
    expect(seen.writeError).toBe("EROFS");
    expect(seen.config).toEqual({ train: { TrainingInputMode: "File", S3DistributionType: "FullyReplicated", RecordWrapperType: "None" } });
  });

  it("refuses a channel that is not an existing folder before anything runs", async ({ ctx }) => {
    const pipeline = new Pipeline({ name: "bad-channel", steps: [missingChannel()], session: ctx.session });
    await expect(pipeline.start()).rejects.toThrow(ValidationError);
    await expect(pipeline.start()).rejects.toThrow(/input channel "train": \/no\/such\/folder is not an existing folder/);
    expect((await pipeline.listExecutions()).PipelineExecutionSummaries).toEqual([]);
  });

  it("runs a two-host step whose hosts reach each other by name", async ({ ctx }) => {
    const { step, execution } = await runOne(ctx.session, "cluster", cluster());
    expect(step.StepStatus).toBe("Succeeded");
    expect(await execution.result("cluster")).toEqual({ host: "algo-1", reached: ["algo-2"] });
    expect(step.Metadata.TrainingJob!.LogStreams).toEqual([
      expect.stringMatching(new RegExp(`^cluster-${execution.id}/algo-1-\\d+$`)),
      expect.stringMatching(new RegExp(`^cluster-${execution.id}/algo-2-\\d+$`)),
    ]);
  });

  it("fails a two-host step when algo-2 fails, and stops algo-1", async ({ ctx }) => {
    const started = Date.now();
    const { step } = await runOne(ctx.session, "cluster-failure", failsOnAlgo2());
    expect(step.StepStatus).toBe("Failed");
    expect(step.FailureReason).toContain("algo-2 lost its shard");
    // algo-1 would sleep a minute; it was stopped instead (grace period 2 s in tests).
    expect(Date.now() - started).toBeLessThan(45_000);
  });
});

describe("the sandbox", () => {
  it("has no network by default", async ({ ctx }) => {
    const { execution } = await runOne(ctx.session, "no-network", tryNetwork());
    expect(await execution.result("tryNetwork")).toMatch(/^blocked: E/);
  });

  it("cannot write outside /opt/ml and /tmp", async ({ ctx }) => {
    const { execution } = await runOne(ctx.session, "read-only", writeOutside());
    expect(await execution.result("writeOutside")).toEqual({
      "/etc/evil": "EROFS",
      "/usr/local/bin/evil": "EROFS",
      "/opt/stepbox/evil": "EROFS",
      "/dev/shm/evil": "ENOENT",
      "/tmp/ok": "written",
      "/opt/ml/model/ok": "written",
    });
  });

  it("contains a fork bomb with the pids limit", async ({ ctx }) => {
    const { execution, step } = await runOne(ctx.session, "fork-bomb", forkBomb());
    expect(step.StepStatus).toBe("Succeeded");
    const { spawned, refused } = (await execution.result("forkBomb")) as { spawned: number; refused: string };
    expect(refused).toBe("EAGAIN");
    expect(spawned).toBeLessThan(512);
  });

  it("archives links as links and never follows them", async ({ ctx }) => {
    const { step, execution } = await runOne(ctx.session, "links", linksOut());
    expect(step.StepStatus).toBe("Succeeded");
    const model = await archiveEntries(join(ctx.root, "links", execution.id, "linksOut", "output", "model.tar.gz"));
    expect(model.get("passwd")).toEqual({ type: "symlink", linkname: "/etc/passwd" });
    expect(model.get("real.txt")?.content).toBe("real");
    expect([...model.values()].some((e) => e.content?.includes("root:"))).toBe(false);
  });

  it("fails a step whose output passes its limit instead of filling the disk", async ({ ctx }) => {
    const capped = new LocalPipelineSession({
      artifactRoot: ctx.root,
      secret: "test-secret",
      onLog: () => {},
      stopGraceSeconds: 2,
      outputLimitBytes: 8 * 1024 * 1024,
    });
    const { step } = await runOne(capped, "oversized", bigWriter(64));
    expect(step.StepStatus).toBe("Failed");
    // The kernel refuses the writes past a volume of 8 MiB when the engine is root; else the watcher kills the step.
    expect(step.FailureReason).toMatch(/^OutputLimitExceeded: .*(filled its 8 MiB volume|more than its limit of 8 MiB)/);
  });
});

describe("the lifecycle", () => {
  it("sweeps the containers of a killed engine process and marks its execution Failed", async ({ ctx }) => {
    const home = join(ctx.root, "orphans");
    await mkdir(home, { recursive: true });
    const { child, executionId } = startLongRun(home);
    const id = await executionId;
    expect(await leftoverContainers(id)).toHaveLength(1);
    child.kill("SIGKILL");
    await exited(child);
    expect(await leftoverContainers(id)).toHaveLength(1);

    const session = new LocalPipelineSession({ artifactRoot: home, secret: "test-secret" });
    await session.runtime();
    expect(await leftoverContainers(id)).toEqual([]);
    const record = await session.records.readExecution("long-run", id);
    expect(record.PipelineExecutionStatus).toBe("Failed");
    expect(record.FailureReason).toMatch(/stepbox process that ran this execution .* ended before it finished/);
    expect((await session.records.readStep("long-run", id, "napper"))?.StepStatus).toBe("Failed");
  });

  it("fails the running step with a reason naming the engine when the engine goes away", async ({ ctx }) => {
    // A proxy in front of the real engine stands in for it: cutting the proxy is the engine vanishing.
    const socket = join(ctx.root, "engine.sock");
    const connections = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = connect("/var/run/docker.sock");
      connections.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(socket, resolve));
    const previous = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${socket}`;
    let executionId = "";
    try {
      const lines = new ReadyLines();
      const session = new LocalPipelineSession({ artifactRoot: ctx.root, secret: "test-secret", onLog: lines.onLog, stopGraceSeconds: 1 });
      await session.runtime();
      const execution = await new Pipeline({ name: "engine-gone", steps: [napper(120)], session }).start();
      executionId = execution.id;
      // The engine goes away while the step's code runs, and the engine is attached to its container.
      await lines.ready("napper");
      proxy.close();
      for (const c of connections) c.destroy();
      const described = await execution.wait();
      expect(described.PipelineExecutionStatus).toBe("Failed");
      const [s] = await execution.listSteps();
      expect(s!.StepStatus).toBe("Failed");
      expect(s!.FailureReason).toMatch(new RegExp(`the Docker engine at unix://${socket} went away`));
      expect(s!.FailureReason).not.toMatch(/\n\s+at /);
    } finally {
      if (previous === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = previous;
      proxy.close();
      // The container outlived its engine connection; the real engine still has it.
      const docker = new Docker();
      for (const c of await docker.listContainers({ all: true, filters: { label: [`dev.stepbox.execution=${executionId}`] } })) {
        await docker.getContainer(c.Id).remove({ force: true });
      }
    }
  });

  it("stops an execution that another process runs, through the store", async ({ ctx }) => {
    const home = join(ctx.root, "remote-stop");
    await mkdir(home, { recursive: true });
    const { child, executionId } = startLongRun(home);
    const id = await executionId;
    const session = new LocalPipelineSession({ artifactRoot: home, secret: "test-secret" });
    const execution = await new Pipeline({ name: "long-run", steps: [napper(1)], session }).execution(id);
    await execution.stop();
    expect(await exited(child)).toBe(0);
    expect((await execution.describe()).PipelineExecutionStatus).toBe("Stopped");
    expect((await execution.listSteps())[0]!.StepStatus).toBe("Stopped");
    expect(await leftoverContainers(id)).toEqual([]);
  });

  it("stops its containers on SIGINT, then lets the signal end the process (a library never calls process.exit)", async ({ ctx }) => {
    const home = join(ctx.root, "interrupted");
    await mkdir(home, { recursive: true });
    const { child, executionId } = startLongRun(home);
    const id = await executionId;
    child.kill("SIGINT");
    expect(await endedBy(child)).toEqual({ code: null, signal: "SIGINT" });
    expect(await leftoverContainers(id)).toEqual([]);
    const session = new LocalPipelineSession({ artifactRoot: home, secret: "test-secret" });
    expect((await session.records.readExecution("long-run", id)).PipelineExecutionStatus).toBe("Stopped");
  });

  it("kills its containers at once on a second SIGINT, without waiting out the grace period", async ({ ctx }) => {
    const home = join(ctx.root, "interrupted-twice");
    await mkdir(home, { recursive: true });
    // The step ignores SIGTERM and the grace period is 600 s: only the second signal ends it in time.
    const { child, executionId, printed } = startLongRun(home, true);
    const id = await executionId;
    child.kill("SIGINT");
    await printed("STEP ignoring SIGTERM");
    child.kill("SIGINT");
    expect(await endedBy(child)).toEqual({ code: null, signal: "SIGINT" });
    expect(await leftoverContainers(id)).toEqual([]);
    const session = new LocalPipelineSession({ artifactRoot: home, secret: "test-secret" });
    expect((await session.records.readExecution("long-run", id)).PipelineExecutionStatus).toBe("Stopped");
    expect((await session.records.readStep("long-run", id, "ignoresStop"))?.StepStatus).toBe("Stopped");
  });
});
