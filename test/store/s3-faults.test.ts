import { createWriteStream } from "node:fs";
import { mkdtemp, open, readdir, rm } from "node:fs/promises";
import { createServer, Socket, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { IntegrityError, NotFoundError, StoreError } from "../../src/errors.js";
import { S3Store, type S3StoreOptions } from "../../src/store/s3-store.js";
import { bareS3Client, type S3TestServer } from "../support/s3-server.js";
import { chunked, patternBytes, readAll, sha256 } from "./store-contract.js";

const MiB = 1024 * 1024;

let count = 0;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A store in a fresh prefix of the test bucket; `overrides` change how it reaches S3. */
function storeWith(s3: S3TestServer, overrides: Partial<S3StoreOptions> = {}): S3Store {
  return new S3Store({
    bucket: s3.bucket,
    prefix: `faults-${++count}`,
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    env: {},
    ...overrides,
  });
}

/** The same prefix as `store`, reached directly (not through a proxy), to see what really landed. */
function directView(s3: S3TestServer, store: S3Store): S3Store {
  return storeWith(s3, { prefix: store.prefix });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error("expected the call to fail, and it succeeded");
  return outcome;
}

/** How many times the SDK sent the request that failed, as its error's metadata reports. */
function attempts(error: Error): number | undefined {
  return (error.cause as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts;
}

/** A TCP port on 127.0.0.1 that nothing listens on. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface FaultyProxy {
  endpoint: string;
  /** How many connections the proxy has cut or stalled so far. */
  readonly faults: number;
}

interface FaultRule {
  /** Strike a connection once it has carried more than this towards the server (a request body in flight). */
  upstreamBytes?: number;
  /** Strike a connection once it has carried more than this back (a response body in flight). */
  downstreamBytes?: number;
  /** How: reset it (RST), or stop forwarding either way and leave it open. @default "reset" */
  fault?: "reset" | "stall";
  /** Strike this many connections, then forward everything. @default Infinity */
  times?: number;
}

/**
 * A TCP proxy on 127.0.0.1 in front of s3rver that breaks the connections a rule picks. Smaller
 * requests (create, abort, list) pass, as they would on a network that fails under load.
 */
async function startFaultyProxy(s3: S3TestServer, rule: FaultRule): Promise<FaultyProxy> {
  const target = new URL(s3.endpoint);
  const sockets = new Set<Socket>();
  let faults = 0;
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client).add(upstream);
    let up = 0;
    let down = 0;
    const strike = (): void => {
      faults++;
      if (rule.fault === "stall") {
        client.unpipe(upstream).pause();
        upstream.unpipe(client).pause();
      } else {
        client.resetAndDestroy();
        upstream.destroy();
      }
    };
    const withinBudget = (): boolean => faults < (rule.times ?? Infinity);
    for (const socket of [client, upstream]) {
      socket.on("error", () => undefined);
      socket.on("close", () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    // The client's bytes are read only once they have somewhere to go: a listener attached earlier
    // would start the flow and drop what arrives before the upstream connection is up.
    upstream.connect(Number(target.port), target.hostname, () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.on("data", (chunk: Buffer) => {
        up += chunk.length;
        if (rule.upstreamBytes !== undefined && up > rule.upstreamBytes && withinBudget()) strike();
      });
      upstream.on("data", (chunk: Buffer) => {
        down += chunk.length;
        if (rule.downstreamBytes !== undefined && down > rule.downstreamBytes && withinBudget()) strike();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get faults() {
      return faults;
    },
  };
}

/** A spool folder of its own, so a test can see that a failed upload removed its spool file. */
async function spoolFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "stepbox-spool-"));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  return folder;
}

describe("S3Store faults: each ends in a StoreError that names the bucket, the key and the fix", () => {
  it("a bucket that does not exist: every operation says so and how to create it, without retrying", async ({ s3 }) => {
    const store = storeWith(s3, { bucket: "stepbox-no-such-bucket", prefix: "runs" });
    const key = "p/e/train/step.json";
    const calls: Array<[string, string, () => Promise<unknown>]> = [
      ["put", key, () => store.put(key, "{}")],
      ["putStream", key, () => store.putStream(key, chunked(patternBytes(3 * MiB)))],
      ["putStream (multipart)", key, () => store.putStream(key, chunked(patternBytes(12 * MiB)))],
      ["get", key, () => store.get(key)],
      ["getStream", key, () => store.getStream(key)],
      ["exists", key, () => store.exists(key)],
      ["list", "p/e", () => store.list("p/e")],
      ["listChildren", "p/e", () => store.listChildren("p/e")],
      ["deletePrefix", "p/e", () => store.deletePrefix("p/e")],
    ];
    for (const [name, target, call] of calls) {
      const error = await failure(call());
      expect(error, name).toBeInstanceOf(StoreError);
      expect(error, name).not.toBeInstanceOf(NotFoundError);
      expect(error.message, name).toContain(`s3://stepbox-no-such-bucket/runs/${target}`);
      expect(error.message, name).toContain(`the bucket "stepbox-no-such-bucket" does not exist at ${s3.endpoint}`);
      expect(error.message, name).toContain(`hint: create it (aws s3 mb s3://stepbox-no-such-bucket --endpoint-url ${s3.endpoint})`);
      // A missing bucket does not appear by waiting: the SDK's retry strategy leaves it alone. (Uploads
      // aside: a server that refuses an upload before reading its body drops the connection, and the
      // SDK retries a dropped connection, as it should, before the store's probe names the bucket.)
      if (!name.startsWith("put")) expect(attempts(error), name).toBe(1);
    }
  });

  it("bad credentials: refused with a pointer to the credential settings, and nothing is written", async ({ s3 }) => {
    const store = storeWith(s3, { credentials: { accessKeyId: "NOT-A-KEY", secretAccessKey: "whatever" } });
    const key = "p/e/train/results/payload.bin";
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["put", () => store.put(key, "x")],
      ["putStream (multipart)", () => store.putStream(key, chunked(patternBytes(12 * MiB)))],
      ["get", () => store.get(key)],
      ["exists", () => store.exists(key)],
    ];
    for (const [name, call] of calls) {
      const error = await failure(call());
      expect(error, name).toBeInstanceOf(StoreError);
      expect(error.message, name).toContain(`s3://${s3.bucket}/${store.prefix}/${key}`);
      expect(error.message, name).toContain(`${s3.endpoint} refused the credentials (InvalidAccessKeyId, HTTP 403)`);
      expect(error.message, name).toContain("hint: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
      expect(attempts(error), name).toBe(1);
    }
    expect(await directView(s3, store).list("")).toEqual([]);
    expect(await s3.pendingUploads()).toEqual([]);
  });

  it("an unreachable endpoint: retried by the SDK, then reported with the endpoint and what to check", async ({ s3 }) => {
    const endpoint = `http://127.0.0.1:${await unusedPort()}`;
    const store = storeWith(s3, { endpoint, maxAttempts: 3 });
    const key = "p/e/execution.json";
    const calls: Array<[string, string, () => Promise<unknown>]> = [
      ["put", key, () => store.put(key, "{}")],
      ["get", key, () => store.get(key)],
      ["list", "p", () => store.list("p")],
    ];
    for (const [name, target, call] of calls) {
      const error = await failure(call());
      expect(error, name).toBeInstanceOf(StoreError);
      expect(error.message, name).toContain(`s3://${s3.bucket}/${store.prefix}/${target}`);
      expect(error.message, name).toContain(`the S3 endpoint ${endpoint} could not be reached or dropped the connection (ECONNREFUSED) after 3 attempt(s)`);
      expect(error.message, name).toContain("hint: check that the S3 server is running and that AWS_ENDPOINT_URL_S3 points at it");
      expect(attempts(error), name).toBe(3);
    }
  });

  it("a connection cut once in the middle of a multipart upload: the SDK retries the part and the object lands whole", async ({ s3 }) => {
    const proxy = await startFaultyProxy(s3, { upstreamBytes: 2 * MiB, times: 1 });
    const store = storeWith(s3, { endpoint: proxy.endpoint, partSizeBytes: 5 * MiB });
    const body = patternBytes(23 * MiB + 321, 21);
    expect(await store.putStream("p/e/train/output/model.tar.gz", chunked(body))).toEqual({ bytes: body.length });
    expect(proxy.faults).toBe(1);
    const back = await directView(s3, store).get("p/e/train/output/model.tar.gz");
    expect(sha256(back)).toBe(sha256(body));
    expect(await s3.pendingUploads()).toEqual([]);
  });

  it("a network that keeps failing mid-upload: a StoreError after the retries, the multipart upload aborted, the previous object intact", async ({ s3 }) => {
    const proxy = await startFaultyProxy(s3, { upstreamBytes: 1 * MiB });
    const spoolDir = await spoolFolder();
    const store = storeWith(s3, { endpoint: proxy.endpoint, partSizeBytes: 5 * MiB, queueSize: 2, maxAttempts: 3, spoolDir });
    const direct = directView(s3, store);
    const key = "p/e/train/output/model.tar.gz";
    const previous = patternBytes(2 * MiB, 30);
    await direct.put(key, previous);

    for (const target of [key, "p/e/evaluate/output/model.tar.gz"]) {
      const error = await failure(store.putStream(target, chunked(patternBytes(17 * MiB, 31))));
      expect(error).toBeInstanceOf(StoreError);
      expect(error.message).toContain(`cannot write s3://${s3.bucket}/${store.prefix}/${target}`);
      expect(error.message).toContain(`the S3 endpoint ${proxy.endpoint} could not be reached or dropped the connection`);
      expect(error.message).toMatch(/\((ECONNRESET|EPIPE)\) after 3 attempt\(s\)/);
      expect(error.message).toContain("the multipart upload was aborted and the key keeps its previous object, if any");
      expect(attempts(error)).toBe(3);
    }
    // Every part was tried three times before the upload gave up: two uploads, at least one part each.
    expect(proxy.faults).toBeGreaterThanOrEqual(2 * 3);
    expect((await direct.get(key)).equals(previous)).toBe(true);
    expect(await direct.exists("p/e/evaluate/output/model.tar.gz")).toBe(false);
    expect(await direct.list("")).toEqual([key]);
    expect(await s3.pendingUploads()).toEqual([]);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it("a single PUT cut mid-body: a StoreError after the retries, and the previous object intact", async ({ s3 }) => {
    const proxy = await startFaultyProxy(s3, { upstreamBytes: 256 * 1024 });
    const store = storeWith(s3, { endpoint: proxy.endpoint });
    const direct = directView(s3, store);
    await direct.put("p/e/train/results/payload.bin", "previous result");
    for (const write of [
      () => store.put("p/e/train/results/payload.bin", patternBytes(3 * MiB, 40)),
      () => store.putStream("p/e/train/results/payload.bin", chunked(patternBytes(3 * MiB, 41))),
    ]) {
      const error = await failure(write());
      expect(error).toBeInstanceOf(StoreError);
      expect(error.message).toContain(`cannot write s3://${s3.bucket}/${store.prefix}/p/e/train/results/payload.bin`);
      expect(error.message).toMatch(/dropped the connection \((ECONNRESET|EPIPE)\) after 3 attempt\(s\)/);
    }
    expect((await direct.get("p/e/train/results/payload.bin")).toString()).toBe("previous result");
    expect(await direct.list("")).toEqual(["p/e/train/results/payload.bin"]);
  });

  it("a connection that stalls mid-upload: given up after idleTimeoutMs, retried, then a StoreError, and nothing left", async ({ s3 }) => {
    const proxy = await startFaultyProxy(s3, { upstreamBytes: 1 * MiB, fault: "stall" });
    const store = storeWith(s3, { endpoint: proxy.endpoint, partSizeBytes: 5 * MiB, queueSize: 1, maxAttempts: 2, idleTimeoutMs: 500 });
    const key = "p/e/train/output/model.tar.gz";
    const started = performance.now();
    const error = await failure(store.putStream(key, chunked(patternBytes(12 * MiB, 45))));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toContain(`cannot write s3://${s3.bucket}/${store.prefix}/${key}`);
    expect(error.message).toContain(`the S3 endpoint ${proxy.endpoint} stopped answering (ETIMEDOUT) after 2 attempt(s)`);
    expect(error.message).toContain("the multipart upload was aborted");
    expect(proxy.faults).toBe(2);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(await directView(s3, store).exists(key)).toBe(false);
    expect(await s3.pendingUploads()).toEqual([]);
  });
});

describe("S3Store integrity: an object changed behind the store's back is refused, never handed out", () => {
  /** A client with no stepbox in between, as another tool with write access to the bucket would use. */
  function bareClient(s3: S3TestServer): S3Client {
    const client = bareS3Client(s3);
    cleanups.push(async () => client.destroy());
    return client;
  }

  /** Replaces the object's bytes and keeps the size and SHA-256 that stepbox wrote in its metadata. */
  async function replaceBytes(s3: S3TestServer, client: S3Client, objectKey: string, bytes: Buffer, metadata = true): Promise<void> {
    const current = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: objectKey }));
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: objectKey, Body: bytes, ...(metadata ? { Metadata: current.Metadata } : {}) }));
  }

  /** What a consumer that acts only after the stream ended (pipeline to a file, then use) gets. */
  async function downloadToFile(store: S3Store, key: string): Promise<void> {
    const folder = await mkdtemp(join(tmpdir(), "stepbox-download-"));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    await pipeline(await store.getStream(key), createWriteStream(join(folder, "artifact")));
  }

  const tamperings: Array<[string, (original: Buffer) => Buffer, RegExp]> = [
    [
      "one byte altered",
      (original) => Buffer.concat([original.subarray(0, 1000), Buffer.from([original[1000]! ^ 1]), original.subarray(1001)]),
      /its SHA-256 is [0-9a-f]{64}, stepbox wrote [0-9a-f]{64}/,
    ],
    ["truncated", (original) => original.subarray(0, original.length - 1), /it has 299999 bytes, stepbox wrote 300000/],
    ["extended", (original) => Buffer.concat([original, Buffer.from("more")]), /it has 300004 bytes, stepbox wrote 300000/],
  ];

  for (const [name, tamper, reason] of tamperings) {
    it(`${name} through S3: get() and getStream() fail with an IntegrityError that names the object`, async ({ s3 }) => {
      const store = storeWith(s3);
      const original = patternBytes(300_000, 50);
      await store.put("p/e/train/results/payload.bin", original);
      await replaceBytes(s3, bareClient(s3), `${store.prefix}/p/e/train/results/payload.bin`, tamper(original));
      const where = `s3://${s3.bucket}/${store.prefix}/p/e/train/results/payload.bin`;
      for (const read of [() => store.get("p/e/train/results/payload.bin"), () => downloadToFile(store, "p/e/train/results/payload.bin")]) {
        const error = await failure(read());
        expect(error).toBeInstanceOf(IntegrityError);
        expect(error).toMatchObject({ code: "INTEGRITY" });
        expect(error.message).toContain(`integrity check failed for ${where}`);
        expect(error.message).toMatch(reason);
        expect(error.message).toContain("hint: restrict write access to the artifact store; rerun the step");
      }
    });
  }

  it("an object another tool wrote (no stepbox size and SHA-256) is refused", async ({ s3 }) => {
    const store = storeWith(s3);
    await store.put("p/e/train/step.json", "{}");
    await replaceBytes(s3, bareClient(s3), `${store.prefix}/p/e/train/step.json`, Buffer.from("{}"), false);
    const error = await failure(store.get("p/e/train/step.json"));
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error.message).toContain(`s3://${s3.bucket}/${store.prefix}/p/e/train/step.json (it has no stepbox size and SHA-256 metadata`);
  });

  it("a large object damaged in the server's storage: the stream fails at its end instead of ending", async ({ s3 }) => {
    const store = storeWith(s3);
    const body = patternBytes(12 * MiB + 5, 60);
    await store.putStream("p/e/train/output/model.tar.gz", chunked(body));
    const file = await open(s3.objectPath(`${store.prefix}/p/e/train/output/model.tar.gz`), "r+");
    try {
      await file.write(Buffer.from([body[7 * MiB]! ^ 0xff]), 0, 1, 7 * MiB);
    } finally {
      await file.close();
    }
    let received = 0;
    const error = await failure(
      (async () => {
        for await (const chunk of await store.getStream("p/e/train/output/model.tar.gz")) received += (chunk as Buffer).length;
      })(),
    );
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error.message).toContain(`s3://${s3.bucket}/${store.prefix}/p/e/train/output/model.tar.gz (its SHA-256 is`);
    // Bytes past the damage went by first: the hash is known only at the end, where the stream fails.
    expect(received).toBeGreaterThan(7 * MiB);
    await expect(downloadToFile(store, "p/e/train/output/model.tar.gz")).rejects.toBeInstanceOf(IntegrityError);
  });

  it("a download cut mid-body fails with a StoreError naming the object, never a short clean end", async ({ s3 }) => {
    const store = storeWith(s3);
    const body = patternBytes(6 * MiB, 70);
    await store.put("p/e/train/output/output.tar.gz", body);
    const proxy = await startFaultyProxy(s3, { downstreamBytes: 2 * MiB, times: 1 });
    const viaProxy = storeWith(s3, { endpoint: proxy.endpoint, prefix: store.prefix });
    const error = await failure(readAll(await viaProxy.getStream("p/e/train/output/output.tar.gz")));
    expect(proxy.faults).toBe(1);
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toContain(`cannot read s3://${s3.bucket}/${store.prefix}/p/e/train/output/output.tar.gz`);
    expect(error.message).toContain("dropped the connection (ECONNRESET)");
    // The cut was a fault of the network, not of the object: the next read gets it whole.
    expect(sha256(await viaProxy.get("p/e/train/output/output.tar.gz"))).toBe(sha256(body));
  });

  it("a download that stalls mid-body fails with a StoreError after idleTimeoutMs instead of hanging", async ({ s3 }) => {
    const store = storeWith(s3);
    await store.put("p/e/train/output/output.tar.gz", patternBytes(6 * MiB, 71));
    const proxy = await startFaultyProxy(s3, { downstreamBytes: 2 * MiB, fault: "stall" });
    const viaProxy = storeWith(s3, { endpoint: proxy.endpoint, prefix: store.prefix, idleTimeoutMs: 500 });
    const error = await failure(readAll(await viaProxy.getStream("p/e/train/output/output.tar.gz")));
    expect(proxy.faults).toBe(1);
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toContain(`cannot read s3://${s3.bucket}/${store.prefix}/p/e/train/output/output.tar.gz`);
    expect(error.message).toContain("stopped answering (ETIMEDOUT)");
  });
});
