import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { NotFoundError, StoreError } from "../errors.js";
import type { ArtifactStore } from "./artifact-store.js";
import { assertValidKey } from "./keys.js";

const TEMP = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** An artifact store in a folder of the local file system. Writes go to a temp file, are synced, then renamed. */
export class LocalFileStore implements ArtifactStore {
  readonly uri: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
    this.uri = pathToFileURL(this.#root).href;
  }

  #path(key: string, allowRoot = false): string {
    assertValidKey(key, allowRoot);
    const path = resolve(this.#root, key);
    if (path !== this.#root && !path.startsWith(this.#root + sep)) {
      throw new StoreError(`key "${key}" resolves outside the store at ${this.#root}`);
    }
    return path;
  }

  async #atomicWrite(key: string, write: (temp: string) => Promise<number>): Promise<number> {
    const path = this.#path(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      const bytes = await write(temp);
      const handle = await open(temp, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, path);
      return bytes;
    } catch (error) {
      await rm(temp, { force: true });
      throw error instanceof StoreError ? error : new StoreError(`cannot write ${key} in ${this.uri}`, { cause: error });
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    await this.#atomicWrite(key, async (temp) => {
      await writeFile(temp, body);
      return Buffer.byteLength(body);
    });
  }

  async putStream(key: string, body: Readable): Promise<{ bytes: number }> {
    const bytes = await this.#atomicWrite(key, async (temp) => {
      let count = 0;
      body.on("data", (chunk: Buffer) => {
        count += chunk.length;
      });
      await pipeline(body, createWriteStream(temp));
      return count;
    });
    return { bytes };
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.#path(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "EISDIR") throw new NotFoundError(key, this.uri);
      throw new StoreError(`cannot read ${key} in ${this.uri}`, { cause: error });
    }
  }

  async getStream(key: string): Promise<Readable> {
    const path = this.#path(key);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw new NotFoundError(key, this.uri);
    return createReadStream(path);
  }

  async exists(key: string): Promise<boolean> {
    return (await stat(this.#path(key)).catch(() => undefined))?.isFile() === true;
  }

  async list(prefix: string): Promise<string[]> {
    const start = this.#path(prefix, true);
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile() && !TEMP.test(entry.name)) keys.push(relative(this.#root, path).split(sep).join("/"));
      }
    };
    const info = await stat(start).catch(() => undefined);
    if (info?.isFile()) return [prefix];
    await walk(start);
    return keys.sort();
  }

  async listChildren(prefix: string): Promise<string[]> {
    const entries = await readdir(this.#path(prefix, true), { withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => (e.isDirectory() || e.isFile()) && !TEMP.test(e.name))
      .map((e) => e.name)
      .sort();
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(this.#path(prefix), { recursive: true, force: true });
  }
}
