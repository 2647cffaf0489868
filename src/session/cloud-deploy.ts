import type { EmittedDefinition } from "../definition/emit-definition.js";
import { uploadLocalChannel } from "../cloud/channel-upload.js";
import { isLocalChannel, type PipelineSession, uploadedChannelKey } from "../cloud/pipeline-session.js";
import { createPipeline, upsertPipeline } from "../cloud/pipelines.js";
import { signJobPayload } from "../serialization/asymmetric-signing.js";
import { storeFunctionPayloads } from "./function-payloads.js";

/**
 * Puts a pipeline in SageMaker: first everything its definition references under the session's
 * s3Root (each function and argument payload, signed with the pipeline's key; each `file://` input
 * channel's files), then CreatePipeline (or UpdatePipeline).
 * An upload that fails stops it before SageMaker hears of the pipeline: nothing half-created is left.
 */
export async function deployToCloud(
  session: PipelineSession,
  pipelineName: string,
  emitted: EmittedDefinition,
  options: { readonly mode: "create" | "upsert"; readonly parallelism: number | undefined },
): Promise<{ PipelineArn: string }> {
  const key = session.jobSigningKey(pipelineName);
  const channels = emitted.functionSteps.flatMap(({ step }) =>
    Object.entries(step.options.inputs ?? {})
      .filter(([, uri]) => isLocalChannel(uri))
      .map(([channel, uri]) => ({ step: step.name, channel, uri })),
  );
  await Promise.all([
    storeFunctionPayloads(emitted, pipelineName, { store: session.store, bundler: session.bundler, seal: (payload) => signJobPayload(payload, key) }),
    ...channels.map((c) =>
      uploadLocalChannel(session.store, c.uri, uploadedChannelKey(pipelineName, c.step, c.channel), `step "${c.step}", input channel "${c.channel}"`),
    ),
  ]);
  const request = { name: pipelineName, definition: emitted.json, parallelism: options.parallelism };
  return options.mode === "create" ? createPipeline(session, request) : upsertPipeline(session, request);
}
