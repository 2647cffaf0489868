/**
 * How step arguments and results cross the container boundary: V8's structured serializer (the one
 * behind `structuredClone` and worker messages), wrapped so that errors keep their class and `code`,
 * a value that cannot cross is refused with the path where it sits, and Buffers and typed arrays come
 * back owning their memory.
 *
 * What crosses as it is: primitives (undefined, NaN, -0 and bigint included), Date (invalid ones too),
 * RegExp, boxed primitives, Map, Set, ArrayBuffer, Buffer, every typed array, DataView, arrays (holes
 * and named properties kept) and objects. Shared references and cycles stay shared. Symbol-keyed
 * properties are left behind.
 *
 * Class instances arrive as plain objects of their own enumerable properties, as V8 copies them: the
 * prototype, its methods and getters, and private fields stay behind.
 *
 * Errors, wherever they sit (in `cause` chains and `AggregateError.errors` too), arrive with their
 * name, message, stack, cause, `code` and other own enumerable properties, as an instance of the
 * builtin class nearest in their prototype chain: a `class NotFound extends RangeError` comes back a
 * RangeError whose `name` is "NotFound". V8 alone keeps only builtin names and drops `code`.
 *
 * Pipeline values (a step's output, a parameter, an execution variable, a Join), which are found by
 * the symbol src/dsl/pipeline-value.ts registers, cross only when `serialize` is given a `reference`
 * callback: each is then written as the reference record the callback returns (see
 * pipeline-references.ts), recognised on the way back by identity, like errors, and `deserialize`
 * needs a `resolve` that gives each record its value.
 *
 * Refused, with a SerializationError whose `path` says where: functions, symbols, pipeline values
 * (without a `reference` callback), Promises, Proxies,
 * WeakMap, WeakSet, WeakRef, FinalizationRegistry, generators, module namespaces, SharedArrayBuffer
 * and native host objects (KeyObject, Blob, MessagePort...). Paths read like JS from the root name
 * (`args`, `result`, `value`):
 * - `.name` for a property whose key is an identifier, `["a key"]` for any other key;
 * - `[2]` for an array element;
 * - `<Map key K>` for a Map's key and `<Map value K>` for the value under it, K being the key as a
 *   literal (`"k"`, `3`, `2n`, `true`, `null`) or, for an object key, its entry's position (`#0`);
 * - `<Set item #i>` for a Set's i-th item;
 * - `.cause` and `.errors[i]` inside errors.
 * For example `args[0].model.fit` or `result.scores<Map value "test">`.
 *
 * Node builtins only: this module is bundled into the runner inside every step container.
 */
import { DefaultDeserializer, DefaultSerializer } from "node:v8";
import { inspect, types } from "node:util";
import { SerializationError, type RemoteErrorInfo } from "../errors.js";
import { type PipelineReference, referenceRecord, unresolvedReferencesError } from "./pipeline-references.js";

const PIPELINE_VALUE = Symbol.for("stepbox.PipelineValue");

const BUILTIN_ERRORS = new Map<string, ErrorConstructor>([
  ["Error", Error],
  ["TypeError", TypeError],
  ["RangeError", RangeError],
  ["SyntaxError", SyntaxError],
  ["ReferenceError", ReferenceError],
  ["EvalError", EvalError],
  ["URIError", URIError],
]);

const BUILTIN_ERROR_BY_PROTOTYPE = new Map<object, string>([
  ...[...BUILTIN_ERRORS].map(([name, ctor]): [object, string] => [ctor.prototype, name]),
  [AggregateError.prototype, "AggregateError"],
]);

/** An error as plain data. Recognised on the way back by identity (see Envelope), never by its shape. */
interface ErrorRecord {
  /** The builtin class to rebuild it as. */
  base: string;
  name: string;
  message: string;
  stack: string | undefined;
  /** Present only when the error had a cause, which may be `undefined` itself. */
  cause?: unknown;
  errors?: unknown[];
  props: Record<string, unknown>;
}

/**
 * What goes through V8. `errors` lists every ErrorRecord inside `value`: V8 keeps identity, so a
 * user's object that happens to look like a record is never mistaken for one.
 */
interface Envelope {
  value: unknown;
  errors?: ErrorRecord[];
  /** Every reference record inside `value`, each once (see pipeline-references.ts). */
  references?: PipelineReference[];
}

