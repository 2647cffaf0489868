import { spawn } from "node:child_process";
import { S3Client } from "@aws-sdk/client-s3";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A running s3rver: a real S3-compatible HTTP server that keeps its objects in a temp folder. */
export interface S3TestServer {
  /** `http://<address>:<port>`: `http://127.0.0.1:<port>` unless another address was asked for. */
  endpoint: string;
  /** A bucket that exists, empty at start. */
  bucket: string;
  region: string;
  /**
   * s3rver's built-in key pair. It refuses an unknown access key id (InvalidAccessKeyId), but it does
   * not verify SigV4 signatures, so a wrong secret with the right id is accepted.
   */
  accessKeyId: string;
  secretAccessKey: string;
  /**
   * The folder s3rver keeps its files in: the object `k` of the bucket is `<directory>/<bucket>/k._S3rver_object`.
   * Tests that damage an object behind the server's back write there.
   */
  directory: string;
  /** The path of an object's bytes in `directory`. */
  objectPath(key: string): string;
  /** The ids of the multipart uploads that were started and neither completed nor aborted. */
  pendingUploads(): Promise<string[]>;
  /** Stops the server and removes its folder. */
  close(): Promise<void>;
}

/**
 * s3rver runs in a child process: its module keeps global state (an account registry, a winston logger),
 * its request handling then competes with neither the test's event loop nor its memory (tests measure
 * the RSS of the process that uses the store), and a test process that dies takes the child along
 * (the IPC channel closes).
 */
const CHILD = `
const { createHash, randomBytes } = require("node:crypto");
const { createWriteStream } = require("node:fs");
const { mkdir, rename, rm } = require("node:fs/promises");
const { dirname, join } = require("node:path");
const { Transform } = require("node:stream");
const { pipeline } = require("node:stream/promises");
const S3rver = require(process.argv[1]);
const FilesystemStore = require(join(dirname(process.argv[1]), "stores", "filesystem.js"));
const [directory, bucket, incoming, address] = process.argv.slice(2);

// s3rver writes a PUT straight over the object's file and its metadata after it, answers before the
// bytes are flushed, and never notices a client that hangs up mid-body: a reader sees part of an
// object, two writers mix their bytes, a cut upload truncates the previous object. S3 replaces an
// object whole or not at all, so here too: the body goes to a file outside the bucket (listings stat
// every file they walk), and one key's rename, metadata and reads take turns.
const turns = new Map();
async function inTurn(bucket, key, work) {
  const id = bucket + "/" + key;
  const before = turns.get(id) ?? Promise.resolve();
  let done;
  const mine = before.then(() => new Promise((resolve) => (done = resolve)));
  turns.set(id, mine);
  await before;
  try {
    return await work();
  } finally {
    done();
    if (turns.get(id) === mine) turns.delete(id);
  }
}
FilesystemStore.prototype.putObject = async function (object) {
  const temp = join(incoming, randomBytes(8).toString("hex"));
  const md5 = createHash("md5");
  let size = 0;
  const counter = new Transform({
    transform(chunk, _encoding, next) {
      md5.update(chunk);
      size += chunk.length;
      next(null, chunk);
    },
  });
  try {
    await pipeline(object.content, counter, createWriteStream(temp));
    const digest = md5.digest("hex");
    return await inTurn(object.bucket, object.key, async () => {
      const objectPath = this.getResourcePath(object.bucket, object.key, "object");
      await mkdir(dirname(objectPath), { recursive: true });
      await rename(temp, objectPath);
      await this.putMetadata(object.bucket, object.key, object.metadata, digest);
      return { size, md5: digest };
    });
  } finally {
    await rm(temp, { force: true });
  }
};
const getObject = FilesystemStore.prototype.getObject;
FilesystemStore.prototype.getObject = function (bucket, key, options) {
  return inTurn(bucket, key, () => getObject.call(this, bucket, key, options));
};

// DeleteObjects deletes its keys concurrently, and each delete prunes the folders it emptied with
// readdirSync: two keys in one folder race, the loser fails with ENOENT (a 500) after its files are gone.
const deleteObject = FilesystemStore.prototype.deleteObject;
FilesystemStore.prototype.deleteObject = function (bucket, key) {
  return inTurn(bucket, key, async () => {
    try {
      await deleteObject.call(this, bucket, key);
    } catch (error) {
      if (error.code !== "ENOENT") throw error;
    }
  });
};

const server = new S3rver({
  address,
  port: 0,
  silent: true,
  directory,
  vhostBuckets: false,
  configureBuckets: [{ name: bucket, configs: [] }],
});

// s3rver has no AbortMultipartUpload (DELETE ?uploadId answers 405): remove the upload's parts as S3 does.
server.middleware.unshift(async (ctx, next) => {
  const uploadId = ctx.query.uploadId;
  if (ctx.method !== "DELETE" || typeof uploadId !== "string") return next();
  const uploads = server.store.getResourcePath(ctx.path.split("/")[1], undefined, "uploads");
  if (!/^[0-9a-f]+$/.test(uploadId)) {
    ctx.status = 404;
    return;
  }
  await rm(join(uploads, uploadId), { recursive: true, force: true });
  ctx.status = 204;
});

// Expected S3 errors (404, 403...) are answers and a client that hung up is a test of faults; anything
// else is s3rver failing and belongs in the test log.
const HUNG_UP = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ERR_STREAM_PREMATURE_CLOSE", "HPE_INVALID_EOF_STATE"]);
server.on("error", (error) => {
  if (!(error.status < 500) && !HUNG_UP.has(error.code)) console.error("s3rver:", error);
});
server.run().then(
  (address) => process.send({ port: address.port }),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
process.on("disconnect", () => server.close().finally(() => process.exit(0)));
`;

