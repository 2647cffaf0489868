import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { CONTAINER_PATHS, OUTPUT_FILES } from "../../container/contract.js";
import { StepboxError } from "../../errors.js";
import { checkDigestText } from "../../serialization/digest.js";
import type { HostExit, JobOutcome, StopReason } from "../step-runtime.js";
import { hostLogFile, onHost, type HostSetup } from "./host-opt-ml.js";
import { packFolders } from "./output-archive.js";
import { readStepOutputFile } from "./step-output-file.js";

/** The most the engine reads of each file a step leaves: anything larger fails the step. */
const READ_LIMITS = {
  failure: 1024 * 1024,
  metadata: 1024 * 1024,
  exception: 64 * 1024 * 1024,
  result: 1024 * 1024 * 1024,
} as const;

/** One host's exit, its /opt/ml folders on this machine, and the size of its captured log. */
export interface EndedHost {
  readonly exit: HostExit;
  readonly setup: HostSetup;
  readonly logBytes: number;
}

export interface EndedJob {
  readonly stepName: string;
  /** algo-1 first. */
  readonly hosts: readonly EndedHost[];
  readonly stopped: StopReason | undefined;
  readonly firstFailedHost: string | undefined;
  readonly outputBytes: number;
  readonly startedAt: Date;
  readonly endedAt: Date;
}

/**
 * A Docker job's outcome, read from the hosts' bind-mounted /opt/ml folders after their containers
 * exited. Every read goes through the hostile-output reader. `close` (when `collect` settles, before
 * the folders are removed) stops any archive still being read.
 */
export class DockerJobOutcome implements JobOutcome {
  readonly hosts: readonly HostExit[];
  readonly stopped: StopReason | undefined;
  readonly firstFailedHost: string | undefined;
  readonly outputBytes: number;
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly #job: EndedJob;
  readonly #streams = new Set<Readable>();

  constructor(job: EndedJob) {
    this.#job = job;
    this.hosts = job.hosts.map((h) => h.exit);
    this.stopped = job.stopped;
    this.firstFailedHost = job.firstFailedHost;
    this.outputBytes = job.outputBytes;
    this.startedAt = job.startedAt;
    this.endedAt = job.endedAt;
  }

  result(): Promise<Buffer | undefined> {
    const primary = this.#job.hosts[0]!;
    return this.#payload(primary, OUTPUT_FILES.resultsPayload, OUTPUT_FILES.resultsMetadata, READ_LIMITS.result, `the result of step "${this.#job.stepName}"`);
  }

  error(host: string): Promise<Buffer | undefined> {
    const ended = this.#host(host);
    return this.#payload(
      ended,
      OUTPUT_FILES.exceptionPayload,
      OUTPUT_FILES.exceptionMetadata,
      READ_LIMITS.exception,
      `the error of step "${this.#job.stepName}" on ${host}`,
    );
  }

  async failure(host: string): Promise<string | undefined> {
    const bytes = await readStepOutputFile(outputDir(this.#host(host)), OUTPUT_FILES.failure, READ_LIMITS.failure);
    return bytes?.toString("utf8");
  }

  async archive(kind: "model" | "output"): Promise<Readable | undefined> {
    const folder = kind === "model" ? CONTAINER_PATHS.model : CONTAINER_PATHS.outputData;
    const stream = await packFolders(this.#job.hosts.map((h) => onHost(h.setup.dir, folder)));
    return stream && this.#track(stream);
  }

  log(host: string): { readonly bytes: number; open(): Readable } {
    const ended = this.#host(host);
    return {
      bytes: ended.logBytes,
      open: () => this.#track(createReadStream(hostLogFile(ended.setup))),
    };
  }

  /** Keeps a stream on the hosts' folders until it closes, so that `close` can end it. */
  #track<S extends Readable>(stream: S): S {
    this.#streams.add(stream);
    stream.once("close", () => this.#streams.delete(stream));
    return stream;
  }

  /** Ends every stream still open on the hosts' folders: they are about to be removed. */
  close(): void {
    for (const stream of this.#streams) stream.destroy();
    this.#streams.clear();
  }

  /** A payload and its digest; undefined when the payload is not there. */
  async #payload(host: EndedHost, payloadFile: string, metadataFile: string, limit: number, what: string): Promise<Buffer | undefined> {
    const dir = outputDir(host);
    const payload = await readStepOutputFile(dir, payloadFile, limit);
    if (payload === undefined) return undefined;
    const metadata = await readStepOutputFile(dir, metadataFile, READ_LIMITS.metadata);
    checkDigestText(payload, metadata?.toString("utf8") ?? "", what);
    return payload;
  }

  #host(name: string): EndedHost {
    const found = this.#job.hosts.find((h) => h.exit.host === name);
    if (!found) {
      throw new StepboxError(
        "INVALID_ARGUMENT",
        `step "${this.#job.stepName}" ran on ${this.#job.hosts.map((h) => h.exit.host).join(", ")}: it had no host "${name}"`,
        {
          hint: "ask for one of the hosts in the outcome's hosts",
        },
      );
    }
    return found;
  }
}

const outputDir = (host: EndedHost): string => onHost(host.setup.dir, CONTAINER_PATHS.output);
