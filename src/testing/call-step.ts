import { inspect } from "node:util";
import { ValidationError } from "../errors.js";
import type { DelayedReturn } from "../dsl/delayed-return.js";
import type { StepDefinition } from "../dsl/function-step.js";
import { forEachPipelineValue } from "../dsl/pipeline-value.js";
import { deserialize, serialize, toRemoteErrorInfo } from "../serialization/codec.js";

/** What `step(fn)` returns, seen from its call signature: arguments in, a DelayedReturn of the result out. */
type CallableStep<R> = ((...args: never[]) => DelayedReturn<R>) & { readonly definition: StepDefinition };

/**
 * Calls a step's function in this process, with the values crossing the codec as they cross a
 * step's container: the arguments are serialized and deserialized before the call, the result (or
 * the thrown error) after it. So a step that returns a function fails here as it fails in its
 * container (a `SerializationError` naming `result.<path>`), a Map or a Date arrives as a Map or a
 * Date, and a class instance arrives as a plain object.
 *
 * No container, store or Docker engine: for fast unit tests of step code. The function runs with
 * this process's environment and file system, not /opt/ml.
 *
 * @example
 * const model = await callStep(train, [[0, 1], [1, 0]], { epochs: 2 });
 * expect(model.weights).toHaveLength(2);
 */
export async function callStep<A extends unknown[], R>(stepFunction: CallableStep<R> & ((...args: A) => DelayedReturn<R>), ...args: A): Promise<R> {
  const definition = (stepFunction as Partial<CallableStep<R>> | undefined)?.definition;
  if (typeof definition?.fn !== "function") {
    throw new ValidationError(`callStep() takes what step() returned, got ${inspect(stepFunction, { depth: 0 })}`, {
      hint: "export the step from its module (export const train = step(...)) and pass it: callStep(train, ...args)",
    });
  }
  forEachPipelineValue(args, () => {
    throw new ValidationError(
      `callStep(${definition.baseName}): an argument is a pipeline value (a step's output or a parameter), which only a pipeline run can resolve`,
      {
        hint: "pass the plain value it stands for, or run the pipeline with runPipeline()",
      },
    );
  });
  const received = deserialize(serialize(args, "args")) as unknown[];
  let result: unknown;
  try {
    result = await (definition.fn as (...a: unknown[]) => unknown)(...received);
  } catch (error) {
    // The runner stores a thrown error through the codec too: the caller sees what crosses, not the original object.
    throw deserialize(serializeThrown(error));
  }
  return deserialize(serialize(result, "result")) as R;
}

/** As the runner does: an error that cannot cross whole crosses as its name, message, stack and code. */
function serializeThrown(error: unknown): Buffer {
  try {
    return serialize(error, "error");
  } catch {
    return serialize(toRemoteErrorInfo(error), "error");
  }
}
