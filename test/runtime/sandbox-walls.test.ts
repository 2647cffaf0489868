/**
 * The sandbox of stepbox's own containers, seen from inside a real step run through a session: each
 * wall the README promises is read back from the kernel, so dropping CapDrop, no-new-privileges,
 * ReadonlyRootfs, IpcMode or NetworkMode from the container's HostConfig, or binding in another host
 * folder, fails here.
 */
import { realpath, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { LocalPipelineSession, Pipeline } from "stepbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeSandbox, type SandboxReport } from "../fixtures/sandbox-probe-steps.js";
import { gated } from "../fixtures/steps.js";
import { hostOutputFolder, leftoverContainers, ReadyLines, testSession } from "../support/session.js";

let ctx: Awaited<ReturnType<typeof testSession>>;
let report: SandboxReport;

beforeAll(async () => {
  ctx = await testSession();
  const execution = await new Pipeline({ name: "sandbox-walls", steps: [probeSandbox()], session: ctx.session }).start();
  expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
  report = (await execution.result("probeSandbox")) as SandboxReport;
  expect(await leftoverContainers(execution.id)).toEqual([]);
});

afterAll(async () => {
  await ctx.cleanup();
});

/** Filesystems the kernel makes for the container itself; any other mount is a host folder or file bound in. */
const KERNEL_FILESYSTEMS = new Set(["proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"]);

const NO_CAPABILITIES = "0000000000000000";

describe("a step's own container", () => {
  it("has no capabilities in any set, not even ones it could regain, and no_new_privs", () => {
    // CapEff alone is 0 for any non-root user; the bounding set is what CapDrop ALL empties.
    expect(report.status).toEqual({
      CapInh: NO_CAPABILITIES,
      CapPrm: NO_CAPABILITIES,
      CapEff: NO_CAPABILITIES,
      CapBnd: NO_CAPABILITIES,
      CapAmb: NO_CAPABILITIES,
      NoNewPrivs: "1",
    });
  });

  it("runs as the engine's own user, or uid 1000 when the engine runs as root", () => {
    const uid = process.getuid?.() ?? 1000;
    const gid = process.getgid?.() ?? 1000;
    expect({ uid: report.uid, gid: report.gid }).toEqual(uid === 0 ? { uid: 1000, gid: 1000 } : { uid, gid });
  });

  it("has only the loopback interface when the step asked for no network", () => {
    expect(report.classNet).toEqual(["lo"]);
    expect(report.netDev).toEqual(["lo"]);
  });

  it("has a read-only root where only /tmp and its writable /opt/ml folders can be written", () => {
    expect(report.mounts.find((m) => m.point === "/")?.options).toMatch(/^ro,/);
    const allowed = ["/tmp", "/opt/ml/model", "/opt/ml/output", "/opt/ml/checkpoints"];
    // POSIX message queues of the container's private IPC namespace, bounded by the user's
    // RLIMIT_MSGQUEUE (800 KiB): Docker mounts them even with IpcMode "none".
    const elsewhere = report.writable.filter((p) => p !== "/dev/mqueue" && !allowed.some((a) => p === a || p.startsWith(`${a}/`)));
    expect(elsewhere).toEqual([]);
    // The walk saw the writable folders, or it proved nothing.
    expect(report.writable).toEqual(expect.arrayContaining([...allowed, "/opt/ml/output/data"]));
  });

  it("has no /dev/shm", () => {
    expect(report.devShm).toBe("ENOENT");
    expect(report.mounts.map((m) => m.point)).not.toContain("/dev/shm");
  });

  it("has no host folder mounted but its own /opt/ml folders and its channels, read-only where they are inputs", async () => {
    const channel = await realpath(fileURLToPath(new URL("../fixtures/channel-data", import.meta.url)));
    const fromHost = report.mounts.filter((m) => m.point !== "/" && !KERNEL_FILESYSTEMS.has(m.type));
    // Docker's own files: its init and the container's name-resolution files, each bound read-only.
    const docker = ["/sbin/docker-init", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];
    for (const m of fromHost.filter((m) => docker.includes(m.point))) expect(m.options, m.point).toMatch(/^ro,/);
    const binds = fromHost.filter((m) => !docker.includes(m.point)).map((m) => ({ point: m.point, readOnly: m.options.startsWith("ro,") }));
    expect(binds.sort((a, b) => a.point.localeCompare(b.point))).toEqual([
      { point: "/opt/ml/checkpoints", readOnly: false },
      { point: "/opt/ml/code", readOnly: true },
      { point: "/opt/ml/input", readOnly: true },
      { point: "/opt/ml/input/data/train", readOnly: true },
      { point: "/opt/ml/model", readOnly: false },
      { point: "/opt/ml/output", readOnly: false },
    ]);
    expect(fromHost.find((m) => m.point === "/opt/ml/input/data/train")?.root).toBe(channel);
  });
});

describe("a step's running container", () => {
  it("carries every label a sweep needs: pipeline, execution, step, host, store and this engine process", async () => {
    const lines = new ReadyLines();
    const session = new LocalPipelineSession({ artifactRoot: ctx.root, secret: "test-secret", stopGraceSeconds: 2, onLog: lines.onLog });
    const execution = await new Pipeline({ name: "labelled", steps: [gated("labels", null)], session }).start();
    await lines.ready("gated");
    const [container, ...others] = await new Docker().listContainers({ filters: { label: [`dev.stepbox.execution=${execution.id}`] } });
    expect(others).toEqual([]);
    // Besides the runtime image's own labels, which every container of it inherits.
    expect(container!.Labels).toMatchObject({
      "dev.stepbox.managed": "true",
      "dev.stepbox.pipeline": "labelled",
      "dev.stepbox.execution": execution.id,
      "dev.stepbox.step": "gated",
      "dev.stepbox.host": "algo-1",
      "dev.stepbox.store": session.store.uri,
      "dev.stepbox.owner": `${hostname()}:${process.pid}`,
    });
    await writeFile(join(await hostOutputFolder(execution.id, "gated"), "go"), "");
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });
});
