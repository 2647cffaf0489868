import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IntegrityError, type SerializationError } from "stepbox";
import { deserialize, serialize, toRemoteErrorInfo } from "../../src/serialization/codec.js";
import { loadMasterKey } from "../../src/serialization/master-key.js";
import { deriveExecutionKey, signPayload, verifyPayload } from "../../src/serialization/signing.js";

const roundTrip = <T>(value: T): T => deserialize(serialize(value)) as T;

describe("the codec", () => {
  it("keeps what JSON cannot carry", () => {
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const value = {
      date: new Date("2026-03-04T05:06:07Z"),
      invalid: new Date(Number.NaN),
      map: new Map<unknown, unknown>([
        [{ k: 1 }, "object key"],
        ["s", 2],
      ]),
      set: new Set([1, "two"]),
      big: 2n ** 80n,
      buffer: Buffer.from("bytes"),
      floats: new Float32Array([1.5, -2]),
      ints: new BigInt64Array([1n, -1n]),
      arrayBuffer: new Uint8Array([9, 8]).buffer,
      regexp: /a+b/gi,
      nothing: undefined,
      nan: Number.NaN,
      negativeZero: -0,
      // biome-ignore lint/suspicious/noSparseArray: a hole is what this round trip checks
      sparse: [1, , 3],
      shared: [shared, shared],
      cyclic,
    };
    const back = roundTrip(value);
    expect(back.date).toEqual(value.date);
    expect(Number.isNaN(back.invalid.getTime())).toBe(true);
    expect([...back.map.values()]).toEqual(["object key", 2]);
    expect(back.set).toEqual(value.set);
    expect(back.big).toBe(2n ** 80n);
    expect(Buffer.from(back.buffer).toString()).toBe("bytes");
    expect([...back.floats]).toEqual([1.5, -2]);
    expect([...back.ints]).toEqual([1n, -1n]);
    expect([...new Uint8Array(back.arrayBuffer)]).toEqual([9, 8]);
    expect(back.regexp.source).toBe("a+b");
    expect("nothing" in back && back.nothing === undefined).toBe(true);
    expect(Number.isNaN(back.nan)).toBe(true);
    expect(Object.is(back.negativeZero, -0)).toBe(true);
    expect(1 in back.sparse).toBe(false);
    expect(back.shared[0]).toBe(back.shared[1]);
    expect((back.cyclic as { self: unknown }).self).toBe(back.cyclic);
  });

  it("keeps an error's name, message, stack, cause and code, nested anywhere", () => {
    class ModelError extends Error {
      override name = "ModelError";
      code = "E_MODEL";
    }
    const error = new ModelError("diverged", { cause: new RangeError("lr too high") });
    const back = roundTrip({ errors: [error] }).errors[0] as ModelError;
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe("ModelError");
    expect(back.message).toBe("diverged");
    expect(back.stack).toBe(error.stack);
    expect(back.code).toBe("E_MODEL");
    expect(back.cause).toBeInstanceOf(RangeError);
    expect((back.cause as Error).message).toBe("lr too high");
    const aggregate = roundTrip(new AggregateError([new TypeError("a")], "many"));
    expect(aggregate).toBeInstanceOf(AggregateError);
    expect((aggregate.errors[0] as Error).name).toBe("TypeError");
  });

  it("names the path of what cannot be serialized", () => {
    const attempt = (value: unknown): SerializationError => {
      try {
        serialize(value, "result");
      } catch (error) {
        return error as SerializationError;
      }
      throw new Error("serialized");
    };
    expect(attempt({ model: [{ fit: () => 1 }] }).path).toBe("result.model[0].fit");
    expect(attempt({ "a key": Symbol("s") }).path).toBe('result["a key"]');
    expect(attempt(new Map([["k", new WeakMap()]])).path).toBe('result<Map value "k">');
    const promise = attempt(Promise.resolve(1));
    expect(promise.path).toBe("result");
    expect(promise.message).toMatch(/Promise/);
  });

  it("gives back buffers that do not share memory with the payload", () => {
    const payload = serialize(Buffer.from([1, 2, 3]));
    const back = deserialize(payload) as Buffer;
    payload.fill(0);
    expect([...back]).toEqual([1, 2, 3]);
    expect(back.buffer.byteLength).toBe(3);
  });

  it("turns anything thrown into name, message, stack and code", () => {
    expect(toRemoteErrorInfo("plain string")).toEqual({ name: "Error", message: "plain string", stack: undefined });
    expect(toRemoteErrorInfo(Object.assign(new Error("x"), { code: 7 }))).toMatchObject({ name: "Error", message: "x", code: 7 });
  });
});

describe("payload signing", () => {
  const key = deriveExecutionKey(Buffer.alloc(32, 1), "exec1");
  const payload = serialize({ answer: 42 });
  const metadata = signPayload(payload, key);

  it("accepts the payload it signed", () => {
    expect(() => verifyPayload(payload, metadata, key, "the result")).not.toThrow();
  });

  it.each([
    ["an altered byte", () => [Buffer.from(payload).fill(7, 3, 4), metadata, key]],
    ["a truncated payload", () => [payload.subarray(0, payload.length - 1), metadata, key]],
    ["another key", () => [payload, metadata, deriveExecutionKey(Buffer.alloc(32, 1), "exec2")]],
    ["corrupt metadata", () => [payload, { ...metadata, sha256_hash: "zz" }, key]],
    ["missing metadata", () => [payload, undefined, key]],
  ])("refuses %s", (_what, make) => {
    const [p, m, k] = make() as [Buffer, unknown, Buffer];
    expect(() => verifyPayload(p, m, k, "the result")).toThrow(IntegrityError);
  });

  it("derives a stable key per execution", () => {
    const master = Buffer.alloc(32, 9);
    expect(deriveExecutionKey(master, "a")).toEqual(deriveExecutionKey(master, "a"));
    expect(deriveExecutionKey(master, "a")).not.toEqual(deriveExecutionKey(master, "b"));
  });
});

describe("the master key", () => {
  it("prefers the explicit secret, then STEPBOX_SECRET, then a 0600 key file made once", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stepbox-key-"));
    const keyFile = join(dir, "config", "secret");
    try {
      expect(await loadMasterKey({ secret: "s", env: { STEPBOX_SECRET: "e" }, keyFile })).not.toEqual(
        await loadMasterKey({ env: { STEPBOX_SECRET: "e" }, keyFile }),
      );
      const [a, b] = await Promise.all([loadMasterKey({ env: {}, keyFile }), loadMasterKey({ env: {}, keyFile })]);
      expect(a).toEqual(b);
      expect(await loadMasterKey({ env: {}, keyFile })).toEqual(a);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      expect((await readFile(keyFile, "utf8")).trim()).toMatch(/^[0-9a-f]{64}$/);
      await writeFile(keyFile, "not a key", { mode: 0o600 });
      await expect(loadMasterKey({ env: {}, keyFile })).rejects.toThrow(/does not hold a key \(64 hex digits\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
