/**
 * The host's master key, from which each execution's HMAC key derives (see `deriveExecutionKey`).
 * Host side only: the master key never goes to a container, the artifact store or a log.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { ValidationError } from "../errors.js";

export interface MasterKeyOptions {
  /**
   * Wins over everything else; any non-empty string or bytes, hashed to a 32-byte key.
   * @example "a long passphrase shared by every process that reads this store"
   */
  secret?: string | Buffer;
  /**
   * Where to look for STEPBOX_SECRET and XDG_CONFIG_HOME.
   * @default process.env
   */
  env?: NodeJS.ProcessEnv;
  /**
   * The key file used when no secret is given, created on first use.
   * @default $XDG_CONFIG_HOME/stepbox/secret, else ~/.config/stepbox/secret
   */
  keyFile?: string;
}

/** stepbox's folder of this user's settings, following the XDG base directory spec: $XDG_CONFIG_HOME/stepbox, else ~/.config/stepbox. */
export function stepboxConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const configHome = env.XDG_CONFIG_HOME;
  // The spec says to ignore an empty or relative XDG_CONFIG_HOME.
  const base = configHome && isAbsolute(configHome) ? configHome : join(homedir(), ".config");
  return join(base, "stepbox");
}

/** Where the key file lives unless told otherwise. */
function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(stepboxConfigDir(env), "secret");
}

const sha256 = (value: string | Buffer): Buffer => createHash("sha256").update(value).digest();

/**
 * The secret every per-execution HMAC key derives from: `options.secret`, else STEPBOX_SECRET, else
 * the key file, made on first use with 32 random bytes (mode 0600, in a folder made with mode 0700).
 * Processes that share an artifact store must share this key to read each other's payloads.
 */
export async function loadMasterKey(options: MasterKeyOptions = {}): Promise<Buffer> {
  return loadMasterKeySync(options);
}

/**
 * `loadMasterKey` for callers that cannot wait: a cloud pipeline's definition() names the public key
 * derived from it, and definition() returns its JSON at once. A key file is a few bytes, read once.
 */
export function loadMasterKeySync(options: MasterKeyOptions = {}): Buffer {
  if (options.secret !== undefined) {
    if (options.secret.length === 0) {
      throw new ValidationError("the secret given to stepbox is empty", {
        hint: "pass a non-empty secret, or leave it out to use STEPBOX_SECRET or the key file",
      });
    }
    return sha256(options.secret);
  }
  const env = options.env ?? process.env;
  if (env.STEPBOX_SECRET) return sha256(env.STEPBOX_SECRET);
  const file = options.keyFile ?? defaultKeyFile(env);
  return readKeyFile(file) ?? createKeyFile(file);
}

/** The key in `file`, or undefined when there is no such file. */
function readKeyFile(file: string): Buffer | undefined {
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ValidationError(`cannot read the stepbox key file ${file}`, {
      cause: error,
      hint: "make it readable by this user, or set STEPBOX_SECRET",
    });
  }
  // Windows has no POSIX modes to check.
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    throw new ValidationError(`the stepbox key file ${file} is open to other users (mode ${(mode & 0o777).toString(8).padStart(3, "0")})`, {
      hint: `chmod 600 ${file}`,
    });
  }
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new ValidationError(`the stepbox key file ${file} does not hold a key (64 hex digits)`, {
      hint: "delete it to have a new one made (payloads signed with the old key can then no longer be read), or set STEPBOX_SECRET",
    });
  }
  return Buffer.from(hex, "hex");
}

/**
 * Writes a new key to a private temp file, then links it into place. link() fails when the file
 * exists, so of two processes creating it at once one wins and the other reads the winner's key, and
 * no reader ever sees a half-written file.
 */
function createKeyFile(file: string): Buffer {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(temp, "wx", 0o600);
    try {
      writeFileSync(fd, `${randomBytes(32).toString("hex")}\n`);
      // On disk before it has its name: after a crash, an empty key file would lock out every payload.
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new ValidationError(`cannot create the stepbox key file ${file}`, {
        cause: error,
        hint: "set STEPBOX_SECRET, or XDG_CONFIG_HOME to a folder this user can write",
      });
    }
  } finally {
    rmSync(temp, { force: true });
  }
  const key = readKeyFile(file);
  if (key === undefined) {
    throw new ValidationError(`the stepbox key file ${file} was deleted while it was being created`, {
      hint: "run again; if it keeps happening, find what deletes it",
    });
  }
  return key;
}
