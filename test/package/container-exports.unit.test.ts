import { describe, expect, it } from "vitest";
import * as hostBuild from "../../src/index.js";
import * as containerBuild from "../../src/container/stepbox.js";

describe("the container build of stepbox", () => {
  it("exports every name the package exports, so any user module bundles", () => {
    expect(Object.keys(containerBuild).sort()).toEqual(Object.keys(hostBuild).sort());
  });
});
