/**
 * The shape every benchmark's output takes. A benchmark prints progress on stderr and, on stdout, one
 * Markdown section that starts with `## <title>`; bench/run-all.ts collects the sections into
 * BENCHMARKS.md and gathers their target lines (`targetLine`) into its summary.
 */

/** Prints the benchmark's `## title` section on stdout, saying which command measured it. */
export async function writeBenchmarkSection(title: string, body: string, command: string): Promise<void> {
  const section = `## ${title}\n\nMeasured with \`${command}\`.\n\n${body.trimEnd()}\n`;
  await new Promise<void>((resolve, reject) => process.stdout.write(section, (error) => (error ? reject(error) : resolve())));
}

/** A line the runner's summary picks up: `- **Target met**: what (why)` or `- **Target not met**: what (why)`. */
export function targetLine(what: string, met: boolean, why: string): string {
  return `- **Target ${met ? "met" : "not met"}**: ${what} (${why})`;
}

/** Matches a target line: [1] is "met" or "not met", [2] the rest. */
export const TARGET_LINE = /^- \*\*Target (met|not met)\*\*: (.*)$/;

/** Progress for whoever watches the run; stdout stays the section alone. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `median (min–max)` of a series, each through `format`. */
export function spread(xs: readonly number[], format: (x: number) => string): string {
  return `${format(median(xs))} (${format(Math.min(...xs))}–${format(Math.max(...xs))})`;
}
