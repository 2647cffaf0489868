/**
 * What importing stepbox costs: its public entry points and its command line load neither the S3 SDK
 * nor dockerode (with its gRPC and SSH stacks), and the command line not tsx's API; the SDK loads when
 * an s3:// store is first used, not when it is opened. A child process imports them under a recorder of every module it loads.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const FIXTURES = join(ROOT, "test", "fixtures", "lazy-imports");

interface Probe {
  afterImport: string[];
  afterOpen: string[];
  used: string;
  afterUse: string[];
}

/** The packages among loaded modules (by their node_modules folder) that match `name`. */
function packagesLoaded(modules: readonly string[], name: RegExp): string[] {
  const packages = modules.map((m) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m)?.[1]).filter((p): p is string => p !== undefined);
  return [...new Set(packages)].filter((p) => name.test(p)).sort();
}

describe("importing stepbox", () => {
  let dir: string;
  let probe: Probe;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stepbox-lazy-imports-"));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--import", join(FIXTURES, "record-modules.mjs"), join(FIXTURES, "probe.ts")],
      { cwd: ROOT, env: { ...process.env, STEPBOX_MODULE_LOG: join(dir, "modules.log") } },
    );
    probe = JSON.parse(stdout) as Probe;
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("records the modules it loads, stepbox's own and its dependencies'", () => {
    expect(probe.afterImport.some((m) => m.endsWith("/src/index.ts"))).toBe(true);
    expect(packagesLoaded(probe.afterImport, /^(commander|pino)$/)).toEqual(["commander", "pino"]);
  });

  it("loads neither the S3 SDK nor dockerode for stepbox, stepbox/testing, stepbox/report or the CLI", () => {
    expect(packagesLoaded(probe.afterImport, /^@aws-sdk\/|^@smithy\/|^dockerode$|^docker-modem$|^@grpc\//)).toEqual([]);
  });

  it("leaves tsx's API (and esbuild with it) to the commands that load a pipeline file", () => {
    // The probe itself runs under tsx's loader, which is not its API.
    expect(probe.afterImport.filter((m) => /\/tsx\/dist\/esm\/api\//.test(m))).toEqual([]);
  });

  it("does not load the S3 SDK when an s3:// store is opened, only when it is used", () => {
    expect(packagesLoaded(probe.afterOpen, /^@aws-sdk\//)).toEqual([]);
    // The request itself fails (nothing listens on port 9); the SDK had to load to make it.
    expect(probe.used).not.toBe("answered");
    expect(packagesLoaded(probe.afterUse, /^@aws-sdk\/client-s3$/)).toEqual(["@aws-sdk/client-s3"]);
  });
});
