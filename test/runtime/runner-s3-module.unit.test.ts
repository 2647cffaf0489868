/**
 * The AWS SDK stays out of the runner's bundle: a locally staged step never loads it (~0.2 s of start
 * per step), and only a cloud job imports /opt/stepbox/job-s3.mjs, bundled on its own. Real esbuild
 * on the real sources.
 */
import { join, resolve } from "node:path";
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { CONTAINER_PATHS } from "../../src/container/contract.js";
import { bundleRunner } from "../../src/runtime/bundle-runner.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
describe("the runner's bundle", () => {
  it("holds no AWS SDK and imports the S3 module by its path in the image, at run time", async ({ tempDir: cacheDir }) => {
    const runner = (await bundleRunner(join(ROOT, "src", "container", "runner.ts"), ROOT, cacheDir)).toString("utf8");
    expect(runner).not.toMatch(/S3Client|@aws-sdk|@smithy/);
    expect(runner).toContain("import(CONTAINER_PATHS.jobS3Module)");
    expect(runner).toContain(JSON.stringify(CONTAINER_PATHS.jobS3Module));
  }, 60_000);

  it("has the S3 module beside it, with the SDK bundled in", async ({ tempDir: cacheDir }) => {
    const jobS3 = (await bundleRunner(join(ROOT, "src", "container", "job-s3.ts"), ROOT, cacheDir)).toString("utf8");
    expect(jobS3).toContain("S3Client");
    expect(jobS3).not.toMatch(/from "@aws-sdk\//);
  }, 60_000);
});
