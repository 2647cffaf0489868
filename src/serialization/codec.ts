/**
 * How step arguments and results cross the container boundary: V8's structured serializer, plus an
 * envelope for errors (V8 drops their `code` and turns subclasses into plain `Error`) and a check
 * that names where in a value something unserializable sits.
 *
 * Node builtins only: this module is bundled into the runner inside every step container.
 */
import { deserialize as v8Deserialize, serialize as v8Serialize } from "node:v8";
import { SerializationError, type RemoteErrorInfo } from "../errors.js";

/** Marks an error encoded as a plain object. */
const ERROR_TAG = "__stepbox_error__";

interface EncodedError {
  [ERROR_TAG]: true;
  name: string;
  message: string;
  stack: string | undefined;
  cause?: unknown;
  errors?: unknown[];
  props: Record<string, unknown>;
}

const BUILTIN_ERRORS: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** Values V8 copies as they are; nothing inside them needs encoding. */
function isOpaque(value: object): boolean {
  return (
    value instanceof Date ||
    value instanceof RegExp ||
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer)
  );
}

function describeUnserializable(value: unknown): string | undefined {
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (value instanceof WeakMap) return "a WeakMap";
  if (value instanceof WeakSet) return "a WeakSet";
  if (value instanceof Promise) return "a Promise";
  if (typeof WeakRef !== "undefined" && value instanceof WeakRef) return "a WeakRef";
  return undefined;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Paths read like JS: `value.model.fit`, `value[2]`, `value["a key"]`, `value<Map value "k">`. */
function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function mapKeyLabel(key: unknown): string {
  if (typeof key === "string") return JSON.stringify(key);
  if (typeof key === "number" || typeof key === "bigint" || typeof key === "boolean") return String(key);
  return typeof key;
}

/** Whether anything inside needs encoding (an error) or must be refused (a function, a symbol...). */
function needsEncoding(value: unknown, seen: Set<object>): boolean {
  if (typeof value === "function" || typeof value === "symbol") return true;
  if (typeof value !== "object" || value === null) return false;
  if (seen.has(value)) return false;
  seen.add(value);
  if (value instanceof Error || describeUnserializable(value)) return true;
  if (isOpaque(value)) return false;
  if (value instanceof Map) {
    for (const [k, v] of value) if (needsEncoding(k, seen) || needsEncoding(v, seen)) return true;
    return false;
  }
  if (value instanceof Set) {
    for (const v of value) if (needsEncoding(v, seen)) return true;
    return false;
  }
  for (const key of Object.keys(value)) {
    if (needsEncoding((value as Record<string, unknown>)[key], seen)) return true;
  }
  return false;
}

/** A copy of the value with errors encoded; shared references and cycles stay shared. */
function encode(value: unknown, path: string, memo: Map<object, unknown>): unknown {
  const refused = describeUnserializable(value);
  if (refused) throw new SerializationError(path, refused);
  if (typeof value !== "object" || value === null) return value;
  if (memo.has(value)) return memo.get(value);
  if (isOpaque(value)) return value;

  if (value instanceof Error) {
    const encoded: EncodedError = { [ERROR_TAG]: true, name: value.name, message: value.message, stack: value.stack, props: {} };
    memo.set(value, encoded);
    if ("cause" in value) encoded.cause = encode(value.cause, `${path}.cause`, memo);
    if (value instanceof AggregateError) encoded.errors = value.errors.map((e: unknown, i: number) => encode(e, `${path}.errors[${i}]`, memo));
    for (const key of Object.keys(value)) {
      if (key !== "cause" && key !== "errors") encoded.props[key] = encode((value as unknown as Record<string, unknown>)[key], childPath(path, key), memo);
    }
    return encoded;
  }
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array(value.length);
    memo.set(value, copy);
    // forEach skips holes, so sparse arrays stay sparse.
    value.forEach((item, i) => {
      copy[i] = encode(item, childPath(path, i), memo);
    });
    return copy;
  }
  if (value instanceof Map) {
    const copy = new Map();
    memo.set(value, copy);
    for (const [k, v] of value) {
      copy.set(encode(k, `${path}<Map key ${mapKeyLabel(k)}>`, memo), encode(v, `${path}<Map value ${mapKeyLabel(k)}>`, memo));
    }
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set();
    memo.set(value, copy);
    let i = 0;
    for (const v of value) copy.add(encode(v, `${path}<Set item ${i++}>`, memo));
    return copy;
  }
  // Plain objects and class instances alike become plain objects of their own enumerable properties, as V8 does.
  const copy: Record<string, unknown> = {};
  memo.set(value, copy);
  for (const key of Object.keys(value)) copy[key] = encode((value as Record<string, unknown>)[key], childPath(path, key), memo);
  return copy;
}

