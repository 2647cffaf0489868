import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { volumeSupport } from "../../src/runtime/output-volume.js";

/** Whether this process gives steps volumes of their own (root on Linux with mkfs.ext4 and loop devices), as the engine decides it. */
export async function kernelHoldsLimits(): Promise<boolean> {
  return (await volumeSupport()).supported;
}

/** The mount points in the temp folder that a stepbox process with this pid made (its work folders' volumes). */
export function stepboxMounts(pid = process.pid): string[] {
  const prefix = join(tmpdir(), `stepbox-${pid}-`);
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point.startsWith(prefix));
}

/** The loop devices attached to image files that a stepbox process with this pid made. */
export function stepboxLoopDevices(pid = process.pid): string[] {
  if (process.getuid?.() !== 0) return [];
  const prefix = join(tmpdir(), `stepbox-${pid}-`);
  return execFileSync("losetup", ["-a"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(`(${prefix}`));
}
