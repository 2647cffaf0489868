/**
 * The suite's vitest fixtures: what a test file used to make in beforeAll and remove in afterAll,
 * made once per file for the tests that ask for it, and removed after the file's last test.
 * (Each fixture's `{}` is the pattern vitest reads its dependencies from: these have none.)
 *
 * @example
 * import { it } from "../support/fixtures.js";
 * it("runs", async ({ ctx }) => {
 *   await new Pipeline({ name: "p", steps: [train()], session: ctx.session }).start();
 * });
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test as base } from "vitest";
import { startS3Server } from "./s3-server.js";
import { testSession } from "./session.js";

export const it = base
  /** A session on a fresh temporary store with a fixed secret, keeping its steps' lines (testSession()). */
  .extend("ctx", { scope: "file" }, async ({}, { onCleanup }) => {
    const ctx = await testSession();
    onCleanup(() => ctx.cleanup());
    return ctx;
  })
  /** s3rver on 127.0.0.1 with one bucket, "stepbox-test", in a fresh folder (startS3Server()). */
  .extend("s3", { scope: "file" }, async ({}, { onCleanup }) => {
    const s3 = await startS3Server();
    onCleanup(() => s3.close());
    return s3;
  })
  /** A fresh folder under the system's temporary folder, removed with what it holds. */
  .extend("tempDir", { scope: "file" }, async ({}, { onCleanup }) => {
    const dir = await mkdtemp(join(tmpdir(), "stepbox-test-"));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    return dir;
  });