export interface SerializeOptions {
  /**
   * Called once for each pipeline value found (the same value met twice gives one shared record):
   * the record to write in its place. Without it, a pipeline value is refused.
   */
  reference?: (pipelineValue: object) => PipelineReference;
}

export interface DeserializeOptions {
  /** The value of each reference record in the payload. Without it, a payload that holds one is refused. */
  resolve?: (reference: PipelineReference) => unknown;
}

/** Node's host-object hooks (they carry Buffers and typed arrays), which @types/node does not declare. */
interface HostObjectHooks {
  _writeHostObject(this: DefaultSerializer, object: object): void;
  _readHostObject(this: DefaultDeserializer): ArrayBufferView;
}
const nodeWriteHostObject = (DefaultSerializer.prototype as unknown as HostObjectHooks)._writeHostObject;
const nodeReadHostObject = (DefaultDeserializer.prototype as unknown as HostObjectHooks)._readHostObject;

/** Node's serializer, remembering the native object it could not clone so that its path can be found. */
class RecordingSerializer extends DefaultSerializer {
  refusedHostObject: object | undefined;

  _writeHostObject(object: object): void {
    if (!ArrayBuffer.isView(object)) this.refusedHostObject = object;
    nodeWriteHostObject.call(this, object);
  }
}

/** Node's deserializer hands out views into the input bytes: each one gets its own copy instead. */
class OwningDeserializer extends DefaultDeserializer {
  _readHostObject(): ArrayBufferView {
    return ownCopy(nodeReadHostObject.call(this));
  }
}

function ownCopy(view: ArrayBufferView): ArrayBufferView {
  if (Buffer.isBuffer(view)) {
    // allocUnsafeSlow: not a slice of Node's shared pool, so `.buffer` holds exactly these bytes.
    const copy = Buffer.allocUnsafeSlow(view.byteLength);
    view.copy(copy);
    return copy;
  }
  if (view instanceof DataView) return new DataView(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
  return (view as unknown as { slice(): ArrayBufferView }).slice();
}

function isError(value: object): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/** Objects V8 copies whole, with nothing inside that could need encoding. */
function isOpaque(value: object): boolean {
  return ArrayBuffer.isView(value) || types.isDate(value) || types.isRegExp(value) || types.isArrayBuffer(value) || types.isBoxedPrimitive(value);
}

/** What V8 refuses to clone, in words for a SerializationError; undefined when it can cross. */
function refusal(value: unknown): string | undefined {
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value !== "object" || value === null) return undefined;
  // A step's output or a parameter (a Proxy itself, in the case of a step's output) left where the
  // engine does not resolve pipeline values; src/dsl/pipeline-value.ts registers the symbol.
  if (PIPELINE_VALUE in value)
    return "a pipeline value (a step's output, a parameter) inside a Map, Set or class instance, where it is not resolved: put it in an array or a plain object";
  // First: a Proxy answers the other checks for its target.
  if (types.isProxy(value)) return "a Proxy";
  if (types.isPromise(value)) return "a Promise (await it first)";
  if (types.isWeakMap(value)) return "a WeakMap";
  if (types.isWeakSet(value)) return "a WeakSet";
  if (value instanceof WeakRef) return "a WeakRef";
  if (value instanceof FinalizationRegistry) return "a FinalizationRegistry";
  if (types.isGeneratorObject(value)) return "a generator";
  if (types.isSharedArrayBuffer(value)) return "a SharedArrayBuffer";
  if (types.isModuleNamespaceObject(value)) return "a module namespace object";
  return undefined;
}

