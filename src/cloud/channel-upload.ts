/**
 * A step's `file://` input channel, uploaded for a cloud job, which cannot read this machine's folders:
 * the folder's regular files (or the one file) go under a prefix of s3Root, which the definition names
 * as the channel's S3Uri. What was there before is removed first, so the prefix holds exactly the folder.
 */
import { createReadStream } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ValidationError } from "../errors.js";
import type { ArtifactStore } from "../store/artifact-store.js";

/** Uploads the folder or file `uri` names under `prefix` of `store`; returns how many files and bytes went up. */
export async function uploadLocalChannel(store: ArtifactStore, uri: string, prefix: string, where: string): Promise<{ files: number; bytes: number }> {
  let root: string;
  try {
    root = fileURLToPath(uri);
  } catch (cause) {
    throw new ValidationError(`${where}: ${uri} is not a file:// URL of this machine`, { cause, hint: "write it as file:///absolute/folder" });
  }
  const info = await lstat(root).catch((cause: unknown) => {
    throw new ValidationError(`${where}: ${root} cannot be read (${(cause as Error).message})`, { cause, hint: "point the channel at a folder that exists" });
  });
  const files: string[] = [];
  if (info.isFile()) files.push(root);
  else if (info.isDirectory()) await collect(root, files, where);
  else throw new ValidationError(`${where}: ${root} is neither a folder nor a regular file`, { hint: "point the channel at a folder of data files" });
  await store.deletePrefix(prefix);
  let bytes = 0;
  for (const file of files) {
    const name = info.isFile() ? basename(file) : relative(root, file).split(sep).join("/");
    bytes += (await store.putStream(`${prefix}/${name}`, createReadStream(file))).bytes;
  }
  return { files: files.length, bytes };
}

/** The regular files under `dir`; a link or any other kind of entry is refused, naming it. */
async function collect(dir: string, into: string[], where: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await collect(path, into, where);
    else if (entry.isFile()) into.push(path);
    else {
      throw new ValidationError(`${where}: ${path} is ${entry.isSymbolicLink() ? "a symbolic link" : "not a regular file"}, which is not uploaded`, {
        hint: "copy what it points at into the folder, or leave it out of the channel",
      });
    }
  }
}
