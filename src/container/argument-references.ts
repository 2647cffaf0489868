/**
 * A cloud job's arguments, resolved: the arguments payload may hold references to pipeline values
 * where the client had a parameter, an execution variable or an upstream step's result. A job gets
 * their values as the SDK's does: parameters and execution variables from `--property_references`
 * (strings on the command line, converted back by the parameter's type), an upstream result by
 * downloading `<its S3OutputPath>/payload.bin` (checked against its SHA-256) and taking the path
 * into it. `resolveJobArguments` is the one place this happens.
 */
import { deserialize } from "../serialization/codec.js";
import { parseJobMetadata, verifyJobPayloadDigest } from "../serialization/asymmetric-signing.js";
import { JOB_PAYLOAD_FILES } from "./contract.js";
import type { JobStorage } from "./job-s3.js";
import { SetupError } from "./load-step.js";

/** A pipeline value inside an arguments payload, as the codec records it (serialization/pipeline-references.ts). */
export type PipelineReference =
  | { readonly kind: "Value"; readonly expression: string; readonly parameterType?: string }
  | { readonly kind: "StepResult"; readonly step: string; readonly path: readonly (string | number)[] };

/**
 * The codec's part: which references a payload holds, and the payload decoded with each one replaced.
 * `ARGUMENTS_WITHOUT_REFERENCES` serves payloads that hold none.
 */
export interface ReferenceCodec {
  references(bytes: Buffer): readonly PipelineReference[];
  deserialize(bytes: Buffer, resolve: (reference: PipelineReference) => unknown): unknown;
}

/**
 * For payloads with no references: today's codec (`deserialize(bytes)`). Once the codec records
 * references, the runner passes `{ references: payloadReferences, deserialize: (b, resolve) => deserialize(b, { resolve }) }`.
 */
export const ARGUMENTS_WITHOUT_REFERENCES: ReferenceCodec = {
  references: () => [],
  deserialize: (bytes) => deserialize(bytes),
};

/** The property_references key under which an upstream step's S3OutputPath is given. */
export const stepOutputReference = (step: string): string => `Steps.${step}.OutputDataConfig.S3OutputPath`;

/** A Value reference's value: the command line's string, converted back by the parameter's type. */
export function referencedValue(reference: Extract<PipelineReference, { kind: "Value" }>, propertyReferences: ReadonlyMap<string, string>): unknown {
  const text = propertyReferences.get(reference.expression);
  if (text === undefined) {
    const known = [...propertyReferences.keys()].join(", ") || "none";
    throw new SetupError(
      `the arguments use ${reference.expression}, which the job's --property_references do not give (they give: ${known}); the ContainerArguments must come from the same definition build as the arguments`,
    );
  }
  switch (reference.parameterType) {
    case undefined:
    case "String":
      return text;
    case "Integer":
      if (!/^[+-]?\d+$/.test(text.trim()))
        throw new SetupError(`${reference.expression} is an Integer parameter, but the job was given ${JSON.stringify(text)}`);
      return Number(text);
    case "Float": {
      const value = Number(text);
      if (text.trim() === "" || Number.isNaN(value))
        throw new SetupError(`${reference.expression} is a Float parameter, but the job was given ${JSON.stringify(text)}`);
      return value;
    }
    case "Boolean":
      if (/^true$/i.test(text)) return true;
      if (/^false$/i.test(text)) return false;
      throw new SetupError(`${reference.expression} is a Boolean parameter, but the job was given ${JSON.stringify(text)}`);
    default:
      throw new SetupError(
        `${reference.expression} has parameter type ${reference.parameterType}, which stepbox cannot convert (String, Integer, Float, Boolean)`,
      );
  }
}

/** How a path reads in messages: `[1]['k']`, as in a Std:JsonGet Path. */
const pathText = (path: readonly (string | number)[]): string => path.map((p) => (typeof p === "number" ? `[${p}]` : `['${p}']`)).join("");

/** The part of an upstream result a reference names. */
export function atPath(value: unknown, path: readonly (string | number)[], step: string): unknown {
  let current = value;
  for (let i = 0; i < path.length; i++) {
    const part = path[i]!;
    const holder = current as Record<string | number, unknown> | null | undefined;
    const has =
      holder !== null &&
      holder !== undefined &&
      (typeof part === "number" ? Array.isArray(holder) && part >= 0 && part < holder.length : typeof holder === "object" && Object.hasOwn(holder, part));
    if (!has) throw new SetupError(`the result of step ${step} has nothing at Result${pathText(path.slice(0, i + 1))}`);
    current = holder[part];
  }
  return current;
}

/** An upstream step's result, downloaded from its S3OutputPath and checked against its digest. */
async function upstreamResult(step: string, propertyReferences: ReadonlyMap<string, string>, storage: JobStorage, codec: ReferenceCodec): Promise<unknown> {
  const outputPath = propertyReferences.get(stepOutputReference(step));
  if (outputPath === undefined) {
    throw new SetupError(`the arguments use the result of step ${step}, but the job's --property_references do not give ${stepOutputReference(step)}`);
  }
  const folder = outputPath.replace(/\/+$/, "");
  const what = `the result of step ${step}`;
  const [payload, metadataText] = await Promise.all([
    storage.get(`${folder}/${JOB_PAYLOAD_FILES.payload}`),
    storage.get(`${folder}/${JOB_PAYLOAD_FILES.metadata}`).then((b) => b.toString("utf8")),
  ]);
  verifyJobPayloadDigest(payload, parseJobMetadata(metadataText, what), what);
  return codec.deserialize(payload, () => {
    throw new SetupError(`${what} holds a pipeline reference, which a result never should`);
  });
}

/**
 * The step's arguments, each reference replaced by its value. Upstream results are downloaded once
 * each, all at once, before the payload is decoded.
 */
export async function resolveJobArguments(
  bytes: Buffer,
  context: { propertyReferences: ReadonlyMap<string, string>; storage: JobStorage; codec?: ReferenceCodec },
): Promise<unknown[]> {
  const codec = context.codec ?? ARGUMENTS_WITHOUT_REFERENCES;
  const steps = [...new Set(codec.references(bytes).flatMap((r) => (r.kind === "StepResult" ? [r.step] : [])))];
  const results = new Map(
    await Promise.all(steps.map(async (step) => [step, await upstreamResult(step, context.propertyReferences, context.storage, codec)] as const)),
  );
  const args = codec.deserialize(bytes, (reference) =>
    reference.kind === "Value" ? referencedValue(reference, context.propertyReferences) : atPath(results.get(reference.step), reference.path, reference.step),
  );
  if (!Array.isArray(args)) throw new SetupError("the arguments payload is not a list of arguments");
  return args;
}
