import { createHash } from "node:crypto";
import { NotFoundError } from "../errors.js";
import { CONTAINER_ENV } from "../container/contract.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { layout } from "../store/layout.js";
import { recordShapes } from "../store/record-shapes.js";
import { DamagedRecordError, readRecord } from "../store/records.js";
import type { ChannelSnapshot } from "./input-channels.js";
import { parseIsoDuration } from "./iso-duration.js";
import type { StepResources } from "./step-resources.js";
import type { TrainingJob } from "./training-job.js";

/** Each part of a step's cache key, hashed: when a step misses, the parts that changed say why. */
export interface CacheKeyParts {
  code: string;
  arguments: string;
  image: string;
  environment: string;
  instanceType: string;
  options: string;
}

export interface CacheEntry {
  Key: string;
  Parts: CacheKeyParts;
  SourcePipelineExecutionId: string;
  SourcePipelineExecutionArn: string;
  CreationTime: string;
}

const sha256 = (...parts: Array<string | Buffer>): string => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex");
};

/** Sorted JSON, so the same options give the same hash whatever order they were written in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}

/**
 * The cache key of a Training step: everything that can change its result (its bundled code, its
 * resolved arguments, the image, its environment, instance type and the options that reach the
 * container, and the files of its input channels by path, size and version) and nothing else: not the
 * execution's id or time.
 */
export async function cacheKeyParts(
  job: TrainingJob,
  resources: StepResources,
  code: Buffer,
  argumentsPayload: Buffer,
  imageId: string,
  channels: readonly ChannelSnapshot[],
): Promise<CacheKeyParts> {
  const inputs = await Promise.all(channels.map(async (c) => `${c.name}=${c.uri}\n${(await c.fingerprint()).join("\n")}`));
  return {
    code: sha256(code, job.environment[CONTAINER_ENV.definitionKey] ?? ""),
    arguments: sha256(argumentsPayload),
    image: sha256(imageId),
    environment: sha256(canonical(withoutKey(job.environment, CONTAINER_ENV.definitionKey))),
    instanceType: sha256(job.instanceType, canonical({ cpus: resources.cpus, memoryGiB: resources.memoryGiB })),
    options: sha256(
      canonical({
        instanceCount: job.instanceCount,
        hyperparameters: job.hyperparameters,
        network: job.network,
        volumeSize: job.volumeSizeInGB,
        maxRuntimeInSeconds: job.maxRuntimeSeconds,
      }),
      ...inputs,
    ),
  };
}

function withoutKey(map: Readonly<Record<string, string>>, key: string): Record<string, string> {
  const { [key]: _left, ...rest } = map;
  return rest;
}

export function cacheKey(parts: CacheKeyParts): string {
  return sha256(canonical(parts));
}

const PART_NAMES: Record<keyof CacheKeyParts, string> = {
  code: "the step's code",
  arguments: "its arguments",
  image: "the runtime image",
  environment: "its environment variables",
  instanceType: "its instance type",
  options: "its container options or inputs",
};

/** The step cache of one pipeline, kept in the store beside its executions. */
export class StepCache {
  constructor(
    private readonly store: ArtifactStore,
    private readonly pipeline: string,
  ) {}

  #key(step: string, name: string): string {
    return `${layout.pipelineRoot(this.pipeline)}/.cache/${step}/${name}.json`;
  }

  /** The entry at `key`; a missing or damaged one (not JSON, not an entry's shape) is a miss, never half-read. */
  async #read(key: string): Promise<CacheEntry | undefined> {
    try {
      return await readRecord<CacheEntry>(this.store, key, "step-cache entry", recordShapes.cacheEntry);
    } catch (error) {
      if (error instanceof NotFoundError || error instanceof DamagedRecordError) return undefined;
      throw error;
    }
  }

  /** The newest entry for this key that has not expired. */
  async lookup(step: string, key: string, expireAfter: string | undefined, now = new Date()): Promise<CacheEntry | undefined> {
    const entry = await this.#read(this.#key(step, key));
    if (!entry) return undefined;
    if (expireAfter !== undefined) {
      const age = now.getTime() - new Date(entry.CreationTime).getTime();
      if (age > parseIsoDuration(expireAfter, `step "${step}": cacheConfig.expireAfter`)) return undefined;
    }
    return entry;
  }

  /** Why the step missed: which parts of its key changed since its last run, or that it expired or never ran. */
  async missReason(step: string, parts: CacheKeyParts, key: string): Promise<string> {
    const latest = await this.#read(this.#key(step, "latest"));
    if (!latest) return "no earlier run of this step is cached";
    const changed = (Object.keys(PART_NAMES) as Array<keyof CacheKeyParts>).filter((p) => latest.Parts[p] !== parts[p]);
    if (changed.length > 0) return `changed since execution ${latest.SourcePipelineExecutionId}: ${changed.map((p) => PART_NAMES[p]).join(", ")}`;
    return latest.Key === key ? `the cached result of execution ${latest.SourcePipelineExecutionId} expired` : "no cached result for this key";
  }

  /** Records a successful run under its key, and as the step's latest run. */
  async record(step: string, entry: CacheEntry): Promise<void> {
    const body = JSON.stringify(entry, null, 2);
    await this.store.put(this.#key(step, entry.Key), body);
    await this.store.put(this.#key(step, "latest"), body);
  }
}
