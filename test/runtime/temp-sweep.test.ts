/**
 * The temp files of killed engine processes: a session that starts its runtime removes the work folders,
 * checkpoints, channel downloads and spool files whose process no longer runs, and nothing else.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { access, chown, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { LocalPipelineSession } from "stepbox";
import { makeVolumeImage, mountVolume, unmountVolume } from "../../src/runtime/output-volume.js";
import { HOST_TAG, parseTempName, tempFolderPrefix } from "../../src/runtime/temp-paths.js";
import { exited, startLongRun } from "../support/processes.js";
import { leftoverContainers } from "../support/session.js";
import { kernelHoldsLimits, stepboxLoopDevices, stepboxMounts } from "../support/volumes.js";

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface LeftPaths {
  work: string;
  channel: string;
  shell: string;
  checkpoints: string;
  spool: string;
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/** A child process that made one of each temp path (test/fixtures/temp-leaver.ts) and waits. */
async function leaveTempPaths(): Promise<{ child: ChildProcess; paths: LeftPaths }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/temp-leaver.ts"], { stdio: ["ignore", "pipe", "inherit"] });
  cleanups.push(async () => {
    child.kill("SIGKILL");
    await exited(child);
  });
  const paths = await new Promise<LeftPaths>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^(\{.*\})\n/m.exec(out);
      if (line) resolve(JSON.parse(line[1]!) as LeftPaths);
    });
    child.once("exit", (code) => reject(new Error(`temp-leaver exited with ${code} before making its temp paths`)));
  });
  cleanups.push(() => Promise.all(Object.values(paths).map((p: string) => rm(p, { recursive: true, force: true }))));
  return { child, paths };
}

/** A logger that keeps its JSON lines, to see what the sweep said. */
function keptLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), lines };
}

/** The temp paths whose names say this pid made them. */
async function tempPathsOf(pid: number): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => parseTempName(name)?.pid === pid).sort();
}