function isPrimitive(value: unknown): boolean {
  return value === null || (typeof value !== "object" && typeof value !== "function" && typeof value !== "symbol");
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const ARRAY_INDEX = /^(?:0|[1-9]\d*)$/;

function propertyPath(path: string, key: string, inArray: boolean): string {
  if (inArray && ARRAY_INDEX.test(key)) return `${path}[${key}]`;
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function mapKeyLabel(key: unknown, position: number): string {
  if (typeof key === "string") return JSON.stringify(key);
  if (typeof key === "bigint") return `${key}n`;
  if (typeof key === "number" || typeof key === "boolean" || key === null || key === undefined) return String(key);
  return `#${position}`;
}

/** Defines rather than assigns, so that an own `__proto__` key stays a key instead of replacing the prototype. */
function setOwn(target: object, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else (target as Record<string, unknown>)[key] = value;
}

function setHidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
}

/**
 * Whether anything inside is an error (to encode) or refused (to report with its path). It runs on
 * every serialize, so it is built for speed:
 * - arrays are read by index only, as Object.keys on a big array costs more than V8's whole copy; an
 *   error in a named property of an array therefore crosses as V8 clones it, without `code`;
 * - an object joins `seen` only once it turns out to hold objects: a cycle has to pass through such
 *   an object, and giving every leaf an identity hash would double the time of this scan.
 */
function needsEncoding(value: unknown, seen: Set<object>): boolean {
  if (typeof value !== "object" || value === null) return typeof value === "function" || typeof value === "symbol";
  if (seen.has(value)) return false;
  if (types.isProxy(value)) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (childNeedsEncoding(value, value[i], seen)) return true;
    return false;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    if (isOpaque(value)) return false;
    if (types.isMap(value)) {
      for (const [k, v] of value) if (childNeedsEncoding(value, k, seen) || childNeedsEncoding(value, v, seen)) return true;
      return false;
    }
    if (types.isSet(value)) {
      for (const item of value) if (childNeedsEncoding(value, item, seen)) return true;
      return false;
    }
    if (isError(value) || refusal(value) !== undefined) return true;
  }
  for (const key of Object.keys(value)) {
    if (childNeedsEncoding(value, (value as Record<string, unknown>)[key], seen)) return true;
  }
  return false;
}

function childNeedsEncoding(parent: object, child: unknown, seen: Set<object>): boolean {
  if (typeof child === "object" && child !== null) seen.add(parent);
  return needsEncoding(child, seen);
}

interface EncodeState {
  /** Original object → its encoded copy, so shared references and cycles stay shared. */
  copies: Map<object, unknown>;
  records: ErrorRecord[];
  references: PipelineReference[];
  reference: SerializeOptions["reference"];
}

/** The value with every error replaced by an ErrorRecord, copying only the objects that can hold one. */
function encode(value: unknown, path: string, state: EncodeState): unknown {
  if (state.reference !== undefined && typeof value === "object" && value !== null && PIPELINE_VALUE in value) return encodeReference(value, path, state);
  const refused = refusal(value);
  if (refused !== undefined) throw new SerializationError(path, refused);
  if (typeof value !== "object" || value === null || isOpaque(value)) return value;
  if (state.copies.has(value)) return state.copies.get(value);
  if (isError(value)) return encodeError(value, path, state);

  if (types.isMap(value)) {
    const copy = new Map<unknown, unknown>();
    state.copies.set(value, copy);
    let position = 0;
    for (const [k, v] of value) {
      const label = mapKeyLabel(k, position++);
      copy.set(encode(k, `${path}<Map key ${label}>`, state), encode(v, `${path}<Map value ${label}>`, state));
    }
    return copy;
  }
  if (types.isSet(value)) {
    const copy = new Set<unknown>();
    state.copies.set(value, copy);
    let position = 0;
    for (const item of value) copy.add(encode(item, `${path}<Set item #${position++}>`, state));
    return copy;
  }

  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  // Nothing inside can be an error. Kept as is, a native object (a KeyObject, a Blob) still reaches V8,
  // which refuses it as it would without an error elsewhere in the value; a copy would turn it into {}.
  if (keys.every((key) => isPrimitive(source[key]))) return value;
  const inArray = Array.isArray(value);
  const copy: object = inArray ? new Array<unknown>(value.length) : {};
  state.copies.set(value, copy);
  for (const key of keys) setOwn(copy, key, encode(source[key], propertyPath(path, key, inArray), state));
  return copy;
}

function encodeReference(value: object, path: string, state: EncodeState): PipelineReference {
  const known = state.copies.get(value);
  if (known !== undefined) return known as PipelineReference;
  let given: unknown;
  try {
    given = state.reference!(value);
  } catch (error) {
    // The callback refuses a value without knowing where it sits: the path is the codec's to give.
    if (error instanceof SerializationError)
      throw new SerializationError(path, error.what, { cause: error.cause, ...(error.hint ? { hint: error.hint } : {}) });
    throw new SerializationError(path, `a pipeline value that could not be referenced (${error instanceof Error ? error.message : String(error)})`, {
      cause: error,
    });
  }
  const record = referenceRecord(given, path);
  state.copies.set(value, record);
  state.references.push(record);
  return record;
}

