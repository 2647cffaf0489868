import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StepboxError } from "../errors.js";

const THIS_FILE = fileURLToPath(import.meta.url);

/** Where stepbox is installed, and which version it is. */
export interface StepboxPackage {
  /** The folder of stepbox's package.json (which holds runtime-image/). */
  readonly root: string;
  readonly version: string;
}

let found: StepboxPackage | undefined;

/** stepbox's own package.json, found above this module: from src/runtime/ and dist/src/runtime/ alike. */
export async function stepboxPackage(): Promise<StepboxPackage> {
  return stepboxPackageSync();
}

/** `stepboxPackage` for callers that cannot wait; a few small files read once per process. */
export function stepboxPackageSync(): StepboxPackage {
  if (found) return found;
  for (let dir = dirname(THIS_FILE); ; dir = dirname(dir)) {
    let manifest: { name?: unknown; version?: unknown } | undefined;
    try {
      manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
    } catch {
      manifest = undefined;
    }
    if (manifest?.name === "stepbox") {
      found = { root: dir, version: String(manifest.version) };
      return found;
    }
    if (dirname(dir) === dir) {
      throw new StepboxError("NOT_FOUND", `cannot find stepbox's package.json above ${THIS_FILE}`, {
        hint: "reinstall stepbox; the package is incomplete",
      });
    }
  }
}
