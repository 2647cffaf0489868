import { SerializationError, ValidationError } from "../errors.js";
import { FunctionStep } from "../dsl/function-step.js";
import { replacePipelineValues } from "../dsl/pipeline-value.js";
import type { PipelineGraph } from "../graph/compile.js";
import { serialize } from "../serialization/codec.js";

/**
 * Every function step's arguments must cross into its container, so each step's are serialized
 * once before anything is recorded, by the same codec that carries them when the step runs. Pipeline
 * values stand in as null: their values come out of a container or are parameters, and cross.
 */
export function checkArgumentsCross(graph: PipelineGraph): void {
  for (const s of graph.steps) {
    if (!(s instanceof FunctionStep)) continue;
    try {
      serialize(
        replacePipelineValues(s.args, () => null),
        "arguments",
      );
    } catch (error) {
      if (!(error instanceof SerializationError)) throw error;
      throw new ValidationError(`step "${s.name}" cannot send its arguments to its container: ${error.detail}`, {
        code: "SERIALIZATION",
        cause: error,
        ...(error.hint ? { hint: error.hint } : {}),
      });
    }
  }
}
