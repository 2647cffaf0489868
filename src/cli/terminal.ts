/**
 * What the command line may write to a stream beyond plain lines: colours (the NO_COLOR and
 * FORCE_COLOR conventions, as Node reads them) and redraws in place (a terminal that moves its cursor).
 */

/** The stream's side of the question: whether a person's terminal is on the other end. */
export interface OutputStream {
  readonly isTTY?: boolean;
}

/**
 * Whether to colour what goes to `stream`. FORCE_COLOR decides when set ("", 1, 2, 3 or true turn colours
 * on, even into a pipe; anything else, such as 0, turns them off); else a non-empty NO_COLOR turns them
 * off; else colours go to a terminal that is not TERM=dumb.
 */
export function coloursOn(stream: OutputStream, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return ["", "1", "2", "3", "true"].includes(force);
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return isCapableTerminal(stream, env);
}

/** Whether `stream` is a terminal that understands cursor movement: a TTY whose TERM is not "dumb". */
export function isCapableTerminal(stream: OutputStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.TERM !== "dumb";
}