describe("the temp sweep at session start", () => {
  it("removes what a killed process left, keeps a live process's, its own, another host's and look-alikes", async ({ ctx }) => {
    const killed = await leaveTempPaths();
    const live = await leaveTempPaths();
    const deadPid = killed.child.pid!;
    for (const path of [...Object.values(killed.paths), ...Object.values(live.paths)]) expect(await exists(path), path).toBe(true);
    expect(Object.values(killed.paths).map((p) => parseTempName(basename(p))?.kind)).toEqual(["work", "channel", "shell", "checkpoints", "upload"]);
    killed.child.kill("SIGKILL");
    await exited(killed.child);

    const own = await mkdtemp(join(tmpdir(), tempFolderPrefix("work")));
    const otherHost = join(tmpdir(), `stepbox-${deadPid}-${HOST_TAG === "00000000" ? "11111111" : "00000000"}-work-abc123`);
    const lookAlike = join(tmpdir(), `stepbox-${deadPid}-${HOST_TAG}-work-abc123.bak`);
    const target = await mkdtemp(join(tmpdir(), "stepbox-test-target-"));
    const link = join(tmpdir(), `stepbox-${deadPid}-${HOST_TAG}-work-link01`);
    await Promise.all([mkdir(otherHost), mkdir(lookAlike), writeFile(join(target, "keep.txt"), "not stepbox's"), symlink(target, link)]);
    cleanups.push(() => Promise.all([own, otherHost, lookAlike, target, link].map((p) => rm(p, { recursive: true, force: true }))));

    const { logger, lines } = keptLogger();
    await new LocalPipelineSession({ artifactRoot: ctx.root, secret: "test-secret", logger }).runtime();

    for (const path of Object.values(killed.paths)) expect(await exists(path), path).toBe(false);
    for (const path of [...Object.values(live.paths), own, otherHost, lookAlike, link, join(target, "keep.txt")]) expect(await exists(path), path).toBe(true);
    const swept = lines.find((l) => l.event === "temp.swept");
    expect(swept?.level).toBe(30);
    expect((swept?.paths as Array<{ path: string }> | undefined)?.map((p) => p.path)).toEqual(expect.arrayContaining(Object.values(killed.paths)));
  });

  it.runIf(process.getuid?.() === 0)("keeps a killed process's leftovers that belong to another user", async ({ ctx }) => {
    const killed = await leaveTempPaths();
    await chown(killed.paths.work, 4242, 4242);
    killed.child.kill("SIGKILL");
    await exited(killed.child);

    await new LocalPipelineSession({ artifactRoot: ctx.root, secret: "test-secret", logger: keptLogger().logger }).runtime();

    expect(await exists(killed.paths.work)).toBe(true);
    expect(await exists(killed.paths.channel)).toBe(false);
  });

  it.runIf(process.getuid?.() === 0)(
    "unmounts the volume a killed process left mounted in its work folder, and keeps a live process's mounted",
    async ({ ctx }) => {
      const killed = await leaveTempPaths();
      const live = await leaveTempPaths();
      // The layout the engine makes: the image beside, the volume mounted on a host's writable folder.
      const mountOn = async (work: string): Promise<string> => {
        const point = join(work, "algo-1", "writable");
        await mkdir(point, { recursive: true });
        await makeVolumeImage(join(work, "algo-1.ext4"), 4 * 1024 * 1024, { uid: 1000, gid: 1000 });
        await mountVolume(join(work, "algo-1.ext4"), point);
        await writeFile(join(point, "model.bin"), "half-written");
        return point;
      };
      const deadPoint = await mountOn(killed.paths.work);
      const livePoint = await mountOn(live.paths.work);
      cleanups.push(() => unmountVolume(livePoint).catch(() => undefined));
      const deadPid = killed.child.pid!;
      expect(stepboxMounts(deadPid)).toEqual([deadPoint]);
      killed.child.kill("SIGKILL");
      await exited(killed.child);

      await new LocalPipelineSession({ artifactRoot: ctx.root, secret: "test-secret", logger: keptLogger().logger }).runtime();

      expect(stepboxMounts(deadPid)).toEqual([]);
      expect(stepboxLoopDevices(deadPid)).toEqual([]);
      expect(await exists(killed.paths.work)).toBe(false);
      expect(stepboxMounts(live.child.pid!)).toEqual([livePoint]);
      expect(await exists(join(livePoint, "model.bin"))).toBe(true);
    },
  );

  it("removes the work and checkpoints folders of an engine SIGKILLed mid-step, with its container", async ({ ctx }) => {
    const home = join(ctx.root, "killed-mid-step");
    await mkdir(home, { recursive: true });
    const { child, executionId } = startLongRun(home);
    cleanups.push(async () => {
      child.kill("SIGKILL");
      await exited(child);
    });
    const id = await executionId;
    const left = await tempPathsOf(child.pid!);
    expect(left.map((name) => parseTempName(name)?.kind).sort()).toEqual(["checkpoints", "work"]);
    expect(left).toContain(`stepbox-${child.pid}-${HOST_TAG}-checkpoints-${id}`);
    // Where the kernel holds the output limit, the step's volume is mounted in its work folder.
    expect(stepboxMounts(child.pid!)).toHaveLength((await kernelHoldsLimits()) ? 1 : 0);
    child.kill("SIGKILL");
    await exited(child);
    expect(await tempPathsOf(child.pid!)).toEqual(left);

    await new LocalPipelineSession({ artifactRoot: home, secret: "test-secret", logger: keptLogger().logger }).runtime();

    expect(await leftoverContainers(id)).toEqual([]);
    expect(await tempPathsOf(child.pid!)).toEqual([]);
    expect(stepboxMounts(child.pid!)).toEqual([]);
    expect(stepboxLoopDevices(child.pid!)).toEqual([]);
  });
});
