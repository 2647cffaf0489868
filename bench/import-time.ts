/**
 * bench/import-time: what `import("stepbox")` costs a new Node process, against importing `node:fs`
 * in the same kind of process (the baseline: Node's own start), and what each of stepbox's heavier
 * dependencies costs alone, to say where the time goes. Each import runs in a fresh `node`, warm
 * (page cache), sides alternating in each round.
 *
 * Run: npx tsx bench/import-time.ts [rounds]   (needs `npm run build` first: stepbox resolves to dist/)
 */
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { median, progress, writeBenchmarkSection } from "./report.js";

const rounds = Number(process.argv[2] ?? 7);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
await access(join(ROOT, "dist/src/index.js")).catch(() => {
  throw new Error("bench/import-time imports the built stepbox: run npm run build first");
});
const MODULES = ["node:fs", "stepbox", "@aws-sdk/client-s3", "@aws-sdk/lib-storage", "dockerode", "esbuild", "pino", "p-queue", "tar-fs", "commander"];
/** Which of them `import("stepbox")` loads at once; the others only when a feature needs them. */
const EAGER = new Set<string>();

/** Wall ms of a fresh node that imports one module and exits; also whether stepbox's import loaded each dependency. */
async function importOnce(specifier: string): Promise<number> {
  const started = performance.now();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `await import(${JSON.stringify(specifier)});` +
        (specifier === "stepbox"
          ? `const { createRequire } = await import("node:module"); process.stdout.write(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`
          : ""),
    ],
    { cwd: ROOT },
  );
  const ms = performance.now() - started;
  if (specifier === "stepbox") {
    const loaded = JSON.parse(stdout || "[]") as string[];
    for (const m of MODULES) if (loaded.some((path) => path.includes(`/node_modules/${m}/`))) EAGER.add(m);
  }
  return ms;
}

const times = new Map<string, number[]>(MODULES.map((m) => [m, []]));
for (const m of MODULES) await importOnce(m);
for (let round = 0; round < rounds; round++) {
  for (const m of MODULES) times.get(m)!.push(await importOnce(m));
  progress(`round ${round + 1}/${rounds} done`);
}
const base = median(times.get("node:fs")!);
const rows = MODULES.map((m) => {
  const xs = times.get(m)!;
  const note = m === "node:fs" ? " (baseline)" : m === "stepbox" ? "" : EAGER.has(m) ? ' (loaded by `import("stepbox")`, through require)' : "";
  return `| \`${m}\`${note} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)} | +${(median(xs) - base).toFixed(0)} | ${(median(xs) / base).toFixed(2)} |`;
});
const added = median(times.get("stepbox")!) - base;
const body = [
  `A fresh \`node\` that imports one module and exits, warm; ms over ${rounds} rounds, sides alternating. ` +
    "Each dependency row is that package imported alone: the sum is more than stepbox's row where packages share modules.",
  "",
  "| import | median ms | min ms | max ms | added to Node's start | ratio to node:fs |",
  "|---|---|---|---|---|---|",
  ...rows,
  "",
  `\`import("stepbox")\` adds ${added.toFixed(0)} ms to a process. No target of its own: it is part of the 0.5 s a warm ` +
    "process has to reach its first container (see Process start).",
].join("\n");
await writeBenchmarkSection("Import time", body, `npx tsx bench/import-time.ts ${rounds}`);
