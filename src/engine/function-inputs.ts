import { StoreError, ValidationError } from "../errors.js";
import type { FunctionJobArguments } from "../definition/function-job.js";
import { deserialize, payloadReferences, serialize } from "../serialization/codec.js";
import { type PipelineReference, referenceName, selectReferencePath } from "../serialization/pipeline-references.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { joinKey } from "../store/keys.js";
import { layout } from "../store/layout.js";
import { type PayloadCheck, readVerifiedAt } from "./payloads.js";
import type { StoreUris } from "./store-uris.js";

/** What a function job's container is given: the step's bundled module and its arguments, every reference resolved. */
export interface FunctionInputs {
  readonly code: Buffer;
  readonly arguments: Buffer;
}

/** A payload the session (or a signing client) stored for a build, verified; one that is not there says how to store it. */
function readStored(store: ArtifactStore, keys: { payload: string; metadata: string }, check: PayloadCheck, what: string): Promise<Buffer> {
  return readVerifiedAt(store, keys, check, what, (cause) => {
    return new ValidationError(`${what} is missing from ${store.uri} (${keys.payload})`, {
      code: "INVALID_DEFINITION",
      cause,
      hint: "upsert the pipeline again from its code (pipeline.upsert() or stepbox run), which stores its functions and arguments",
    });
  });
}

/**
 * Reads a function job's code and arguments from the store where its ContainerArguments say
 * (`<s3_base_uri>/<step>/<func_step_s3_dir>/`), checks their signatures, and resolves the references
 * inside the arguments as the job would: parameters and execution variables from the evaluated
 * `--property_references`, an upstream step's result from the `results/` under its S3OutputPath.
 */
export async function functionInputs(
  fn: FunctionJobArguments,
  deps: {
    readonly store: ArtifactStore;
    readonly uris: StoreUris;
    /** Vouches for the function and arguments payloads the session stored. */
    readonly buildKey: Buffer;
    /**
     * The public key the job's Environment gives (REMOTE_FUNCTION_SECRET_KEY), when a client signed the
     * function and arguments itself, as the SageMaker SDK does: they are then checked against it.
     */
    readonly publicKey: string | undefined;
    /** How an upstream step's result in this execution is checked: as that step's results are sealed. */
    readonly resultCheck: (producer: string) => PayloadCheck;
  },
): Promise<FunctionInputs> {
  const check: PayloadCheck = deps.publicKey !== undefined ? { publicKey: deps.publicKey } : { hmacKey: deps.buildKey };
  const keys = layout.build(deps.uris.key(fn.s3BaseUri, `step "${fn.stepName}": --s3_base_uri`), fn.stepName, fn.buildDir);
  const [code, argumentsPayload] = await Promise.all([
    readStored(deps.store, { payload: keys.code, metadata: keys.codeMetadata }, check, `the function of step "${fn.stepName}"`),
    readStored(deps.store, { payload: keys.arguments, metadata: keys.argumentsMetadata }, check, `the arguments of step "${fn.stepName}"`),
  ]);
  const references = payloadReferences(argumentsPayload);
  if (references.length === 0) return { code, arguments: argumentsPayload };

  const properties = new Map(fn.propertyReferences);
  const property = (name: string): string => {
    if (!properties.has(name)) {
      throw new ValidationError(`step "${fn.stepName}": its arguments read ${name}, which its --property_references do not give`, {
        code: "INVALID_DEFINITION",
        hint: `add "${name}" and its value to the step's ContainerArguments after --property_references`,
      });
    }
    return String(properties.get(name));
  };
  const upstream = new Map<string, Promise<unknown>>();
  const upstreamResult = (step: string): Promise<unknown> => {
    let result = upstream.get(step);
    if (!result) {
      const uri = property(`Steps.${step}.OutputDataConfig.S3OutputPath`);
      const prefix = deps.uris.key(uri, `step "${fn.stepName}": the S3OutputPath of step "${step}"`);
      const what = `the result of step "${step}"`;
      result = readVerifiedAt(
        deps.store,
        { payload: joinKey(prefix, "payload.bin"), metadata: joinKey(prefix, "metadata.json") },
        deps.resultCheck(step),
        what,
        (cause) => new StoreError(`${what} is missing from ${deps.store.uri}`, { cause, hint: "run the step again" }),
      ).then((bytes) => deserialize(bytes));
      upstream.set(step, result);
    }
    return result;
  };
  // Read once per distinct reference; the payload is read twice, so references are matched by content.
  const values = new Map<string, unknown>();
  await Promise.all(
    references.map(async (ref) => {
      values.set(JSON.stringify(ref), ref.kind === "StepResult" ? selectReferencePath(await upstreamResult(ref.step), ref) : referencedValue(ref, property));
    }),
  );
  const args = deserialize(argumentsPayload, { resolve: (ref) => values.get(JSON.stringify(ref)) });
  return { code, arguments: serialize(args, "args") };
}

/**
 * A parameter, execution variable or Join as the job receives it, from the `--property_references`
 * entry the reference names (a string, as SageMaker passes ContainerArguments), a parameter read back
 * as its type.
 */
function referencedValue(ref: Extract<PipelineReference, { kind: "Value" }>, property: (name: string) => string): unknown {
  const name = referenceName(ref);
  const text = property(name);
  // The two times reach the function as the Dates they are, as they do when the pipeline is defined in JS.
  if (name === "Execution.StartDateTime" || name === "Execution.CurrentDateTime") return new Date(text);
  switch (ref.parameterType) {
    case "Integer":
    case "Float":
      return Number(text);
    case "Boolean":
      return text === "true";
    default:
      return text;
  }
}
