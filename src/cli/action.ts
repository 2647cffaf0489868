/**
 * commander's actions return nothing, and a command's exit code is more than success or failure
 * (a failed execution is 1, a user error 2): each action hands its code back through here.
 */
import { EXIT } from "./errors.js";

let exitCode: number = EXIT.ok;

/** Wraps a command's handler, which returns its exit code. */
export function action<A extends unknown[]>(handler: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    exitCode = await handler(...args);
  };
}

/** The exit code of the command that ran. */
export function commandExitCode(): number {
  return exitCode;
}

/** The example every command's --help ends with. */
export function examples(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}
