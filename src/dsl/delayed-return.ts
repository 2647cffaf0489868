import { inspect } from "node:util";
import { ValidationError } from "../errors.js";
import { PIPELINE_VALUE, type PipelineValue } from "./pipeline-value.js";
import type { FunctionStep } from "./function-step.js";

export type PathKey = string | number;

function notAvailable(what: string): never {
  throw new ValidationError(`a DelayedReturn has no ${what}: the step's output is only known when the pipeline runs`, {
    hint: "pass it as an argument to another step, or select part of it with .get(key)",
  });
}

/**
 * Names that runtimes and test libraries read from any object they are handed, to learn whether it
 * is theirs: a DelayedReturn answers them `undefined` rather than throwing. `then`: Promise
 * resolution (`await r`); `size`: expect's iterable equality; `asymmetricMatch`, `$$typeof` and
 * `nodeType`: expect's matchers and pretty-format's plugins.
 */
const PROBED = new Set(["then", "size", "asymmetricMatch", "$$typeof", "nodeType"]);

const ARRAY_INDEX = /^(?:0|[1-9]\d*)$/;

/** The path of a DelayedReturn that stands for the whole output: one shared empty list, not one per step call. */
const WHOLE_OUTPUT: readonly PathKey[] = Object.freeze([]);

/**
 * Plain JavaScript lets `const { loss } = train()` through: it reads `undefined` and quietly drops
 * the step from the pipeline. Reading a property a DelayedReturn does not have throws instead, and
 * says which `.get()` was meant.
 */
const REFUSE_UNKNOWN_PROPERTIES: ProxyHandler<DelayedReturn> = {
  get(target, key, receiver) {
    if (typeof key === "symbol" || key in target) return Reflect.get(target, key, receiver) as unknown;
    if (PROBED.has(key)) return undefined;
    const selector = ARRAY_INDEX.test(key) ? key : JSON.stringify(key);
    throw new ValidationError(`${target.describe()} is a DelayedReturn and has no property "${key}": the step's output is only known when the pipeline runs`, {
      hint: `select it with .get(${selector}) (destructuring such as const { ${key} } = ... cannot work on a step's output)`,
    });
  },
};

/**
 * The output of a step call, known only when the pipeline runs. Passing it (or part of it, via
 * `.get()`) into another step's arguments makes that step depend on this one.
 */
export class DelayedReturn<T = unknown> implements PipelineValue<T> {
  declare readonly [PIPELINE_VALUE]: { readonly type?: T; readonly kind: "DelayedReturn" };
  /** The step that produces the value. */
  readonly step: FunctionStep;
  /** The keys selected inside the step's output, outermost first. */
  readonly path: readonly PathKey[];

  constructor(step: FunctionStep, path: readonly PathKey[] = WHOLE_OUTPUT) {
    this.step = step;
    this.path = path;
    Object.freeze(this);
    // A constructor that returns an object makes `new` return it: every DelayedReturn is guarded.
    // biome-ignore lint/correctness/noConstructorReturn: returning the guarding Proxy is the point
    return new Proxy(this, REFUSE_UNKNOWN_PROPERTIES as ProxyHandler<this>);
  }

  /** Selects a key or index inside the output: `r.get("metrics").get("acc")`. */
  get<K extends keyof T & PathKey>(key: K): DelayedReturn<T[K]>;
  // A key the output's type does not know gives an untyped output, usable as any argument.
  // biome-ignore lint/suspicious/noExplicitAny: untyped on purpose, as the comment above says
  get(key: PathKey): DelayedReturn<any>;
  get(key: PathKey): DelayedReturn<unknown> {
    if (typeof key !== "string" && !(typeof key === "number" && Number.isInteger(key))) {
      throw new ValidationError(`DelayedReturn.get() takes a string or an integer, got ${inspect(key)}`, {
        hint: 'for example r.get("metrics") or r.get(0)',
      });
    }
    return new DelayedReturn(this.step, [...this.path, key]);
  }

  /**
   * How the value is written in messages and, once its pipeline has named the step, in the
   * definition: `train.metrics.acc`.
   */
  describe(): string {
    return this.step.name + this.path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("");
  }

  [Symbol.iterator](): never {
    return notAvailable("items to destructure (use r.get(0), r.get(1) instead of [a, b] = r)");
  }

  toString(): never {
    return notAvailable("string value");
  }

  valueOf(): never {
    return notAvailable("primitive value");
  }

  toJSON(): never {
    return notAvailable("JSON value");
  }

  [inspect.custom](): string {
    return `DelayedReturn(${this.describe()})`;
  }
}

// The marker lives on the prototype, once: a pipeline may make millions of DelayedReturns, and a
// property defined on each instance cost more than the rest of its construction.
Object.defineProperty(DelayedReturn.prototype, PIPELINE_VALUE, { value: Object.freeze({ kind: "DelayedReturn" }), enumerable: false });

export function isDelayedReturn(value: unknown): value is DelayedReturn {
  return value instanceof DelayedReturn;
}