/**
 * Starts s3rver on 127.0.0.1 (or `address`) on a free port, in a fresh temp folder, with one bucket. Sets nothing
 * global in this process: hand `endpoint` and the credentials to the client or store under test.
 *
 * @example
 * let s3: S3TestServer;
 * beforeAll(async () => { s3 = await startS3Server(); });
 * afterAll(() => s3.close());
 */
export async function startS3Server(options: { bucket?: string; address?: string } = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? "stepbox-test";
  // A Docker network's gateway address, for one: containers on that network reach the server there.
  const address = options.address ?? "127.0.0.1";
  const directory = await mkdtemp(join(tmpdir(), "stepbox-s3rver-"));
  // Beside the served folder, on the same file system, so that a finished upload is renamed into place.
  const incoming = `${directory}.incoming`;
  await mkdir(incoming);
  const s3rverMain = createRequire(import.meta.url).resolve("s3rver");
  // s3rver encrypts list continuation tokens with DES, which Node 20's OpenSSL 3 only offers through
  // its legacy provider: without it every truncated listing (paging) fails with a 500.
  const child = spawn(process.execPath, ["--openssl-legacy-provider", "-e", CHILD, s3rverMain, directory, bucket, incoming, address], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      child.once("message", (message) => resolve((message as { port: number }).port));
      child.once("exit", (code) => reject(new Error(`s3rver exited with code ${String(code)} before it listened`)));
      child.once("error", reject);
    });
  } catch (error) {
    child.kill("SIGKILL");
    await removeFolders(directory, incoming);
    throw error;
  }
  return {
    endpoint: `http://${address}:${port}`,
    bucket,
    region: "us-east-1",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    directory,
    objectPath: (key) => join(directory, bucket, `${key}._S3rver_object`),
    async pendingUploads() {
      return readdir(join(directory, bucket, "._S3rver_uploads")).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return [];
        throw error;
      });
    },
    async close() {
      if (child.connected) child.disconnect();
      // s3rver's close waits for requests in flight, and a test that cut a connection may leave one hanging.
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await exited;
      clearTimeout(timer);
      await removeFolders(directory, incoming);
    },
  };
}

async function removeFolders(...folders: string[]): Promise<void> {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
}

/** What a user sets to point stepbox (and its child processes) at this server. */
export function s3Env(server: S3TestServer): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_REGION: server.region,
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
  };
}

/**
 * Sets `s3Env(server)` on this process's environment, as a user's shell would (a session takes its S3
 * settings from there, and child processes inherit them); returns what puts the old values back.
 */
export function useS3Env(server: S3TestServer): () => void {
  const saved: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(s3Env(server))) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  return () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** A client with no stepbox in between, as another tool with access to the bucket would use; destroy it after. */
export function bareS3Client(server: S3TestServer): S3Client {
  return new S3Client({
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    // s3rver stores aws-chunked framing as the bytes: see the store's own client settings.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}
