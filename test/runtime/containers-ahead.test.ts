/**
 * Containers made ahead: stepbox creates and starts a step's containers while the steps before it
 * run, their runner waiting for the step's files. These tests read stepbox's own containers from the
 * engine (and its event stream): the container made ahead carries the whole sandbox and is the one
 * the step runs in, nothing of the step is in it before the step starts, and one whose step never
 * runs (a branch not taken, a failure, a stop) is removed, killed while waiting, before the
 * execution's end.
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeEach, describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { ConditionGreaterThanOrEqualTo, ConditionStep, Pipeline, getStep } from "stepbox";
import { LABEL } from "../../src/runtime/docker/labels.js";
import { LOOKAHEAD_GATE, failsAtOnce, heldOpen, neverStarts, ownContainer, quick } from "../fixtures/lookahead-steps.js";
import { leftoverContainers } from "../support/session.js";

const docker = new Docker();

afterAll(async () => {
  await rm(LOOKAHEAD_GATE, { recursive: true, force: true });
});
beforeEach(async () => {
  await rm(LOOKAHEAD_GATE, { recursive: true, force: true });
  await mkdir(LOOKAHEAD_GATE, { recursive: true });
});

/** Checks `ready` every 50 ms until it holds; fails, naming `what`, after a generous limit. */
async function until<T>(what: string, ready: () => Promise<T | undefined>, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await ready();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The container stepbox made for a step of an execution, once it exists. */
function stepContainer(execution: string, step: string): Promise<Docker.ContainerInfo> {
  return until(`a container of step ${step}`, async () => {
    const found = await docker.listContainers({ all: true, filters: { label: [`${LABEL.execution}=${execution}`, `${LABEL.step}=${step}`] } });
    return found[0];
  });
}

interface ContainerEvent {
  readonly action: string;
  readonly step: string;
  readonly execution: string;
  /** A die event's exit code. */
  readonly exitCode: string | undefined;
}

/** Docker's container events for stepbox's containers, from now on, as they come. */
async function watchEvents(): Promise<{ events: ContainerEvent[]; stop: () => void }> {
  const stream = (await docker.getEvents({ filters: { type: ["container"], label: [`${LABEL.managed}=true`] } })) as NodeJS.ReadableStream & {
    destroy(): void;
  };
  const events: ContainerEvent[] = [];
  let pending = "";
  stream.on("data", (chunk: Buffer) => {
    const lines = (pending + chunk.toString("utf8")).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines.filter((l) => l.trim())) {
      const event = JSON.parse(line) as { Action: string; Actor: { Attributes: Record<string, string> } };
      const attributes = event.Actor.Attributes;
      events.push({ action: event.Action, step: attributes[LABEL.step] ?? "", execution: attributes[LABEL.execution] ?? "", exitCode: attributes.exitCode });
    }
  });
  return { events, stop: () => stream.destroy() };
}

/**
 * What the engine did to a step's containers in an execution, in order, once the step's container is
 * destroyed: each action, a die with its exit code (`die:137`).
 */
async function lifecycle(watch: { events: ContainerEvent[] }, execution: string, step: string): Promise<string[]> {
  const actions = (): string[] =>
    watch.events.filter((e) => e.execution === execution && e.step === step).map((e) => (e.action === "die" ? `die:${e.exitCode}` : e.action));
  // The execution ends after the removal; the event can reach this stream a moment later.
  await until(`the destroy event of step ${step}`, async () => (actions().includes("destroy") ? true : undefined), 10_000);
  return actions();
}

/** A container made ahead whose step never ran: created, started, killed while its runner waited (137), never exited on its own. */
function expectKilledWaiting(actions: readonly string[]): void {
  expect(actions).toEqual(expect.arrayContaining(["create", "start", "die:137", "destroy"]));
  expect(actions).not.toContain("die:0");
}

/** The host folder bind-mounted at `containerPath` in a container. */
function hostFolder(info: Docker.ContainerInspectInfo, containerPath: string): string {
  const bind = info.HostConfig.Binds!.find((b) => b.split(":")[1] === containerPath);
  if (!bind) throw new Error(`nothing is mounted at ${containerPath}`);
  return bind.split(":")[0]!;
}

