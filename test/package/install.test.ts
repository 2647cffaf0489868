/**
 * stepbox as a user gets it: the repository packed (`npm pack`, whose prepack builds dist/), the
 * tarball installed into a fresh project outside the repository, with none of stepbox's
 * devDependencies. There the CLI runs a TypeScript pipeline file whose step imports an ordinary npm
 * library installed in that project, reads the step's result back, and the project's own tsc compiles
 * a strict file (skipLibCheck off) that imports stepbox, stepbox/testing and stepbox/report; and the
 * installed CLI deploys the same file to the installed `stepbox serve` and reads its result back.
 */
import { execFile, spawn } from "node:child_process";
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3Env, startS3Server } from "../support/s3-server.js";

const ROOT = resolve(import.meta.dirname, "..", "..");

interface Manifest {
  version: string;
  devDependencies: Record<string, string>;
}

/** The libraries the project installs beside stepbox: the compiler and Node's types at the repository's versions, and one for the step. */
const STEP_LIBRARY = "lodash-es";

/** What a user's shell passes: nothing of the npm script or the test runner that started this test. */
function userEnvironment(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(npm_|NODE_OPTIONS$|STEPBOX_|VITEST)/i.test(name)));
  return { ...env, STEPBOX_SECRET: "package-test-secret" };
}

