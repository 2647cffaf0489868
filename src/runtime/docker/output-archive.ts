import { lstat, readdir } from "node:fs/promises";
import { pipeline, type Readable } from "node:stream";
import { createGzip } from "node:zlib";
import tar from "tar-fs";

async function hasEntries(dir: string): Promise<boolean> {
  const info = await lstat(dir).catch(() => undefined);
  return info?.isDirectory() === true && (await readdir(dir)).length > 0;
}

/**
 * One gzipped tar of the folders' contents, merged as SageMaker merges the hosts' /opt/ml/model (or
 * /opt/ml/output/data); undefined when every folder is empty. Links are stored as links, never
 * followed. What the packer cannot read (a named pipe, a file the step made unreadable) makes the
 * stream error; it never crashes the process nor leaves the gzip waiting.
 */
export async function packFolders(dirs: readonly string[]): Promise<Readable | undefined> {
  const filled: string[] = [];
  for (const dir of dirs) if (await hasEntries(dir)) filled.push(dir);
  if (filled.length === 0) return undefined;
  const pack = tar.pack(filled[0]!, { finalize: filled.length === 1 });
  for (const [i, dir] of filled.slice(1).entries()) {
    tar.pack(dir, { pack, finalize: i === filled.length - 2 });
  }
  // pipeline, not pipe: an error of the packer reaches the gzip stream's reader, and destroying that
  // stream (a reader that gave up) stops the packer too.
  return pipeline(pack, createGzip(), () => {});
}
