/**
 * A block of lines at the bottom of a terminal that is redrawn in place (the live table of a run),
 * with ordinary output (the steps' own lines, warnings) printed above it. When the output is not a
 * terminal, or one that cannot move its cursor (TERM=dumb), there is no block: lines are printed as
 * they come and the caller prints state changes.
 */
import { isCapableTerminal } from "./terminal.js";

const CURSOR_UP_TO_START = (n: number): string => `\x1b[${n}F`;
const CLEAR_TO_END = "\x1b[J";

export class LiveArea {
  readonly live: boolean;
  readonly #out: NodeJS.WriteStream;
  readonly #err: NodeJS.WritableStream;
  #block: string[] = [];
  #drawn = 0;

  constructor(out: NodeJS.WriteStream, err: NodeJS.WritableStream) {
    this.#out = out;
    this.#err = err;
    this.live = isCapableTerminal(out);
  }

  /** A line of ordinary output; on a terminal it goes above the block, which is drawn again below it. */
  print(line: string, stream: "stdout" | "stderr" = "stdout"): void {
    if (!this.live) {
      (stream === "stderr" ? this.#err : this.#out).write(`${line}\n`);
      return;
    }
    this.#erase();
    this.#out.write(`${line}\n`);
    this.#draw();
  }

  /** Replaces the block's lines. Does nothing off a terminal. */
  update(lines: readonly string[]): void {
    if (!this.live) return;
    this.#erase();
    this.#block = [...lines];
    this.#draw();
  }

  /** Leaves the block as it is on screen, as the run's final state; later output goes below it. */
  close(): void {
    this.#block = [];
    this.#drawn = 0;
  }

  #erase(): void {
    if (this.#drawn > 0) this.#out.write(CURSOR_UP_TO_START(this.#drawn) + CLEAR_TO_END);
    this.#drawn = 0;
  }

  #draw(): void {
    if (this.#block.length === 0) return;
    // A line wider than the terminal wraps and would break the count of lines to move up over.
    const width = Math.max(20, (this.#out.columns || 100) - 1);
    const lines = this.#block.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
    this.#out.write(`${lines.join("\n")}\n`);
    this.#drawn = lines.length;
  }
}
