import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
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
 * depends on the current directory, as bundles are cached across processes), then a digest of the
 * absolute path. The path alone is not unique (two packages of one repository may each have a
 * `src/steps.ts`); the digest is, and it shows no folder of this machine to the step, which can read
 * its environment and its bundle.
 */
export function moduleIdentity(file: string): string {
  const root = projectRoot(file);
  const shown = root ? slashed(relative(root, file)) : basename(file);
  return `${shown}@${createHash("sha256").update(file).digest("hex").slice(0, 16)}`;
}
