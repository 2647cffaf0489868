import { once } from "node:events";
import { constants, createWriteStream, ReadStream, type Dirent, type WriteStream } from "node:fs";
import { copyFile, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, statfs, type FileHandle } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { NotFoundError, StoreError, ValidationError } from "../errors.js";
import type { ArtifactStore } from "./artifact-store.js";
import { assertValidKey, assertValidPrefix, IN_FLIGHT_NAME } from "./keys.js";
import { sweepTempFilesUnder, tempPathFor, type TempFileSweep, type TempFileSweepOptions } from "./temp-files.js";

/** Errno codes that mean "there is no object at this key" when reading. */
const ABSENT = new Set(["ENOENT", "ENOTDIR", "EISDIR"]);

/**
 * Reads of objects go in chunks this large: a 256 MiB artifact in 256 system calls and stream
 * callbacks, not the 4096 of the default 64 KiB.
 */
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * The file a stream reads whole and has not started on: `createReadStream(path)` as it was made.
 * Such a body is copied by the kernel (copy_file_range where the file system allows, else sendfile)
 * instead of through the stream's chunks.
 */
function untouchedWholeFile(body: Readable): string | undefined {
  if (!(body instanceof ReadStream) || typeof body.path !== "string") return undefined;
  const { start, end } = body as unknown as { start?: number; end?: number };
  const whole = start === undefined && (end === undefined || end === Infinity);
  return whole && body.bytesRead === 0 && !body.readableDidRead && body.readableLength === 0 && !body.destroyed ? body.path : undefined;
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Write failures that no retry fixes until the user makes room or moves the store: what each says
 * about the file system that holds the store. A run that fails on one of these must say so, not
 * leave the user guessing at a crash.
 */
const NO_ROOM: Readonly<Record<string, string>> = {
  ENOSPC: "is full",
  EDQUOT: "is over your disk quota",
  EROFS: "is read-only",
};

/**
 * An artifact store in a folder of the local file system: the key `a/b/c.json` is the file
 * `<root>/a/b/c.json`.
 *
 * Every write goes to `.<name>.<pid>.<random>.tmp` in the object's own folder, is synced to disk,
 * then renamed over the object, so a reader (or a process that restarts after a crash) sees the old
 * object or the new one, never part of one. Listings skip those in-flight files, and
 * {@link LocalFileStore.sweepTempFiles} removes the ones a killed writer left.
 *
 * A key cannot be both an object and the folder of other objects here (S3 allows it); stepbox's
 * layout never does that.
 */
export class LocalFileStore implements ArtifactStore {
  readonly uri: string;
  /** The absolute folder that holds the objects. */
  readonly root: string;

  /** @param root an absolute folder; it is created on the first write. */
  constructor(root: string) {
    if (typeof root !== "string" || !isAbsolute(root)) {
      throw new ValidationError(`new LocalFileStore(): the root must be an absolute folder, got ${JSON.stringify(root)}`, {
        hint: "resolve it first, or open the store with openArtifactStore(root)",
      });
    }
    this.root = resolve(root);
    this.uri = pathToFileURL(this.root).href;
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    await this.#writeAtomically(key, async (file) => {
      file.end(body);
      await finished(file);
      return Buffer.byteLength(body);
    });
  }

  async putStream(key: string, body: Readable): Promise<{ bytes: number }> {
    let sourceError: unknown;
    body.once("error", (error) => {
      sourceError = error;
    });
    const file = untouchedWholeFile(body);
    try {
      if (file !== undefined) return { bytes: await this.#copyFileAtomically(key, file) };
      const bytes = await this.#writeAtomically(key, async (temp) => {
        await pipeline(body, temp);
        return temp.bytesWritten;
      });
      return { bytes };
    } catch (error) {
      // The caller's own stream failed: give its error back as it was, not disguised as a store fault.
      throw error instanceof StoreError && sourceError !== undefined && (file !== undefined || error.cause === sourceError) ? sourceError : error;
    } finally {
      // The copy read the file by its path: the stream, which opened it too, has nothing left to do.
      if (file !== undefined) body.destroy();
    }
  }

  async get(key: string): Promise<Buffer> {
    const path = this.#path(key);
    try {
      return await readFile(path);
    } catch (error) {
      throw this.#readError(key, error);
    }
  }

  async getStream(key: string): Promise<Readable> {
    const path = this.#path(key);
    // Open before returning: a missing key rejects here, and the stream reads the file it opened even
    // if a writer renames a new version over it meanwhile.
    let file: FileHandle;
    try {
      file = await open(path, "r");
    } catch (error) {
      throw this.#readError(key, error);
    }
    const isFile = await file.stat().then(
      (info) => info.isFile(),
      () => false,
    );
    if (!isFile) {
      await file.close();
      throw new NotFoundError(key, this.uri);
    }
    return file.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
  }

  async exists(key: string): Promise<boolean> {
    const path = this.#path(key);
    try {
      return (await stat(path)).isFile();
    } catch (error) {
      if (ABSENT.has(errno(error) ?? "")) return false;
      throw new StoreError(`cannot check whether ${key} exists in ${this.uri}`, { cause: error });
    }
  }

  async list(prefix: string): Promise<string[]> {
    const start = this.#prefixPath(prefix);
    const info = await stat(start).catch((error: unknown) => this.#absentOr(error, prefix));
    if (info === undefined) return [];
    if (info.isFile()) return prefix === "" ? [] : [prefix];
    const keys: string[] = [];
    const walk = async (folder: string): Promise<void> => {
      for (const entry of await this.#entries(folder, prefix)) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile()) keys.push(relative(this.root, path).split(sep).join("/"));
      }
    };
    await walk(start);
    return keys.sort();
  }

  async listChildren(prefix: string): Promise<string[]> {
    const entries = await this.#entries(this.#prefixPath(prefix), prefix);
    return entries
      .filter((entry) => entry.isDirectory() || entry.isFile())
      .map((entry) => entry.name)
      .sort();
  }

  async deletePrefix(prefix: string): Promise<void> {
    const path = this.#path(prefix);
    try {
      await rm(path, { recursive: true, force: true });
    } catch (error) {
      throw new StoreError(`cannot delete ${prefix} from ${this.uri}`, { cause: error, hint: "check the folder's permissions" });
    }
    await this.#removeEmptyFolders(dirname(path));
  }

  /**
   * Removes the temp files that writers killed mid-write left (see {@link sweepTempFilesUnder}).
   * S3 has no such leftovers: an upload that never completes never becomes an object.
   */
  sweepTempFiles(options: TempFileSweepOptions): Promise<TempFileSweep> {
    return sweepTempFilesUnder(this.root, options);
  }

  /**
   * The bytes a writer may still put on the file system that holds the store, or undefined when it
   * cannot tell (no store folder yet). Tells a reader whether a silent record may be a full disk's doing.
   */
  async freeBytes(): Promise<number | undefined> {
    try {
      const info = await statfs(this.root);
      return info.bavail * info.bsize;
    } catch {
      return undefined;
    }
  }

  /** The file of a key; refuses keys that would land outside the root even after validation. */
  #path(key: string): string {
    assertValidKey(key);
    return this.#inside(key);
  }

  #prefixPath(prefix: string): string {
    assertValidPrefix(prefix);
    return prefix === "" ? this.root : this.#inside(prefix);
  }

  #inside(key: string): string {
    const path = resolve(this.root, ...key.split("/"));
    if (!path.startsWith(this.root + sep)) {
      throw new ValidationError(`the key ${JSON.stringify(key)} resolves outside the store at ${this.root}`);
    }
    return path;
  }

  /** A folder's entries without in-flight temp files; none when the folder is absent. */
  async #entries(folder: string, prefix: string): Promise<Dirent[]> {
    const entries = await readdir(folder, { withFileTypes: true }).catch((error: unknown) => this.#absentOr(error, prefix));
    return (entries ?? []).filter((entry) => !IN_FLIGHT_NAME.test(entry.name));
  }

  #absentOr(error: unknown, prefix: string): undefined {
    if (ABSENT.has(errno(error) ?? "")) return undefined;
    throw new StoreError(`cannot list ${prefix === "" ? "the root" : prefix} of ${this.uri}`, { cause: error });
  }

  #readError(key: string, error: unknown): NotFoundError | StoreError {
    if (ABSENT.has(errno(error) ?? "")) return new NotFoundError(key, this.uri);
    return new StoreError(`cannot read ${key} from ${this.uri}`, { cause: error, errno: errno(error), hint: "check the folder's permissions" });
  }

  /**
   * Writes a temp file beside the object through `write`, which must end the stream; the stream syncs
   * the file before it closes (`flush`), then the file is renamed over the object. The folder is not
   * synced: that would make the rename itself survive a power cut, which no reader needs; what readers
   * need (never a partial object) the rename already gives.
   */
  async #writeAtomically(key: string, write: (file: WriteStream) => Promise<number>): Promise<number> {
    return this.#replaceAtomically(key, async (temp) => write(await this.#openTemp(temp)));
  }

  /**
   * Copies a whole file into the object: the kernel copies it into the temp file, which is synced
   * once, then renamed over the object, as for every other write.
   */
  async #copyFileAtomically(key: string, source: string): Promise<number> {
    return this.#replaceAtomically(key, async (temp) => {
      await this.#inFolder(temp, () => copyFile(source, temp, constants.COPYFILE_EXCL));
      const copy = await open(temp, "r+");
      try {
        await copy.sync();
        return (await copy.stat()).size;
      } finally {
        await copy.close();
      }
    });
  }

  /** Runs `write` on a fresh temp path beside the object, then renames the temp file over the object. */
  async #replaceAtomically(key: string, write: (temp: string) => Promise<number>): Promise<number> {
    const path = this.#path(key);
    const temp = tempPathFor(path);
    try {
      const bytes = await write(temp);
      await rename(temp, path);
      return bytes;
    } catch (error) {
      // The write's own error is the one to report; the temp file may never have been created.
      await rm(temp, { force: true }).catch(() => undefined);
      throw this.#writeError(key, error);
    }
  }

  /** A failed write as the user must see it: a file system out of room or read-only is named as such, with the fix. */
  #writeError(key: string, error: unknown): StoreError {
    const code = errno(error);
    const noRoom = code === undefined ? undefined : NO_ROOM[code];
    if (noRoom === undefined) {
      return new StoreError(`cannot write ${key} to ${this.uri}`, { cause: error, errno: code, hint: "check the folder's permissions and free space" });
    }
    return new StoreError(`cannot write ${key} to ${this.uri}: the file system holding ${this.root} ${noRoom} (${code})`, {
      cause: error,
      errno: code,
      hint:
        code === "EROFS"
          ? "make it writable, or set STEPBOX_HOME (or the session's artifactRoot) to a folder on another disk"
          : "free space on that disk, or set STEPBOX_HOME (or the session's artifactRoot) to a folder on another disk",
    });
  }

  /**
   * Creates the temp file (and its folders) and waits until it is open, before any byte of the body is
   * consumed, so that the open can be retried: a concurrent delete may prune the new folder in between.
   */
  async #openTemp(temp: string): Promise<WriteStream> {
    return this.#inFolder(temp, async () => {
      const file = createWriteStream(temp, { flags: "wx", flush: true });
      await once(file, "ready");
      return file;
    });
  }

  /** Creates the temp file's folders and then the file, once more when a concurrent delete pruned the new folder in between. */
  async #inFolder<T>(temp: string, create: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await mkdir(dirname(temp), { recursive: true });
      try {
        return await create();
      } catch (error) {
        if (errno(error) !== "ENOENT" || attempt === 2) throw error;
      }
    }
  }

  /**
   * Removes the folders a delete left empty, up to the root, so that a deleted execution no longer
   * shows in `listChildren` (as on S3, where folders are only key prefixes). Best effort: the delete
   * itself has succeeded, and a folder that cannot go (not empty, a writer just made it) stays.
   */
  async #removeEmptyFolders(folder: string): Promise<void> {
    for (let current = folder; current.startsWith(this.root + sep); current = dirname(current)) {
      const removed = await rmdir(current).then(
        () => true,
        (error: unknown) => errno(error) === "ENOENT",
      );
      if (!removed) return;
    }
  }
}
