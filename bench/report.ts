import { readFile, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";

const FILE = new URL("../BENCHMARKS.md", import.meta.url);

/** The machine a benchmark ran on, in one line. */
export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
}

/** Replaces (or appends) the `## title` section of BENCHMARKS.md, leaving the other sections alone. */
export async function writeBenchmarkSection(title: string, body: string, command: string): Promise<void> {
  const current = await readFile(FILE, "utf8").catch(() => "# Benchmarks\n\nEach section is written by the benchmark it names; ratios compare against a baseline measured in the same run.\n");
  const section = `## ${title}\n\nMeasured ${new Date().toISOString().slice(0, 10)} on ${machine()} with \`${command}\`.\n\n${body}\n`;
  const pattern = new RegExp(`## ${title}\\n[\\s\\S]*?(?=\\n## |$)`);
  const next = pattern.test(current) ? current.replace(pattern, section) : `${current.trimEnd()}\n\n${section}`;
  await writeFile(FILE, next);
}
