import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ValidationError } from "../errors.js";
import type { ArtifactStore } from "./artifact-store.js";
import { LocalFileStore } from "./local-store.js";

/** Where runs are recorded by default: STEPBOX_HOME, else ./.stepbox. */
export function defaultArtifactRoot(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return env.STEPBOX_HOME || resolve(cwd, ".stepbox");
}

/** Opens the store a root names: a folder, `file:///path`, or `s3://bucket/prefix`. */
export function openArtifactStore(root: string): ArtifactStore {
  if (typeof root !== "string" || root === "") {
    throw new ValidationError("the artifact root is empty", { hint: "give a folder, file:///path or s3://bucket/prefix" });
  }
  if (root.startsWith("file://")) return new LocalFileStore(fileURLToPath(root));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(root)) {
    throw new ValidationError(`the artifact root ${root} has a scheme stepbox does not support`, {
      hint: "give a folder or file:///path",
    });
  }
  return new LocalFileStore(resolve(root));
}
