/**
 * Which base the runtime image is built on when none is asked for: this machine's own node on Linux
 * (offline), the official node image wherever that node is not a binary a Linux container can run.
 */
import { describe, expect, it } from "vitest";
import { defaultBaseImage } from "../../src/runtime/docker/image.js";

describe("defaultBaseImage", () => {
  it("imports this machine's node on Linux", () => {
    expect(defaultBaseImage({ platform: "linux", arch: "x64", major: 20, elf: true })).toEqual({ from: "host-node" });
    expect(defaultBaseImage({ platform: "linux", arch: "arm64", major: 22, elf: true })).toEqual({ from: "host-node" });
  });

  it("builds on node:<major>-bookworm-slim on macOS and Windows, and says why", () => {
    const mac = defaultBaseImage({ platform: "darwin", arch: "arm64", major: 20, elf: false });
    expect(mac).toEqual({ from: "registry", reference: "node:20-bookworm-slim", reason: expect.stringContaining("darwin/arm64") });
    const windows = defaultBaseImage({ platform: "win32", arch: "x64", major: 22, elf: false });
    expect(windows).toMatchObject({ from: "registry", reference: "node:22-bookworm-slim" });
    if (windows.from === "registry") expect(windows.reason).toBe("this machine's node is a win32/x64 executable, which a Linux container cannot run");
  });

  it("builds on the node image when a Linux node is not an ELF binary", () => {
    expect(defaultBaseImage({ platform: "linux", arch: "x64", major: 20, elf: false })).toEqual({
      from: "registry",
      reference: "node:20-bookworm-slim",
      reason: "this machine's node is not an ELF executable, which a Linux container cannot run",
    });
  });

  it("never imports a node that is not a Linux one, even an ELF binary (FreeBSD's)", () => {
    expect(defaultBaseImage({ platform: "freebsd", arch: "x64", major: 20, elf: true })).toMatchObject({
      from: "registry",
      reference: "node:20-bookworm-slim",
    });
  });
});
