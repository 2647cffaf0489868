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

/**
 * A pipeline value inside an arguments payload, as the codec records it (serialization/pipeline-references.ts
 * on the engine's branch, whose type this mirrors until it is merged): `expression` is the definition's JSON
 * (`{"Get": "Parameters.X"}`, a `Std:Join`...).
 */
export type PipelineReference =
  | { readonly kind: "Value"; readonly expression: unknown; readonly parameterType?: string }
  | { readonly kind: "StepResult"; readonly step: string; readonly path: readonly (string | number)[] };

/**
 * The `--property_references` entry a Value reference's value arrives under: the name of a `Get`
 * (`Parameters.X`, `Execution.X`), else the expression's JSON text (as pipeline-references.ts's `referenceName`).
 */
export function propertyReferenceName(reference: Extract<PipelineReference, { kind: "Value" }>): string {
  const { expression } = reference;
  if (typeof expression === "object" && expression !== null && !Array.isArray(expression)) {
    const keys = Object.keys(expression);
    const get = (expression as { Get?: unknown }).Get;
    if (keys.length === 1 && typeof get === "string") return get;
  }
  return JSON.stringify(expression);
}

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
  const name = propertyReferenceName(reference);
  const text = propertyReferences.get(name);
  if (text === undefined) {
    const known = [...propertyReferences.keys()].join(", ") || "none";
    throw new SetupError(
      `the arguments use ${name}, which the job's --property_references do not give (they give: ${known}); the ContainerArguments must come from the same definition build as the arguments`,
    );
  }
  switch (reference.parameterType) {
    case undefined:
    case "String":
      return text;
    case "Integer":
      if (!/^[+-]?\d+$/.test(text.trim())) throw new SetupError(`${name} is an Integer parameter, but the job was given ${JSON.stringify(text)}`);
      return Number(text);
    case "Float": {
      const value = Number(text);
      if (text.trim() === "" || Number.isNaN(value)) throw new SetupError(`${name} is a Float parameter, but the job was given ${JSON.stringify(text)}`);
      return value;
    }
    case "Boolean":
      if (/^true$/i.test(text)) return true;
      if (/^false$/i.test(text)) return false;
      throw new SetupError(`${name} is a Boolean parameter, but the job was given ${JSON.stringify(text)}`);
    default:
      throw new SetupError(`${name} has parameter type ${reference.parameterType}, which stepbox cannot convert (String, Integer, Float, Boolean)`);
  }
}

/** How a path reads in messages: `[1]['k']`, as in a Std:JsonGet Path. */
const pathText = (path: readonly (string | number)[]): string => path.map((p) => (typeof p === "number" ? `[${p}]` : `['${p}']`)).join("");

/** The part of an upstream result a reference names: keys of objects and Maps, indexes of arrays. */
export function atPath(value: unknown, path: readonly (string | number)[], step: string): unknown {
  let current = value;
  for (let i = 0; i < path.length; i++) {
    const part = path[i]!;
    const missing = (): never => {
      throw new SetupError(`the result of step ${step} has nothing at Result${pathText(path.slice(0, i + 1))}`);
    };
    if (current instanceof Map) {
      if (!current.has(part)) missing();
      current = current.get(part);
    } else if (Array.isArray(current)) {
      if (typeof part !== "number" || part < 0 || part >= current.length) missing();
      current = current[part as number];
    } else if (typeof current === "object" && current !== null && Object.hasOwn(current, part)) {
      current = (current as Record<string | number, unknown>)[part];
    } else {
      missing();
    }
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
