/**
 * A pipeline value is a placeholder for something only known when the pipeline runs: a step's
 * output (`DelayedReturn`), and in time parameters and execution variables. Step arguments may hold
 * them anywhere inside arrays and plain objects; the engine replaces them with real values.
 */
export const PIPELINE_VALUE: unique symbol = Symbol.for("stepbox.PipelineValue");

export interface PipelineValue<T = unknown> {
  /** Carries the value's type for inference only; never read at run time. */
  readonly [PIPELINE_VALUE]: { readonly type?: T; readonly kind: string };
}

/** A pipeline value made of other values (a Join) lists them under this key, so their dependencies are found. */
export const PIPELINE_CHILDREN: unique symbol = Symbol.for("stepbox.PipelineValue.children");

export function isPipelineValue(value: unknown): value is PipelineValue {
  return typeof value === "object" && value !== null && PIPELINE_VALUE in value;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Calls `visit` for every pipeline value inside `value` (top level, arrays and plain objects). */
export function forEachPipelineValue(value: unknown, visit: (found: PipelineValue) => void, seen?: Set<object>): void {
  if (typeof value !== "object" || value === null) return;
  if (isPipelineValue(value)) {
    visit(value);
    const children = (value as { [PIPELINE_CHILDREN]?: readonly unknown[] })[PIPELINE_CHILDREN];
    if (children) forEachPipelineValue(children, visit, seen);
    return;
  }
  // The set that guards against cycles is made only once there is a container inside a container:
  // most step calls pass a flat list of arguments, and a pipeline of a million calls walks them all.
  if (seen === undefined) {
    if (Array.isArray(value) && value.every((item) => typeof item !== "object" || item === null || isPipelineValue(item))) {
      for (const item of value) forEachPipelineValue(item, visit);
      return;
    }
    seen = new Set<object>();
  }
  if (seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const item of value) forEachPipelineValue(item, visit, seen);
  } else if (isPlainObject(value)) {
    for (const item of Object.values(value)) forEachPipelineValue(item, visit, seen);
  }
}

/**
 * Returns `value` with every pipeline value (top level, arrays and plain objects) replaced by
 * `replace(found)`. Arrays and plain objects that hold none are returned as they are, so large
 * literal arguments are not copied. A Join's own values are `replace`'s to handle.
 */
export function replacePipelineValues(value: unknown, replace: (found: PipelineValue) => unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (isPipelineValue(value)) return replace(value);
  if (!containsPipelineValue(value)) return value;
  if (Array.isArray(value)) return value.map((item) => replacePipelineValues(item, replace));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replacePipelineValues(item, replace)]));
}

function containsPipelineValue(value: unknown): boolean {
  let found = false;
  forEachPipelineValue(value, () => {
    found = true;
  });
  return found;
}