function isEncodedError(value: unknown): value is EncodedError {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[ERROR_TAG] === true;
}

function decode(value: unknown, memo: Map<object, unknown>): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (memo.has(value)) return memo.get(value);
  if (isOpaque(value)) return value;
  if (isEncodedError(value)) {
    const errorClass = BUILTIN_ERRORS[value.name] ?? Error;
    const error =
      value.errors !== undefined ? new AggregateError([], value.message) : (new errorClass(value.message) as Error & Record<string, unknown>);
    memo.set(value, error);
    if (error.name !== value.name) Object.defineProperty(error, "name", { value: value.name, writable: true, configurable: true, enumerable: false });
    Object.defineProperty(error, "stack", { value: value.stack, writable: true, configurable: true, enumerable: false });
    if ("cause" in value) Object.defineProperty(error, "cause", { value: decode(value.cause, memo), writable: true, configurable: true, enumerable: false });
    if (value.errors) (error as AggregateError).errors = value.errors.map((e) => decode(e, memo));
    for (const [k, v] of Object.entries(value.props)) (error as unknown as Record<string, unknown>)[k] = decode(v, memo);
    return error;
  }
  if (Array.isArray(value)) {
    memo.set(value, value);
    value.forEach((item, i) => {
      value[i] = decode(item, memo);
    });
    return value;
  }
  if (value instanceof Map) {
    const entries = [...value];
    memo.set(value, value);
    value.clear();
    for (const [k, v] of entries) value.set(decode(k, memo), decode(v, memo));
    return value;
  }
  if (value instanceof Set) {
    const items = [...value];
    memo.set(value, value);
    value.clear();
    for (const v of items) value.add(decode(v, memo));
    return value;
  }
  memo.set(value, value);
  for (const key of Object.keys(value)) (value as Record<string, unknown>)[key] = decode((value as Record<string, unknown>)[key], memo);
  return value;
}

/** A deserialized typed array shares memory with the input buffer: give each its own copy. */
function detach(value: unknown, seen: Set<object>): unknown {
  if (typeof value !== "object" || value === null || seen.has(value)) return value;
  seen.add(value);
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return (value as unknown as { slice(): unknown }).slice();
  if (value instanceof Date || value instanceof RegExp || value instanceof ArrayBuffer || value instanceof DataView) return value;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      value[i] = detach(item, seen);
    });
  } else if (value instanceof Map) {
    for (const [k, v] of value) value.set(k, detach(v, seen));
  } else if (value instanceof Set) {
    const items = [...value];
    value.clear();
    for (const v of items) value.add(detach(v, seen));
  } else {
    for (const key of Object.keys(value)) (value as Record<string, unknown>)[key] = detach((value as Record<string, unknown>)[key], seen);
  }
  return value;
}

/** Serializes a value for the other side of the container boundary. `rootPath` names it in errors. */
export function serialize(value: unknown, rootPath = "value"): Buffer {
  const prepared = needsEncoding(value, new Set()) ? { encoded: true, value: encode(value, rootPath, new Map()) } : { encoded: false, value };
  try {
    return v8Serialize(prepared);
  } catch (cause) {
    throw new SerializationError(rootPath, "a value V8 cannot clone", { cause });
  }
}

/** Reverses `serialize`. */
export function deserialize(bytes: Buffer): unknown {
  const prepared = v8Deserialize(bytes) as { encoded: boolean; value: unknown };
  const value = prepared.encoded ? decode(prepared.value, new Map()) : prepared.value;
  return detach(value, new Set());
}

/** Anything thrown, as the name, message, stack and code that cross the boundary. */
export function toRemoteErrorInfo(thrown: unknown): RemoteErrorInfo {
  if (thrown instanceof Error) {
    const code = (thrown as { code?: unknown }).code;
    return {
      name: thrown.name,
      message: thrown.message,
      stack: thrown.stack,
      ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    };
  }
  if (typeof thrown === "object" && thrown !== null && typeof (thrown as RemoteErrorInfo).message === "string") {
    const info = thrown as RemoteErrorInfo;
    return { name: String(info.name ?? "Error"), message: info.message, stack: info.stack, ...(info.code !== undefined ? { code: info.code } : {}) };
  }
  return { name: "Error", message: String(thrown), stack: undefined };
}
