import { FunctionStep, type PipelineStep, type StepDefinition } from "../dsl/function-step.js";

/**
 * The name each step has in one pipeline. A condition or fail step has the name it was given. The
 * calls of one step function are named in the order they were made, counting only the calls that
 * are part of this pipeline: `<name>`, `<name>-2`, `<name>-3`... So the names follow from the
 * pipeline alone: building it again, or building other pipelines before it, changes none of them.
 */
export function nameSteps(steps: readonly PipelineStep[]): Map<PipelineStep, string> {
  const callsByDefinition = new Map<StepDefinition, FunctionStep[]>();
  for (const s of steps) {
    if (!(s instanceof FunctionStep)) continue;
    const calls = callsByDefinition.get(s.definition) ?? [];
    calls.push(s);
    callsByDefinition.set(s.definition, calls);
  }
  const names = new Map<PipelineStep, string>();
  for (const [definition, calls] of callsByDefinition) {
    calls.sort((a, b) => a.callNumber - b.callNumber);
    for (const [i, call] of calls.entries()) names.set(call, i === 0 ? definition.baseName : `${definition.baseName}-${i + 1}`);
  }
  for (const s of steps) if (!names.has(s)) names.set(s, s.name);
  return names;
}
