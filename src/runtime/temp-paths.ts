import { createHash } from "node:crypto";
import { hostname } from "node:os";

/**
 * The names of what stepbox makes in the temp folder. Each name says which process made it,
 * `stepbox-<pid>-<host tag>-<kind>-<unique>`, so that a session started after that process was killed
 * can tell its leftovers from a live process's (see temp-sweep.ts). The host tag keeps a temp folder
 * shared by several machines (or containers with their own hostnames) safe: a pid means something only
 * on its own host.
 *
 * The S3 store names its upload spool files in the same form (`upload` kind); it may import no other
 * layer, so it keeps its own copy of the prefix, and the temp-sweep test checks that the two agree.
 */
export type TempKind = "work" | "channel" | "checkpoints" | "shell" | "image" | "rootfs" | "upload";

/** The kinds made with `mkdtemp`: a step's work folder, a channel download, a shell's /opt/ml, an image build's context and root. */
export type TempFolderKind = Exclude<TempKind, "checkpoints" | "upload">;

/** This host's tag: 8 hex digits of the SHA-256 of its hostname (a hostname can be long or hold any character). */
export const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);

const PATTERN = /^stepbox-(\d+)-([0-9a-f]{8})-(?:(work|channel|checkpoints|shell|image|rootfs)-[A-Za-z0-9]+|(upload)-[0-9a-f]+\.spool)$/;

/** The prefix to give `mkdtemp`: it appends six random letters and digits. */
export function tempFolderPrefix(kind: TempFolderKind): string {
  return `stepbox-${process.pid}-${HOST_TAG}-${kind}-`;
}

/** The folder that holds an execution's checkpoints across its steps' attempts. */
export function checkpointsFolderName(executionId: string): string {
  return `stepbox-${process.pid}-${HOST_TAG}-checkpoints-${executionId}`;
}

/** Who made a temp path, read from its name. */
export interface TempPathOwner {
  readonly pid: number;
  readonly hostTag: string;
  readonly kind: TempKind;
}

/** The owner that a name made by this module (or the S3 store's spool) says; undefined for any other name. */
export function parseTempName(name: string): TempPathOwner | undefined {
  const match = PATTERN.exec(name);
  if (!match) return undefined;
  const pid = Number(match[1]);
  // No process has a pid outside 1..2^31-1: such a name was not made by stepbox.
  if (pid < 1 || pid > 0x7fffffff) return undefined;
  return { pid, hostTag: match[2]!, kind: (match[3] ?? match[4]) as TempKind };
}
