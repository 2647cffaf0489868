import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { describe, expect, it, vi } from "vitest";
import { ensureRuntimeImage, parseLdd } from "../../src/runtime/docker/image.js";
import { LABEL, managedLabels } from "../../src/runtime/docker/labels.js";

const probe = fileURLToPath(new URL("../fixtures/runtime-image-probe.ts", import.meta.url));
const changedProbe = fileURLToPath(new URL("../fixtures/runtime-image-probe-changed.ts", import.meta.url));
const docker = new Docker();

/** Splits the engine's multiplexed log stream (8-byte frame headers) into stdout and stderr. */
function demux(logs: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for (let at = 0; at + 8 <= logs.length; ) {
    const size = logs.readUInt32BE(at + 4);
    (logs[at] === 2 ? err : out).push(logs.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** Runs the image sandboxed as a step's container is, and returns its stdout. */
async function runSandboxed(image: string, args: string[]): Promise<string> {
  const container = await docker.createContainer({
    Image: image,
    Cmd: args,
    User: "1000:1000",
    Labels: managedLabels({ [LABEL.owner]: `${hostname()}:${process.pid}` }),
    HostConfig: {
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw,nosuid,nodev,size=16m" },
      NetworkMode: "none",
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
    },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const { stdout, stderr } = demux(await container.logs({ stdout: true, stderr: true }));
    expect(StatusCode, stderr).toBe(0);
    return stdout;
  } finally {
    await container.remove({ force: true });
  }
}

describe("ensureRuntimeImage", () => {
  it("builds an image whose entry point runs as stepbox in the /opt/ml layout, sandboxed", async () => {
    const image = await ensureRuntimeImage(docker, { runnerEntry: probe });
    expect(image.tag).toMatch(/^stepbox-runtime:[0-9a-f]{16}$/);

    const labels = (await docker.getImage(image.tag).inspect()).Config.Labels;
    expect(labels).toMatchObject({ [LABEL.managed]: "true", [LABEL.contentHash]: image.tag.split(":")[1] });

    const report = JSON.parse(await runSandboxed(image.tag, ["--probe"])) as Record<string, unknown>;
    expect(report).toMatchObject({
      uid: 1000,
      gid: 1000,
      user: "stepbox",
      home: "/tmp",
      nodeEnv: "production",
      cwd: "/opt/ml/code",
      args: ["--probe"],
      require: "function",
      writeTmp: "ok",
      writeImage: "EROFS",
    });
    expect(report.optMl).toEqual(["checkpoints", "code", "input", "input/config", "input/data", "model", "output", "output/data"].map((d) => `/opt/ml/${d}`));
    if (!process.env.STEPBOX_BASE_IMAGE) {
      expect(image.baseImage).toMatch(/^stepbox-base:node-v\d+\.\d+\.\d+-[0-9a-f]{12}$/);
      expect(report.node).toBe(process.version);
    }
  });

  it("finds the image again without building or importing anything", async () => {
    const first = await ensureRuntimeImage(docker, { runnerEntry: probe });
    const builds = vi.spyOn(docker, "buildImage");
    const imports = vi.spyOn(docker, "importImage");
    try {
      expect(await ensureRuntimeImage(docker, { runnerEntry: probe })).toEqual(first);
      expect(builds).not.toHaveBeenCalled();
      expect(imports).not.toHaveBeenCalled();
    } finally {
      builds.mockRestore();
      imports.mockRestore();
    }
  });

  it("gives a changed runner a new tag on the same base", async () => {
    const [first, changed] = await Promise.all([ensureRuntimeImage(docker, { runnerEntry: probe }), ensureRuntimeImage(docker, { runnerEntry: changedProbe })]);
    expect(changed.tag).not.toBe(first.tag);
    expect(changed.id).not.toBe(first.id);
    expect(changed.baseImage).toBe(first.baseImage);
  });

  it("lets two callers build the same new image at once", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stepbox-runner-"));
    const runnerEntry = join(dir, "runner.ts");
    await writeFile(runnerEntry, `console.log(${JSON.stringify(randomUUID())});\n`);
    let tag: string | undefined;
    try {
      const [a, b] = await Promise.all([ensureRuntimeImage(docker, { runnerEntry }), ensureRuntimeImage(docker, { runnerEntry })]);
      tag = a.tag;
      expect(b.tag).toBe(a.tag);
      expect((await docker.getImage(a.tag).inspect()).Id).toMatch(/^sha256:/);
    } finally {
      await rm(dir, { recursive: true, force: true });
      // Both builds' images, the one that lost the tag included, carry the content hash.
      const built = tag ? await docker.listImages({ filters: { label: [`${LABEL.contentHash}=${tag.split(":")[1]}`] } }) : [];
      for (const image of built) await docker.getImage(image.Id).remove({ force: true });
    }
  });
});

describe("parseLdd", () => {
  it("keeps the linked libraries and the loader, and skips the vdso", () => {
    const glibc = [
      "\tlinux-vdso.so.1 (0x00007ffc3e5f2000)",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f823ac00000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f823a93e000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f823ae82000)",
    ].join("\n");
    expect(parseLdd(glibc)).toEqual(["/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]);
    const musl = "\t/lib/ld-musl-x86_64.so.1 (0x7f0e1c2d1000)\n\tlibc.musl-x86_64.so.1 => /lib/ld-musl-x86_64.so.1 (0x7f0e1c2d1000)";
    expect(parseLdd(musl)).toEqual(["/lib/ld-musl-x86_64.so.1"]);
    expect(parseLdd("\tlinux-gate.so.1 =>  (0xf7f4e000)")).toEqual([]);
  });

  it("names a library that is not found", () => {
    expect(() => parseLdd("\tlibnode.so.108 => not found")).toThrow(/libnode\.so\.108/);
  });
});

describe("the runtime image in a session", () => {
  it("is checked once per process: a second session finds it without listing images or bundling the runner again", async () => {
    const { testSession } = await import("../support/session.js");
    const first = await testSession();
    const second = await testSession();
    const listings = vi.spyOn(Docker.prototype, "listImages");
    try {
      const image = (await first.session.runtime()).image;
      const callsAfterFirst = listings.mock.calls.length;
      expect(callsAfterFirst).toBeGreaterThan(0);
      expect((await second.session.runtime()).image).toBe(image);
      expect(listings.mock.calls.length).toBe(callsAfterFirst);
    } finally {
      listings.mockRestore();
      await first.cleanup();
      await second.cleanup();
    }
  });
});
