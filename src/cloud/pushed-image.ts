/**
 * The runtime image `stepbox image push` pushed last from this machine, remembered in stepbox's
 * settings folder ($XDG_CONFIG_HOME/stepbox/pushed-image.json) so that a cloud session without
 * `imageUri` (or STEPBOX_IMAGE_URI) names it in its definitions: push, then deploy. An image pushed
 * by another version of stepbox holds another runner, and is not used.
 */
import { readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ValidationError } from "../errors.js";
import { stepboxConfigDir } from "../serialization/master-key.js";

export interface PushedImage {
  /** `<repository>@sha256:<digest>`, as the push printed it. */
  readonly reference: string;
  /** The version of stepbox whose runtime image it is. */
  readonly stepboxVersion: string;
  /** ISO-8601. */
  readonly pushedAt: string;
}

export function pushedImageFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(stepboxConfigDir(env), "pushed-image.json");
}

/** Remembers a push, replacing the last one whole (written beside, then renamed into place). */
export async function rememberPushedImage(image: PushedImage, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = pushedImageFile(env);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(image, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function isPushedImage(value: unknown): value is PushedImage {
  const v = value as Partial<Record<keyof PushedImage, unknown>> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.reference === "string" &&
    /^\S+@sha256:[0-9a-f]{64}$/.test(v.reference) &&
    typeof v.stepboxVersion === "string" &&
    typeof v.pushedAt === "string"
  );
}

/** The push remembered on this machine, if any; a file that is not one is an error that names it. */
export function lastPushedImage(env: NodeJS.ProcessEnv = process.env): PushedImage | undefined {
  const file = pushedImageFile(env);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!isPushedImage(parsed)) {
    throw new ValidationError(`${file} is not a record of a pushed image`, {
      hint: "push the runtime image again with `stepbox image push <repository-uri>` (it rewrites the file), or remove the file",
    });
  }
  return parsed;
}
