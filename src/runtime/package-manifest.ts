import { readFile } from "node:fs/promises";
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

let found: Promise<StepboxPackage> | undefined;

/** stepbox's own package.json, found above this module: from src/runtime/ and dist/src/runtime/ alike. */
export function stepboxPackage(): Promise<StepboxPackage> {
  found ??= (async () => {
    for (let dir = dirname(THIS_FILE); ; dir = dirname(dir)) {
      const manifest = await readFile(join(dir, "package.json"), "utf8").then(
        (text) => JSON.parse(text) as { name?: unknown; version?: unknown },
        () => undefined,
      );
      if (manifest?.name === "stepbox") return { root: dir, version: String(manifest.version) };
      if (dirname(dir) === dir) {
        throw new StepboxError("NOT_FOUND", `cannot find stepbox's package.json above ${THIS_FILE}`, {
          hint: "reinstall stepbox; the package is incomplete",
        });
      }
    }
  })();
  return found;
}
