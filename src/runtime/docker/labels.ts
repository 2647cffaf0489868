/**
 * The Docker labels stepbox puts on everything it creates: containers, networks, images.
 * One module, so the sweep of orphans and every creator agree on the names.
 */
export const LABEL = {
  /** Present on every resource stepbox manages; the value is always "true". */
  managed: "dev.stepbox.managed",
  pipeline: "dev.stepbox.pipeline",
  execution: "dev.stepbox.execution",
  step: "dev.stepbox.step",
  host: "dev.stepbox.host",
  /** The artifact store URI of the run, so a sweep can mark the execution Failed. */
  store: "dev.stepbox.store",
  /** "<hostname>:<pid>" of the engine process that created the resource. */
  owner: "dev.stepbox.owner",
  /** The content hash an image was built from. */
  contentHash: "dev.stepbox.content-hash",
} as const;

export function managedLabels(extra: Record<string, string> = {}): Record<string, string> {
  return { [LABEL.managed]: "true", ...extra };
}