describe("containers made ahead", () => {
  it("creates and starts the next step's container, sandboxed, while its upstream runs, and runs the step in it", async ({ ctx }) => {
    const held = heldOpen();
    const next = ownContainer(held);
    const execution = await new Pipeline({ name: "ahead-sandbox", steps: [next], session: ctx.session }).start();

    const info = await stepContainer(execution.id, getStep(next).name);
    expect(info.Labels[LABEL.execution]).toBe(execution.id);
    const made = await until("the container made ahead to run", async () => {
      const inspected = await docker.getContainer(info.Id).inspect();
      return inspected.State.Status === "running" ? inspected : undefined;
    });
    // Started, its runner waiting for the start marker: the step it belongs to still waits for its
    // upstream, and none of the step's code, arguments or start marker is in its folders yet.
    expect(made.Config.Env).toContain("STEPBOX_WAIT_FOR_START=1");
    expect(await readdir(hostFolder(made, "/opt/ml/code"))).toEqual([]);
    expect(await readdir(join(hostFolder(made, "/opt/ml/input"), "stepbox"))).toEqual(["arguments"]);
    expect(await readdir(join(hostFolder(made, "/opt/ml/input"), "stepbox", "arguments"))).toEqual([]);
    expect((await execution.listSteps()).map((s) => s.StepName)).not.toContain(getStep(next).name);
    expect((await execution.describe()).PipelineExecutionStatus).toBe("Executing");
    expect(made.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(made.HostConfig.ReadonlyRootfs).toBe(true);
    expect(made.HostConfig.NetworkMode).toBe("none");
    expect(made.HostConfig.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(made.HostConfig.PidsLimit).toBe(512);
    expect(made.HostConfig.Init).toBe(true);
    expect(made.HostConfig.Memory).toBeGreaterThan(0);
    expect(made.HostConfig.MemorySwap).toBe(made.HostConfig.Memory);
    // /tmp is sized: the step's output limit, at most half its memory (the tmpfs's pages count as memory).
    expect(made.HostConfig.Tmpfs).toEqual({ "/tmp": `rw,nosuid,nodev,size=${Math.floor(made.HostConfig.Memory! / 2)}` });
    const expectedUser = process.getuid!() === 0 ? "1000:1000" : `${process.getuid!()}:${process.getgid!()}`;
    expect(made.Config.User).toBe(expectedUser);
    // No host folder but the step's /opt/ml and its channels (none here) is mounted.
    expect(made.HostConfig.Binds!.map((b) => b.split(":")[1]).sort()).toEqual(
      ["/opt/ml/checkpoints", "/opt/ml/code", "/opt/ml/input", "/opt/ml/model", "/opt/ml/output"].sort(),
    );

    await writeFile(join(LOOKAHEAD_GATE, "open"), "");
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    // The step ran in exactly that container, as the unprivileged user.
    expect(await execution.result(getStep(next).name)).toEqual({ id: info.Id, uid: Number(expectedUser.split(":")[0]) });
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("runs the step in a new container when the one made ahead was killed before the step began", async ({ ctx }) => {
    const next = ownContainer(heldOpen());
    const execution = await new Pipeline({ name: "ahead-killed", steps: [next], session: ctx.session }).start();
    const info = await stepContainer(execution.id, getStep(next).name);
    await until("the container made ahead to run", async () => ((await docker.getContainer(info.Id).inspect()).State.Status === "running" ? true : undefined));
    // Killed from outside while its runner waited: nothing of the step ran in it, so it is no failure of the step's.
    await docker.getContainer(info.Id).kill();
    await until("the killed container to exit", async () => ((await docker.getContainer(info.Id).inspect()).State.Status === "exited" ? true : undefined));

    await writeFile(join(LOOKAHEAD_GATE, "open"), "");
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    const ran = (await execution.result(getStep(next).name)) as { id: string };
    expect(ran.id).not.toBe(info.Id);
    expect((await execution.listSteps()).find((s) => s.StepName === getStep(next).name)?.AttemptCount).toBe(1);
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });

  it("removes the container made ahead for a branch not taken, its step never run", async ({ ctx }) => {
    const watch = await watchEvents();
    try {
      const value = quick();
      const notTaken = neverStarts(value);
      const taken = ownContainer(value);
      const check = new ConditionStep({
        name: "big-enough",
        conditions: [new ConditionGreaterThanOrEqualTo({ left: value, right: 1 })],
        ifSteps: [notTaken],
        elseSteps: [taken],
      });
      const execution = await new Pipeline({ name: "ahead-branch", steps: [check], session: ctx.session }).start({ parallelism: 2 });
      expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
      expect((await execution.listSteps()).map((s) => s.StepName)).not.toContain(getStep(notTaken).name);
      expect(await leftoverContainers(execution.id)).toEqual([]);
      // Made ahead while the condition ran, then removed while its runner still waited.
      expectKilledWaiting(await lifecycle(watch, execution.id, getStep(notTaken).name));
      expect(await lifecycle(watch, execution.id, getStep(taken).name)).toEqual(expect.arrayContaining(["create", "start", "die:0", "destroy"]));
    } finally {
      watch.stop();
    }
  });

  it("removes the container made ahead for a step after one that fails, its step never run", async ({ ctx }) => {
    const watch = await watchEvents();
    try {
      const after = neverStarts(failsAtOnce());
      const execution = await new Pipeline({ name: "ahead-failure", steps: [after], session: ctx.session }).start();
      expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
      expect(await leftoverContainers(execution.id)).toEqual([]);
      expectKilledWaiting(await lifecycle(watch, execution.id, getStep(after).name));
    } finally {
      watch.stop();
    }
  });

  it("removes the container made ahead when the execution is stopped", async ({ ctx }) => {
    const after = neverStarts(heldOpen());
    const execution = await new Pipeline({ name: "ahead-stop", steps: [after], session: ctx.session }).start();
    const info = await stepContainer(execution.id, getStep(after).name);
    await until("the container made ahead to run", async () => ((await docker.getContainer(info.Id).inspect()).State.Status === "running" ? true : undefined));
    await execution.stop();
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Stopped");
    expect(await leftoverContainers(execution.id)).toEqual([]);
    await expect(docker.getContainer(info.Id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});