interface Finished {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; a failure carries the command's output. */
async function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  try {
    return await promisify(execFile)(command, args, { cwd, env: { ...userEnvironment(), ...env }, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout}\n${stderr}`, { cause: error });
  }
}

const PIPELINE = `import { Pipeline, step } from "stepbox";
import { chunk, sum } from "${STEP_LIBRARY}";

export const pairSums = step(function pairSums(values: number[]): number[] {
  return chunk(values, 2).map((pair) => sum(pair));
});

export default new Pipeline({ name: "installed", steps: [pairSums([1, 2, 3, 4, 5])] });
`;

const STRICT_FILE = `import { DelayedReturn, ParameterInteger, Pipeline, StepboxError, step, type PipelineExecution } from "stepbox";
import { callStep, runPipeline, type PipelineRun } from "stepbox/testing";
import { GRAPH_FORMATS, renderGraph, type GraphFormat } from "stepbox/report";

const times = new ParameterInteger({ name: "times", defaultValue: 2 });

export const repeat = step(function repeat(word: string, count: number): { text: string } {
  return { text: word.repeat(count) };
});

const repeated: DelayedReturn<{ text: string }> = repeat("ab", times);
export const pipeline = new Pipeline({ name: "typed", steps: [repeated], parameters: [times] });

export async function check(): Promise<string> {
  const direct: { text: string } = await callStep(repeat, "ab", 3);
  await using run: PipelineRun = await runPipeline(pipeline, { parameters: { times: 3 } });
  const execution: PipelineExecution = run.execution;
  const format: GraphFormat = GRAPH_FORMATS[0] ?? "mermaid";
  try {
    return \`\${direct.text} \${String(await execution.result("repeat"))} \${renderGraph(JSON.stringify(await execution.describe()), format)}\`;
  } catch (error) {
    if (error instanceof StepboxError) return error.code;
    throw error;
  }
}
`;

const STRICT_TSCONFIG = {
  compilerOptions: { strict: true, skipLibCheck: false, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true },
  files: ["check.ts"],
};

describe("stepbox installed from its packed tarball into a fresh project", () => {
  let work: string;
  let project: string;
  let tarballFiles: string[];
  let manifest: Manifest;

  const stepbox = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> => run("npx", ["--no", "--", "stepbox", ...args], project, env);

  beforeAll(async () => {
    manifest = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as Manifest;
    work = await mkdtemp(join(tmpdir(), "stepbox-package-test-"));
    const packed = join(work, "packed");
    await mkdir(packed);
    await run("npm", ["pack", "--pack-destination", packed], ROOT);
    const [tarball] = (await readdir(packed)).filter((name) => name.endsWith(".tgz"));
    if (tarball === undefined) throw new Error(`npm pack wrote no tarball into ${packed}`);
    tarballFiles = (await run("tar", ["-tzf", join(packed, tarball)], work)).stdout.split("\n").filter((line) => line !== "" && !line.endsWith("/"));

    project = join(work, "project");
    await mkdir(project);
    await writeFile(join(project, "package.json"), `${JSON.stringify({ name: "stepbox-user", private: true, type: "module" }, null, 2)}\n`);
    const dev = manifest.devDependencies;
    await run(
      "npm",
      [
        "install",
        join(packed, tarball),
        `typescript@${dev.typescript}`,
        `@types/node@${dev["@types/node"]}`,
        `${STEP_LIBRARY}@^4.17.21`,
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
      ],
      project,
    );
  }, 900_000);

  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });

  it("packs LICENSE, README, package.json, bin, runtime-image and the built JS and declarations, and nothing else", () => {
    const files = tarballFiles.map((path) => path.replace(/^package\//, ""));
    expect(files).toEqual(expect.arrayContaining(["LICENSE", "README.md", "package.json", "bin/stepbox.js", "runtime-image/Dockerfile"]));
    expect(files).toEqual(expect.arrayContaining(["dist/src/index.js", "dist/src/index.d.ts", "dist/src/cli/main.js", "dist/src/container/runner.js"]));
    expect(files.filter((path) => !/^(LICENSE|README\.md|package\.json|bin\/[^/]+|runtime-image\/[^/]+|dist\/src\/.+\.(js|d\.ts))$/.test(path))).toEqual([]);
  });

  it("installs none of stepbox's devDependencies", async () => {
    const installedOnPurpose = new Set(["typescript", "@types/node", STEP_LIBRARY]);
    const present: string[] = [];
    for (const name of Object.keys(manifest.devDependencies).filter((name) => !installedOnPurpose.has(name))) {
      if (
        await access(join(project, "node_modules", name)).then(
          () => true,
          () => false,
        )
      )
        present.push(name);
    }
    expect(present).toEqual([]);
  });

  it("runs the CLI: --version and --help", async () => {
    expect((await stepbox(["--version"])).stdout.trim()).toBe(manifest.version);
    expect((await stepbox(["--help"])).stdout).toMatch(/Usage: stepbox/);
  });

  it("runs a TypeScript pipeline file whose step imports an npm library of the project, and reads the result back", async () => {
    await writeFile(join(project, "pipeline.ts"), PIPELINE);
    const store = join(work, "store");
    const ran = await stepbox(["run", "pipeline.ts", "--store", store]);
    const id = /^execution ([a-z0-9]{12}) of pipeline/m.exec(ran.stdout)?.[1];
    expect(id, ran.stdout).toBeDefined();
    expect(ran.stdout.trimEnd().split("\n").at(-1)).toMatch(new RegExp(`^execution ${id} Succeeded in `));

    const result = await stepbox(["result", id!, "pairSums", "--json", "--store", store]);
    expect(JSON.parse(result.stdout)).toEqual([3, 7, 5]);
  });

  it("deploys the same file to SageMaker (the installed stepbox serve, over an S3 server) and reads its result back with the cloud commands", async () => {
    await writeFile(join(project, "pipeline.ts"), PIPELINE);
    const s3 = await startS3Server({ bucket: "stepbox-package" });
    const env = {
      ...s3Env(s3),
      STEPBOX_ROLE_ARN: "arn:aws:iam::123456789012:role/stepbox-pipelines",
      STEPBOX_S3_ROOT: `s3://${s3.bucket}/cloud`,
      STEPBOX_IMAGE_URI: `127.0.0.1:5000/stepbox@sha256:${"ef".repeat(32)}`,
    };
    // The installed bin itself, as npx runs it: npx would stand between the test and serve, and
    // SIGTERM to npx does not reach the server it started.
    const serve = spawn(join(project, "node_modules", ".bin", "stepbox"), ["serve", "--port", "0", "--store", `s3://${s3.bucket}/cloud`], {
      cwd: project,
      env: { ...userEnvironment(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        let out = "";
        serve.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          out += chunk;
          const found = /the SageMaker API at (http:\/\/\S+)/.exec(out);
          if (found) resolveUrl(found[1]!);
        });
        serve.once("exit", (code) => reject(new Error(`stepbox serve exited ${code}: ${out}`)));
      });
      const deployed = await stepbox(["deploy", "pipeline.ts", "--follow", "--endpoint", url], env);
      const arn = /^started execution [a-z0-9]+: (arn:\S+)$/m.exec(deployed.stdout)?.[1];
      expect(arn, deployed.stdout).toBeDefined();
      expect(deployed.stdout).toMatch(/ Succeeded in /);
      const result = await stepbox(["result", arn!, "pairSums", "--json", "--endpoint", url], env);
      expect(JSON.parse(result.stdout)).toEqual([3, 7, 5]);
    } finally {
      const exited = new Promise((resolveExit) => serve.once("exit", resolveExit));
      serve.kill("SIGTERM");
      await exited;
      await s3.close();
    }
  });

  it("compiles a strict TypeScript file that imports stepbox, stepbox/testing and stepbox/report, with skipLibCheck off", async () => {
    await writeFile(join(project, "check.ts"), STRICT_FILE);
    await writeFile(join(project, "tsconfig.json"), `${JSON.stringify(STRICT_TSCONFIG, null, 2)}\n`);
    const compiled = await run("npx", ["--no", "--", "tsc", "-p", "tsconfig.json", "--listFiles"], project);
    // It checked stepbox's own declarations, not only check.ts.
    expect(compiled.stdout).toContain("/node_modules/stepbox/dist/src/testing/index.d.ts");
    expect(compiled.stdout).toContain("/node_modules/stepbox/dist/src/report/index.d.ts");
  });
});
