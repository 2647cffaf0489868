import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * What a bundle was built from: every file esbuild read, and every config file that could change how
 * it read them, each with the state it had then. A bundle is reused only while all of them still have it.
 */
export interface BundleInputs {
  /** Path → the file as it was, or null for a config file that was absent (its appearance counts as a change). */
  readonly files: Readonly<Record<string, InputFile | null>>;
  /** When the files were recorded (ms since the epoch), taken before the first was read. */
  readonly recordedAtMs: number;
}

interface InputFile {
  readonly size: number;
  readonly mtimeMs: number;
  /** Changes on every write and cannot be set back, unlike mtime (npm gives every installed file the same one). */
  readonly ctimeMs: number;
  readonly sha256: string;
}

/** One cache entry as stored: the inputs, and the SHA-256 of the code file next to it. */
interface StoredEntry {
  readonly format: typeof ENTRY_FORMAT;
  readonly inputs: BundleInputs;
  readonly codeSha256: string;
}

const ENTRY_FORMAT = 2;

/**
 * How much older than its record a file's ctime must be for its stat to vouch for it. The kernel
 * stamps ctime from a coarse clock (a tick, milliseconds): a file written again within the tick it
 * was recorded in can keep its ctime and size. One recorded long after its last change cannot: any
 * write since moved its ctime. Younger files are hashed again on every lookup, as git does with
 * "racily clean" entries.
 */
const RACY_MS = 1000;

const sha256 = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

/** How many files are read at once: a bundle may have thousands of inputs, and each read holds a descriptor. */
const READ_CONCURRENCY = 64;

async function mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, items.length) }, worker));
  return results;
}

/**
 * The folder that holds bundles across processes: `$STEPBOX_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/stepbox/bundles`, else `~/.cache/stepbox/bundles`.
 */
export function defaultBundleCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STEPBOX_CACHE_DIR) return resolve(env.STEPBOX_CACHE_DIR);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), ".cache"), "stepbox", "bundles");
}

/** Records the state of each file now: its content hash, size and mtime, or null when it is absent. */
export async function snapshotInputs(paths: Iterable<string>): Promise<BundleInputs> {
  const recordedAtMs = Date.now();
  const unique = [...new Set(paths)];
  const states = await mapLimited(unique, readInput);
  return { files: Object.fromEntries(unique.map((path, i) => [path, states[i]!])), recordedAtMs };
}

async function readInput(path: string): Promise<InputFile | null> {
  try {
    const [info, content] = await Promise.all([stat(path), readFile(path)]);
    return { size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, sha256: sha256(content) };
  } catch {
    return null;
  }
}

/**
 * Whether every input is as recorded. A file whose size, mtime and ctime are unchanged, and whose
 * ctime was well before the record (RACY_MS), is taken as unchanged without reading it: nothing, npm
 * included, can set a ctime back. Otherwise its content is hashed again, so a touched but identical
 * file still matches. A warm start then stats the hundreds of files of a bundle instead of reading them.
 */
export async function inputsUnchanged(inputs: BundleInputs): Promise<boolean> {
  const checks = await mapLimited(Object.entries(inputs.files), async ([path, recorded]) => {
    const info = await stat(path).catch(() => undefined);
    if (!recorded || !info) return !recorded && !info;
    if (info.size !== recorded.size) return false;
    const settled = inputs.recordedAtMs - recorded.ctimeMs > RACY_MS;
    if (settled && info.mtimeMs === recorded.mtimeMs && info.ctimeMs === recorded.ctimeMs) return true;
    const content = await readFile(path).catch(() => undefined);
    return content !== undefined && sha256(content) === recorded.sha256;
  });
  return checks.every(Boolean);
}

/**
 * Bundles on disk, shared by every process: an unchanged module is not bundled again. Each entry is
 * `<key>.json` (the inputs and the code's SHA-256) beside `<key>.mjs` (the code), each written to a
 * temporary file and renamed into place. A lookup hashes the inputs again and checks the code's
 * hash, so a stale, torn or corrupt entry is a miss, never a wrong bundle.
 */
export class BundleDiskCache {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The code stored under `key`, if its inputs are unchanged and it is intact. */
  async get(key: string): Promise<{ code: Buffer; inputs: BundleInputs } | undefined> {
    const entry = await readFile(this.#path(key, "json"), "utf8").then(parseEntry, () => undefined);
    if (!entry || !(await inputsUnchanged(entry.inputs))) return undefined;
    const code = await readFile(this.#path(key, "mjs")).catch(() => undefined);
    if (!code || sha256(code) !== entry.codeSha256) return undefined;
    return { code, inputs: entry.inputs };
  }

  /**
   * Stores the code and its inputs under `key`. The cache only saves time: a folder that cannot be
   * written (read-only home, full disk) leaves the bundle uncached and the step running.
   */
  async set(key: string, code: Buffer, inputs: BundleInputs): Promise<void> {
    const entry: StoredEntry = { format: ENTRY_FORMAT, inputs, codeSha256: sha256(code) };
    try {
      await mkdir(this.dir, { recursive: true });
      // Code first: an entry never names code that is not there yet. Two writers racing can pair one's
      // entry with the other's code; the hash check then makes that a miss.
      await writeAtomically(this.#path(key, "mjs"), code);
      await writeAtomically(this.#path(key, "json"), JSON.stringify(entry));
    } catch {
      // Best effort by design (see above).
    }
  }

  #path(key: string, ext: "json" | "mjs"): string {
    return join(this.dir, `${key}.${ext}`);
  }
}

function parseEntry(text: string): StoredEntry | undefined {
  try {
    const entry = JSON.parse(text) as Partial<StoredEntry> | null;
    const files = entry?.inputs?.files;
    if (
      entry?.format !== ENTRY_FORMAT ||
      typeof entry.codeSha256 !== "string" ||
      typeof entry.inputs?.recordedAtMs !== "number" ||
      typeof files !== "object" ||
      files === null
    ) {
      return undefined;
    }
    const wellFormed = Object.values(files).every(
      (f) => f === null || (typeof f?.size === "number" && typeof f.mtimeMs === "number" && typeof f.ctimeMs === "number" && typeof f.sha256 === "string"),
    );
    return wellFormed ? (entry as StoredEntry) : undefined;
  } catch {
    return undefined;
  }
}

async function writeAtomically(path: string, data: Buffer | string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}

/** The cache key of a bundle: a hash of everything besides its input files that decides its bytes. */
export function bundleCacheKey(parts: Readonly<Record<string, unknown>>): string {
  return sha256(JSON.stringify(parts));
}

let esbuildPackageVersion: Promise<string> | undefined;

/** esbuild's version, part of every bundle's cache key: read from its package.json, since loading esbuild costs ~0.1 s. */
export function esbuildVersion(): Promise<string> {
  esbuildPackageVersion ??= readFile(createRequire(import.meta.url).resolve("esbuild/package.json"), "utf8").then(
    (text) => (JSON.parse(text) as { version: string }).version,
  );
  return esbuildPackageVersion;
}
