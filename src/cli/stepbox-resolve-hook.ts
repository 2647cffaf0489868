/**
 * A module hook, run in Node's loader thread: `import ... from "stepbox"` in a pipeline file gets the
 * command line's own stepbox, so the Pipeline the file exports is the very class the command line
 * drives (a second copy of stepbox would fail `instanceof` and keep its own registry of steps).
 */
import type { InitializeHook, ResolveHook } from "node:module";

let stepboxUrl = "";

export const initialize: InitializeHook<{ stepboxUrl: string }> = (data) => {
  stepboxUrl = data.stepboxUrl;
};

export const resolve: ResolveHook = (specifier, context, next) =>
  specifier === "stepbox" ? { url: stepboxUrl, shortCircuit: true } : next(specifier, context);
