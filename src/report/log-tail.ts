import type { ArtifactStore } from "../store/artifact-store.js";

/** What the report keeps of one log stream: all of a small log, the end of a large one. */
export interface LogTail {
  readonly text: string;
  /** The size of the whole log. */
  readonly bytes: number;
  /** Whether `text` is only the end of the log (starting at a line). */
  readonly truncated: boolean;
}

/**
 * Reads the last `limit` bytes of an object. It streams the whole object but holds at most about
 * twice the limit, so a step that printed gigabytes cannot exhaust memory or bloat the report.
 */
export async function readLogTail(store: ArtifactStore, key: string, limit: number): Promise<LogTail> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let bytes = 0;
  for await (const chunk of await store.getStream(key)) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    bytes += buffer.length;
    held.push(buffer);
    heldBytes += buffer.length;
    if (heldBytes > 2 * limit) {
      const kept = Buffer.concat(held).subarray(-limit);
      held = [kept];
      heldBytes = kept.length;
    }
  }
  const all = Buffer.concat(held);
  // Whether the log was cut is a matter of its whole size: what is held may already be trimmed to the limit.
  if (bytes <= limit) return { text: all.toString("utf8"), bytes, truncated: false };
  return { text: fromLineStart(all.subarray(-limit)).toString("utf8"), bytes, truncated: true };
}

/** Drops the partial line (and any partial UTF-8 character) that a cut at a byte offset leaves. */
function fromLineStart(tail: Buffer): Buffer {
  const newline = tail.indexOf(0x0a);
  if (newline >= 0 && newline < tail.length - 1) return tail.subarray(newline + 1);
  let start = 0;
  while (start < tail.length && (tail[start]! & 0xc0) === 0x80) start++;
  return tail.subarray(start);
}