function encodeError(error: Error, path: string, state: EncodeState): ErrorRecord {
  const record: ErrorRecord = {
    base: builtinBase(error),
    name: String(error.name),
    message: String(error.message),
    stack: typeof error.stack === "string" ? error.stack : undefined,
    props: {},
  };
  state.copies.set(error, record);
  state.records.push(record);
  if ("cause" in error) record.cause = encode(error.cause, `${path}.cause`, state);
  const isAggregate = record.base === "AggregateError" && Array.isArray((error as AggregateError).errors);
  if (isAggregate) {
    record.errors = (error as AggregateError).errors.map((item: unknown, i: number) => encode(item, `${path}.errors[${i}]`, state));
  }
  const source = error as unknown as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    if (key === "cause" || (isAggregate && key === "errors")) continue;
    setOwn(record.props, key, encode(source[key], propertyPath(path, key, false), state));
  }
  // `code` may live on the prototype or be non-enumerable (DOMException): callers branch on it, so it always crosses.
  if (!Object.hasOwn(record.props, "code") && source.code !== undefined) {
    record.props.code = encode(source.code, `${path}.code`, state);
  }
  return record;
}

function builtinBase(error: Error): string {
  for (let proto: object | null = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const name = BUILTIN_ERROR_BY_PROTOTYPE.get(proto);
    if (name !== undefined) return name;
  }
  return "Error";
}

interface Refusal {
  path: string;
  what: string;
}

/** Called once V8 refused the value: the first part of it that V8 cannot clone, and where it sits. */
function findRefused(value: unknown, path: string, hostObject: object | undefined, seen: Set<object>): Refusal | undefined {
  const what = value !== undefined && value === hostObject ? describeHostObject(value) : refusal(value);
  if (what !== undefined) return { path, what };
  if (typeof value !== "object" || value === null || seen.has(value) || isOpaque(value)) return undefined;
  seen.add(value);
  for (const [child, childPath] of childrenOf(value, path)) {
    const found = findRefused(child, childPath, hostObject, seen);
    if (found) return found;
  }
  return undefined;
}

function* childrenOf(value: object, path: string): Generator<[unknown, string]> {
  if (types.isMap(value)) {
    let position = 0;
    for (const [k, v] of value) {
      const label = mapKeyLabel(k, position++);
      yield [k, `${path}<Map key ${label}>`];
      yield [v, `${path}<Map value ${label}>`];
    }
    return;
  }
  if (types.isSet(value)) {
    let position = 0;
    for (const item of value) yield [item, `${path}<Set item #${position++}>`];
    return;
  }
  if (isError(value)) {
    if ("cause" in value) yield [value.cause, `${path}.cause`];
    if (value instanceof AggregateError) yield* value.errors.map((item: unknown, i: number): [unknown, string] => [item, `${path}.errors[${i}]`]);
  }
  const inArray = Array.isArray(value);
  for (const key of Object.keys(value)) yield [(value as Record<string, unknown>)[key], propertyPath(path, key, inArray)];
}

function describeHostObject(value: object): string {
  const ctor: unknown = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
  return typeof ctor === "function" && ctor.name ? `an instance of ${ctor.name}` : "a native object";
}

function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

function explainRefusal(value: unknown, rootPath: string, hostObject: object | undefined, cause: unknown): SerializationError {
  if (isStackOverflow(cause)) {
    return new SerializationError(rootPath, "a value nested too deeply (V8 clones a few thousand levels at most)", { cause });
  }
  const found = findRefused(value, rootPath, hostObject, new Set());
  if (found) return new SerializationError(found.path, found.what, { cause });
  return new SerializationError(rootPath, "a value V8 cannot clone", { cause });
}

/**
 * Serializes a value for the other side of the container boundary. `rootPath` names the value in a
 * SerializationError's path.
 */
export function serialize(value: unknown, rootPath = "value", options: SerializeOptions = {}): Buffer {
  const serializer = new RecordingSerializer();
  try {
    let envelope: Envelope = { value };
    if (needsEncoding(value, new Set())) {
      const state: EncodeState = { copies: new Map(), records: [], references: [], reference: options.reference };
      envelope = { value: encode(value, rootPath, state), errors: state.records };
      if (state.references.length > 0) envelope.references = state.references;
    }
    serializer.writeHeader();
    serializer.writeValue(envelope);
    return serializer.releaseBuffer();
  } catch (error) {
    if (error instanceof SerializationError) throw error;
    throw explainRefusal(value, rootPath, serializer.refusedHostObject, error);
  }
}

