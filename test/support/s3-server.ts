import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A running s3rver: a real S3-compatible HTTP server that keeps its objects in a temp folder. */
export interface S3TestServer {
  /** `http://127.0.0.1:<port>`. */
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
  /** The folder s3rver keeps its files in; tests may not touch it, but it helps when one fails. */
  directory: string;
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
const { rm } = require("node:fs/promises");
const { dirname, join } = require("node:path");
const S3rver = require(process.argv[1]);
const FilesystemStore = require(join(dirname(process.argv[1]), "stores", "filesystem.js"));
const [directory, bucket] = process.argv.slice(2);

// DeleteObjects deletes its keys concurrently, and each delete prunes the folders it emptied with
// readdirSync: two keys in one folder race, the loser fails with ENOENT (a 500) after its files are gone.
const deleteObject = FilesystemStore.prototype.deleteObject;
FilesystemStore.prototype.deleteObject = async function (...args) {
  try {
    await deleteObject.apply(this, args);
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
  }
};

const server = new S3rver({
  address: "127.0.0.1",
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

// Expected S3 errors (404, 403...) are answers; anything else is s3rver failing and belongs in the test log.
server.on("error", (error) => {
  if (!(error.status < 500)) console.error("s3rver:", error);
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
 * Starts s3rver on 127.0.0.1 on a free port, in a fresh temp folder, with one bucket. Sets nothing
 * global in this process: hand `endpoint` and the credentials to the client or store under test.
 *
 * @example
 * let s3: S3TestServer;
 * beforeAll(async () => { s3 = await startS3Server(); });
 * afterAll(() => s3.close());
 */
export async function startS3Server(options: { bucket?: string } = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? "stepbox-test";
  const directory = await mkdtemp(join(tmpdir(), "stepbox-s3rver-"));
  const s3rverMain = createRequire(import.meta.url).resolve("s3rver");
  // s3rver encrypts list continuation tokens with DES, which Node 20's OpenSSL 3 only offers through
  // its legacy provider: without it every truncated listing (paging) fails with a 500.
  const child = spawn(process.execPath, ["--openssl-legacy-provider", "-e", CHILD, s3rverMain, directory, bucket], {
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
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: "us-east-1",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    directory,
    async close() {
      if (child.connected) child.disconnect();
      // s3rver's close waits for requests in flight, and a test that cut a connection may leave one hanging.
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await exited;
      clearTimeout(timer);
      await rm(directory, { recursive: true, force: true });
    },
  };
}
