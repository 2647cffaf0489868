import { existsSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";

/**
 * A module's path relative to its project root: the nearest folder above it that holds a
 * package.json, else the current directory. Written with `/`, so a definition holds the same bytes
 * from any checkout of the project and names no folder of this machine.
 */
export function projectRelativePath(file: string): string {
  return relative(projectRoot(file), file).split(sep).join("/");
}

function projectRoot(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return process.cwd();
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