function readEnvelope(bytes: Buffer): Envelope {
  const deserializer = new OwningDeserializer(bytes);
  deserializer.readHeader();
  return deserializer.readValue() as Envelope;
}

/** Reverses `serialize`; each reference record is replaced by `resolve(record)`. */
export function deserialize(bytes: Buffer, options: DeserializeOptions = {}): unknown {
  const envelope = readEnvelope(bytes);
  const references = envelope.references ?? [];
  if (references.length > 0 && options.resolve === undefined) throw unresolvedReferencesError(references);
  if ((envelope.errors === undefined || envelope.errors.length === 0) && references.length === 0) return envelope.value;
  return decode(envelope.value, { records: new Set(envelope.errors ?? []), references: new Set(references), resolve: options.resolve, done: new Map() });
}

/** The reference records a payload holds, each once, read without resolving anything. */
export function payloadReferences(bytes: Buffer): PipelineReference[] {
  return (readEnvelope(bytes).references ?? []).map((record) => referenceRecord(record, "payload"));
}

interface DecodeState {
  records: Set<object>;
  references: Set<object>;
  resolve: DeserializeOptions["resolve"];
  /** Deserialized object → what it decodes to: the same object with its errors rebuilt, or an Error for a record. */
  done: Map<object, unknown>;
}

/** Rebuilds the errors, in place: the deserialized value is ours alone. */
function decode(value: unknown, state: DecodeState): unknown {
  if (typeof value !== "object" || value === null || isOpaque(value)) return value;
  if (state.done.has(value)) return state.done.get(value);
  if (state.records.has(value)) return decodeError(value as ErrorRecord, state);
  if (state.references.has(value)) {
    // The resolved value is the caller's, not part of the payload: it is not decoded further.
    const resolved = state.resolve!(value as PipelineReference);
    state.done.set(value, resolved);
    return resolved;
  }
  state.done.set(value, value);

  if (value instanceof Map) {
    const entries = [...value];
    const decoded = entries.map(([k, v]) => [decode(k, state), decode(v, state)] as const);
    if (decoded.some(([k, v], i) => k !== entries[i]?.[0] || v !== entries[i]?.[1])) {
      value.clear();
      for (const [k, v] of decoded) value.set(k, v);
    }
  } else if (value instanceof Set) {
    const items = [...value];
    const decoded = items.map((item) => decode(item, state));
    if (decoded.some((item, i) => item !== items[i])) {
      value.clear();
      for (const item of decoded) value.add(item);
    }
  } else {
    const target = value as Record<string, unknown>;
    for (const key of Object.keys(target)) {
      const item = target[key];
      const decoded = decode(item, state);
      if (decoded !== item) setOwn(target, key, decoded);
    }
  }
  return value;
}

function decodeError(record: ErrorRecord, state: DecodeState): Error {
  const error = record.base === "AggregateError" ? new AggregateError([], record.message) : new (BUILTIN_ERRORS.get(record.base) ?? Error)(record.message);
  state.done.set(record, error);
  if (error.name !== record.name && !Object.hasOwn(record.props, "name")) setHidden(error, "name", record.name);
  setHidden(error, "stack", record.stack);
  if (Object.hasOwn(record, "cause")) setHidden(error, "cause", decode(record.cause, state));
  if (record.errors !== undefined)
    setHidden(
      error,
      "errors",
      record.errors.map((item) => decode(item, state)),
    );
  for (const key of Object.keys(record.props)) {
    Object.defineProperty(error, key, { value: decode(record.props[key], state), writable: true, enumerable: true, configurable: true });
  }
  return error;
}

/** Anything thrown (an Error or not) as the name, message, stack and code that cross the boundary. */
export function toRemoteErrorInfo(thrown: unknown): RemoteErrorInfo {
  if (typeof thrown === "object" && thrown !== null && (isError(thrown) || typeof (thrown as { message?: unknown }).message === "string")) {
    const error = thrown as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown };
    const info: RemoteErrorInfo = {
      name: typeof error.name === "string" && error.name !== "" ? error.name : "Error",
      message: String(error.message),
      stack: typeof error.stack === "string" ? error.stack : undefined,
    };
    if (typeof error.code === "string" || typeof error.code === "number") info.code = error.code;
    return info;
  }
  return {
    name: "Error",
    message: typeof thrown === "string" ? thrown : `a non-error value was thrown: ${inspect(thrown, { depth: 2, breakLength: Infinity })}`,
    stack: undefined,
  };
}
