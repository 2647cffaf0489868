import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";

/**
 * A module's path relative to its project root: the nearest folder above it that holds a
 * package.json, else the current directory. Written with `/`, so a definition holds the same bytes
 * from any checkout of the project and names no folder of this machine.
 */
export function projectRelativePath(file: string): string {
  return slashed(relative(projectRoot(file) ?? process.cwd(), file));
}

const slashed = (path: string): string => path.split(sep).join("/");

function projectRoot(file: string): string | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * `projectRelativePath`, asked once per file: a pipeline's steps mostly share a few modules, and each
 * ask walks the folders above a module on disk.
 */
export function projectRelativePaths(): (file: string) => string {
  const known = new Map<string, string>();
  return (file) => {
    let path = known.get(file);
    if (path === undefined) {
      path = projectRelativePath(file);
      known.set(file, path);
    }
    return path;
  };
}

/**
 * How a step's definition key names the module that defines it, the same on the host (from the
 * caller's file) and in the container (from the bundle's marker, which the host wrote when it
 * bundled): the path from the project's root (the file's name outside any project: never one that
 * depends on the current directory, as bundles are cached across processes), then a digest. The path
 * alone is not unique (two packages of one repository may each have a `src/steps.ts`); the digest of
 * the package's name and that path is, and it is the same in every checkout of the project, so the
 * key can stand in a pipeline definition that must be the same bytes from any checkout. A module
 * outside any project, or in a package without a name, is digested by its absolute path instead.
 * The key shows no folder of this machine to the step, which can read its environment and its bundle.
 */
export function moduleIdentity(file: string): string {
  const root = projectRoot(file);
  if (!root) return `${basename(file)}@${digest(file)}`;
  const shown = slashed(relative(root, file));
  const name = packageName(root);
  return `${shown}@${digest(name === undefined ? file : `${name}\0${shown}`)}`;
}

const digest = (text: string): string => createHash("sha256").update(text).digest("hex").slice(0, 16);

/** Each project root's package name, read once. */
const packageNames = new Map<string, string | undefined>();

function packageName(root: string): string | undefined {
  if (packageNames.has(root)) return packageNames.get(root);
  let name: string | undefined;
  try {
    const parsed = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name?: unknown };
    if (typeof parsed?.name === "string" && parsed.name !== "") name = parsed.name;
  } catch {
    name = undefined;
  }
  packageNames.set(root, name);
  return name;
}
