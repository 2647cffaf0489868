import { createHash, randomBytes } from "node:crypto";
import { link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { ValidationError } from "../errors.js";

export interface MasterKeyOptions {
  /** Wins over everything else. */
  secret?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  /** @default $XDG_CONFIG_HOME/stepbox/secret, else ~/.config/stepbox/secret */
  keyFile?: string;
}

export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "stepbox", "secret");
}

const sha256 = (value: string | Buffer): Buffer => createHash("sha256").update(value).digest();

async function readKeyFile(file: string): Promise<Buffer> {
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) {
    throw new ValidationError(`the stepbox key file ${file} can be read by other users (mode ${(info.mode & 0o777).toString(8)})`, {
      hint: `chmod 600 ${file}`,
    });
  }
  const text = (await readFile(file, "utf8")).trim();
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new ValidationError(`the stepbox key file ${file} does not hold a 64-digit hex key`, {
      hint: `delete it to have a new one made (results signed with the old key can no longer be read), or set STEPBOX_SECRET`,
    });
  }
  return Buffer.from(text, "hex");
}

/**
 * The secret every per-execution HMAC key derives from: an explicit secret, else STEPBOX_SECRET,
 * else a key file made on first use (0600, in a 0700 folder). It never goes to the store or logs.
 */
export async function loadMasterKey(options: MasterKeyOptions = {}): Promise<Buffer> {
  if (options.secret !== undefined) return sha256(options.secret);
  const env = options.env ?? process.env;
  if (env.STEPBOX_SECRET) return sha256(env.STEPBOX_SECRET);
  const file = options.keyFile ?? defaultKeyFile(env);
  try {
    return await readKeyFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  try {
    // link() fails when the file exists, so of two processes making it at once, the first one wins
    // and the second reads the winner's key.
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await rm(temp, { force: true });
  }
  return readKeyFile(file);
}
