import type { EmittedDefinition } from "../definition/emit-definition.js";
import type { PipelineSession } from "../cloud/pipeline-session.js";
import { createPipeline, upsertPipeline } from "../cloud/pipelines.js";
import { signJobPayload } from "../serialization/asymmetric-signing.js";
import { storeFunctionPayloads } from "./function-payloads.js";

/**
 * Puts a pipeline in SageMaker: first every function and argument payload its definition references,
 * under the session's s3Root, signed with the pipeline's key, then CreatePipeline (or UpdatePipeline).
 * An upload that fails stops it before SageMaker hears of the pipeline: nothing half-created is left.
 */
export async function deployToCloud(
  session: PipelineSession,
  pipelineName: string,
  emitted: EmittedDefinition,
  options: { readonly mode: "create" | "upsert"; readonly parallelism: number | undefined },
): Promise<{ PipelineArn: string }> {
  const key = session.jobSigningKey(pipelineName);
  await storeFunctionPayloads(emitted, pipelineName, { store: session.store, bundler: session.bundler, seal: (payload) => signJobPayload(payload, key) });
  const request = { name: pipelineName, definition: emitted.json, parallelism: options.parallelism };
  return options.mode === "create" ? createPipeline(session, request) : upsertPipeline(session, request);
}
