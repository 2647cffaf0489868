/**
 * Splits a byte stream into lines without ever holding more than `maxLineBytes` of one line: a step
 * that prints a gigabyte without a newline gets it as a series of capped lines (as CloudWatch splits
 * an event past its size limit) instead of an engine that buffers it whole.
 */
export class LineSplitter {
  readonly #line: Buffer;
  readonly #emit: (line: string) => void;
  #length = 0;

  constructor(maxLineBytes: number, emit: (line: string) => void) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 4) throw new RangeError(`maxLineBytes must be an integer >= 4, got ${maxLineBytes}`);
    this.#line = Buffer.allocUnsafe(maxLineBytes);
    this.#emit = emit;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      this.#append(chunk, start, end);
      if (newline === -1) return;
      this.#emitBytes(this.#length);
      start = newline + 1;
    }
  }

  /** Emits what is left after the last newline, if anything. */
  end(): void {
    if (this.#length > 0) this.#emitBytes(this.#length);
  }

  #append(chunk: Buffer, start: number, end: number): void {
    while (start < end) {
      const copied = chunk.copy(this.#line, this.#length, start, end);
      this.#length += copied;
      start += copied;
      if (this.#length === this.#line.length) this.#emitBytes(utf8Boundary(this.#line));
    }
  }

  /** Emits the first `count` bytes as a line and keeps the rest (a character cut by the cap) for the next. */
  #emitBytes(count: number): void {
    const text = this.#line.toString("utf8", 0, count);
    const rest = this.#length - count;
    this.#line.copy(this.#line, 0, count, this.#length);
    this.#length = rest;
    this.#emit(text.endsWith("\r") ? text.slice(0, -1) : text);
  }
}

/** Where a full buffer can be cut without splitting a UTF-8 character: before a trailing incomplete one. */
function utf8Boundary(bytes: Buffer): number {
  const n = bytes.length;
  // Look back at most 3 bytes for the lead byte of the last character.
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = bytes[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: keep looking for the lead
    const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return size > back ? n - back : n;
  }
  return n; // not UTF-8 at all: cut where the cap falls
}
