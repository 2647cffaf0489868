/**
 * stepbox from plain JavaScript, as the built package runs under plain node: object destructuring
 * of a step's output, which TypeScript would reject, throws with the `.get()` to use instead.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, buildCli } from "../cli/cli.js";

beforeAll(async () => {
  await buildCli();
}, 300_000);

describe("a plain-JavaScript pipeline file", () => {
  it("that destructures a step's output fails to build, saying to use .get()", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, "test", "fixtures", "plain-js", "destructure.mjs")], { cwd: ROOT });
    expect(stdout).toMatch(/^ValidationError INVALID_ARGUMENT: train is a DelayedReturn and has no property "loss"/);
    expect(stdout).toContain('hint: select it with .get("loss")');
  });
});
