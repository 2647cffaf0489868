import { ValidationError } from "../errors.js";
import { type ExpressionScope, evaluate, stepsReadBy } from "../definition/expressions.js";
import type { LocalStepSettings } from "../definition/local-step-settings.js";
import type { DefinedTrainingStep, DefinitionGraph, Json } from "../definition/model.js";
import { parseIsoDuration } from "./iso-duration.js";
import { resolveInputChannels, type ChannelSource } from "./input-channels.js";
import { retryPolicies, type StepRetryPolicies } from "./retry-policies.js";
import { stepResources, type StepResources } from "./step-resources.js";
import { inputChannelUris } from "./training-job.js";

/** A Training step's checked settings, ready for its containers. */
export interface PreparedStep {
  readonly resources: StepResources;
  /** The input channels, checked; undefined when they name another step's output, and are known only at the run. */
  readonly channels: readonly ChannelSource[] | undefined;
  readonly retryPolicies: StepRetryPolicies;
}

/**
 * Checks every Training step of a definition before anything is recorded or run: that the local
 * engine can run it, its instance type and local override, its retry and cache settings, and its
 * input channels (that their data is there), evaluated with the execution's parameters.
 */
export async function prepareSteps(
  graph: DefinitionGraph,
  scope: ExpressionScope,
  local: ReadonlyMap<string, LocalStepSettings>,
  isRunnable: (step: DefinedTrainingStep) => string | undefined,
): Promise<Map<string, PreparedStep>> {
  const prepared = new Map<string, PreparedStep>();
  for (const s of graph.steps) {
    if (s.type !== "Training") continue;
    const refusal = isRunnable(s);
    if (refusal) throw new ValidationError(`step "${s.name}": ${refusal}`, { code: "INVALID_DEFINITION", hint: "see README: what the local engine runs" });
    if (s.cacheConfig?.ExpireAfter !== undefined) parseIsoDuration(s.cacheConfig.ExpireAfter, `step "${s.name}": CacheConfig.ExpireAfter`);
    const settings = local.get(s.name);
    const resourceConfig = await known(s, "ResourceConfig", scope);
    const instanceType = (resourceConfig as { InstanceType?: unknown } | undefined)?.InstanceType;
    if (typeof instanceType !== "string") {
      throw new ValidationError(`step "${s.name}": Arguments.ResourceConfig.InstanceType must be a string, got ${JSON.stringify(instanceType)}`, {
        code: "INVALID_DEFINITION",
        hint: 'for example "ml.m5.large"',
      });
    }
    const channels = s.arguments.InputDataConfig === undefined ? [] : await known(s, "InputDataConfig", scope);
    prepared.set(s.name, {
      resources: stepResources({ name: s.name, instanceType, ...(settings?.local ? { local: settings.local } : {}) }),
      channels: channels === undefined ? undefined : await resolveInputChannels(s.name, inputChannelUris(s.name, channels)),
      retryPolicies: retryPolicies(s, settings?.errorRetryPolicies),
    });
  }
  return prepared;
}

/** An argument of the step evaluated now, or undefined when it reads another step's output, known only at the run. */
async function known(step: DefinedTrainingStep, key: string, scope: ExpressionScope): Promise<unknown> {
  const value = step.arguments[key] as Json;
  if (stepsReadBy(value).length > 0) return undefined;
  return evaluate(value, scope);
}
