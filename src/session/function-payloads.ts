import type { EmittedDefinition } from "../definition/emit-definition.js";
import { StepboxError } from "../errors.js";
import type { StepBundler } from "../runtime/bundle.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { layout } from "../store/layout.js";

/**
 * Stores what a definition's function steps reference and the definition does not inline: each
 * step's bundled module and its serialized arguments, under `<pipeline>/<step>/<build>/`, each with
 * the `metadata.json` that `seal` makes of it: for a local session the HMAC under the pipeline's build
 * key, for a cloud session the ECDSA signature its jobs check with the public key they are given.
 */
export async function storeFunctionPayloads(
  emitted: EmittedDefinition,
  pipelineName: string,
  deps: { readonly store: ArtifactStore; readonly bundler: StepBundler; readonly seal: (payload: Buffer) => object },
): Promise<void> {
  await Promise.all(
    emitted.functionSteps.map(async ({ step, build, argumentsPayload }) => {
      const sourceFile = step.definition.sourceFile;
      if (!sourceFile) {
        throw new StepboxError("BUNDLE", `cannot tell which module defines step "${step.name}"`, {
          hint: "define steps with step() at the top level of a module file",
        });
      }
      const code = (await deps.bundler.bundle(sourceFile)).code;
      const keys = layout.build(pipelineName, step.name, build);
      // Each payload before the metadata that vouches for it: a reader never finds metadata for bytes not yet there.
      await Promise.all([
        deps.store.put(keys.code, code).then(() => deps.store.put(keys.codeMetadata, JSON.stringify(deps.seal(code)))),
        deps.store.put(keys.arguments, argumentsPayload).then(() => deps.store.put(keys.argumentsMetadata, JSON.stringify(deps.seal(argumentsPayload)))),
      ]);
    }),
  );
}
