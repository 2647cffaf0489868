/**
 * The command line's road to the cloud, as a user types it: `stepbox deploy` of a pipeline file to
 * `stepbox serve` (the SageMaker API on this machine) and an s3rver bucket, then every read command
 * with `--cloud` or an ARN: the same tables and values as for a local execution, from SageMaker's
 * API, S3 and CloudWatch Logs alone.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipelineSession } from "stepbox";
import { startServe, type RunningServe } from "../../src/serve/server.js";
import { s3Env, startS3Server, useS3Env, type S3TestServer } from "../support/s3-server.js";
import { cli, cliTestStore, FIXTURES, startCli } from "./cli.js";

const ROLE_ARN = "arn:aws:iam::123456789012:role/stepbox-pipelines";
const IMAGE_URI = `123456789012.dkr.ecr.us-east-1.amazonaws.com/stepbox@sha256:${"cd".repeat(32)}`;
const FILE = join(FIXTURES, "cloud-pipelines.ts");
const ctx = cliTestStore();

let s3: S3TestServer;
let restoreEnv: () => void;
let engine: LocalPipelineSession;
let serve: RunningServe;

/** What a user's shell holds to reach this "cloud": credentials, region, S3 endpoint, role, root and image. */
function cloudEnv(): NodeJS.ProcessEnv {
  return { ...s3Env(s3), STEPBOX_ROLE_ARN: ROLE_ARN, STEPBOX_S3_ROOT: `s3://${s3.bucket}/cli`, STEPBOX_IMAGE_URI: IMAGE_URI };
}

function stepbox(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  return cli(ctx.store, [...args, "--endpoint", serve.url], undefined, { ...cloudEnv(), ...env });
}

beforeAll(async () => {
  s3 = await startS3Server({ bucket: "stepbox-cli-cloud" });
  restoreEnv = useS3Env(s3);
  engine = new LocalPipelineSession({ artifactRoot: `s3://${s3.bucket}/cli`, onLog: () => {}, stopGraceSeconds: 1 });
  serve = await startServe({ session: engine, port: 0 });
}, 120_000);

afterAll(async () => {
  await serve?.close();
  restoreEnv?.();
  await s3?.close();
});

describe("stepbox deploy, then the read commands with --cloud", () => {
  let arn = "";
  let id = "";

  it("deploy --follow uploads and upserts the pipeline, starts it with --param, shows each step's state and exits 0 when it succeeded", async () => {
    const deployed = await stepbox(["deploy", FILE, "--follow", "--param", "min-accuracy=0.5", "--display-name", "from-the-cli"]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toMatch(/^deployed pipeline cli-cloud-ml: arn:aws:sagemaker:local:000000000000:pipeline\/cli-cloud-ml$/m);
    [, id = "", arn = ""] = /^started execution ([a-z0-9]+): (arn:\S+)$/m.exec(deployed.stdout) ?? [];
    expect(arn).toMatch(/\/execution\/[a-z0-9]+$/);
    expect(deployed.stdout).toMatch(/^train: Succeeded in /m);
    expect(deployed.stdout).toMatch(/^register: Succeeded in /m);
    expect(deployed.stdout).toMatch(new RegExp(`^execution ${id} Succeeded in `, "m"));
    // The definition serve ran names the image and role the environment gave.
    const definition = JSON.parse((await engine.records.readPipeline("cli-cloud-ml"))!.PipelineDefinition);
    const train = definition.Steps.find((s: { Name: string }) => s.Name === "train");
    expect(train.Arguments.AlgorithmSpecification.TrainingImage).toBe(IMAGE_URI);
    expect(train.Arguments.RoleArn).toBe(ROLE_ARN);
  });

  it("steps prints the local table, in the order the steps depend on each other, by ARN or by --cloud <pipeline>/<id prefix>", async () => {
    const byArn = await stepbox(["steps", arn]);
    expect(byArn.code, byArn.stderr).toBe(0);
    const lines = byArn.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^STEP\s+STATUS\s+ATTEMPTS\s+STARTED\s+DURATION\s+CACHE\s+REASON$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ["preprocess", "Succeeded"],
      ["train", "Succeeded"],
      ["evaluate", "Succeeded"],
      ["accurate-enough", "Succeeded"],
      ["register", "Succeeded"],
      ["not-accurate-enough", "NotRun"],
    ]);
    const byPrefix = await stepbox(["steps", "--cloud", `cli-cloud-ml/${id.slice(0, 5)}`]);
    expect(byPrefix.stdout.replace(/\d+(\.\d+)? (ms|s)/g, "")).toBe(byArn.stdout.replace(/\d+(\.\d+)? (ms|s)/g, ""));
    // Without the pipeline, an id prefix is looked up across every pipeline, as a local one is across the store.
    const byId = await stepbox(["steps", "--cloud", id]);
    expect(byId.code, byId.stderr).toBe(0);
    const json = JSON.parse((await stepbox(["steps", arn, "--json"])).stdout);
    expect(json.map((s: { StepName: string }) => s.StepName)).toContain("train");
  });

  it("describe, executions and result answer from SageMaker and S3", async () => {
    const described = await stepbox(["describe", arn]);
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(/^Status:\s+Succeeded$/m);
    expect(described.stdout).toMatch(/^Display name:\s+from-the-cli$/m);
    expect(described.stdout).toMatch(/^Parameters:\s+.*min-accuracy=0.5/m);
    expect(described.stdout).toMatch(/^Steps:\s+preprocess, train, evaluate, accurate-enough, register, not-accurate-enough$/m);
    expect(JSON.parse((await stepbox(["describe", arn, "--json"])).stdout)).toMatchObject({ PipelineExecutionArn: arn, PipelineExecutionStatus: "Succeeded" });

    const listed = await stepbox(["executions", "--cloud", "cli-cloud-ml"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+cli-cloud-ml\\s+Succeeded\\s+.*from-the-cli$`, "m"));

    const result = await stepbox(["result", arn, "eval", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).accuracy).toBeGreaterThan(0.5);
    const registered = await stepbox(["result", arn, "register"]);
    expect(registered.stdout).toMatch(/^'registered with accuracy [\d.]+'$/m);
  });

  it("logs reads the steps' training jobs from CloudWatch Logs, with the local prefixes; report draws the execution with its logs", async () => {
    const one = await stepbox(["logs", arn, "train"]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toBe("trained for 30 epochs\n");
    const all = await stepbox(["logs", arn]);
    expect(all.stdout).toContain("[preprocess] made 400 rows\n");
    expect(all.stdout).toContain("[train] trained for 30 epochs\n");
    const json = (await stepbox(["logs", arn, "train", "--json"])).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(json).toEqual([{ step: "train", stream: expect.stringMatching(/\/algo-1-\d+$/), line: "trained for 30 epochs" }]);

    const out = join(ctx.store, "cloud-report.html");
    const report = await stepbox(["report", arn, "--out", out]);
    expect(report.code, report.stderr).toBe(0);
    const html = await readFile(out, "utf8");
    expect(html).toContain("not-accurate-enough");
    expect(html).toContain("trained for 30 epochs");
  });

  it("a failing step: deploy --follow exits 1 with its reason and the commands to look further; result rethrows its error; retry runs it again", async () => {
    const deployed = await stepbox(["deploy", FILE, "--export", "failing", "--follow"]);
    expect(deployed.code).toBe(1);
    const failedArn = /^started execution [a-z0-9]+: (arn:\S+)$/m.exec(deployed.stdout)?.[1] ?? "";
    expect(deployed.stdout).toMatch(/^step explode Failed: .*RangeError: cannot sum 3 values today/m);
    expect(deployed.stdout).toContain(`see its output with: stepbox logs ${failedArn} explode; run the failed steps again with: stepbox retry ${failedArn}`);

    const result = await stepbox(["result", failedArn, "explode"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot sum 3 values today/);
    expect(result.stderr).toContain(`hint: it has no result; see its output with: stepbox logs ${failedArn} explode`);

    const retried = await stepbox(["retry", failedArn]);
    expect(retried.code).toBe(1);
    const retriedArn = /^retrying execution [a-z0-9]+ of pipeline cli-cloud-failing in SageMaker: (arn:\S+)$/m.exec(retried.stdout)?.[1] ?? "";
    expect(retried.stdout).toMatch(/^explode: Failed after /m);
    const steps = (await stepbox(["steps", retriedArn])).stdout;
    expect(steps).toMatch(/^prepare\s+Succeeded\s+.*reused/m);
    expect(steps).toMatch(/^explode\s+Failed\s+/m);
  });

  it("stop --wait stops a running execution, and logs --follow, waiting on it, prints its step's lines and ends with it", async () => {
    const started = await stepbox(["deploy", FILE, "--export", "lingering", "--start"]);
    expect(started.code, started.stderr).toBe(0);
    const runningArn = /^started execution [a-z0-9]+: (arn:\S+)$/m.exec(started.stdout)?.[1] ?? "";
    const following = startCli(ctx.store, ["logs", runningArn, "--follow", "--endpoint", serve.url], undefined, cloudEnv());
    for (;;) {
      const steps = JSON.parse((await stepbox(["steps", runningArn, "--json"])).stdout) as Array<{ StepName: string; StepStatus: string }>;
      if (steps.some((s) => s.StepName === "linger" && s.StepStatus === "Executing")) break;
      expect(following.child.exitCode).toBeNull();
    }
    const stopped = await stepbox(["stop", runningArn, "--wait"]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(/execution [a-z0-9]+ Stopped$/m);
    // serve keeps a job's lines once its attempt ends: the follower prints them, then ends with the execution.
    const followed = await following.exited;
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toBe("[linger] lingering\n");
    const again = await stepbox(["stop", runningArn]);
    expect(again.stdout).toMatch(/has already ended: Stopped/);
  });
});

describe("mistakes are clear before anything is uploaded", () => {
  it("deploy with no role names the option and the variable", async () => {
    const result = await stepbox(["deploy", FILE], { STEPBOX_ROLE_ARN: "" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/roleArn/);
    expect(result.stderr).toMatch(/STEPBOX_ROLE_ARN|--role/);
  });

  it("--param without --start is a usage error", async () => {
    const result = await stepbox(["deploy", FILE, "--param", "epochs=3"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/add --start/);
  });

  it("a read with no region anywhere asks for --region", async () => {
    const result = await cli(ctx.store, ["steps", "--cloud", "4kq2"], undefined, { ...cloudEnv(), AWS_REGION: "", AWS_DEFAULT_REGION: "" });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "error: no AWS region is given\nhint: give --region (e.g. --region us-east-1), set AWS_REGION, or name the execution by its ARN\n",
    );
  });

  it("an execution that SageMaker does not have is named, with what there is", async () => {
    const result = await stepbox(["steps", "--cloud", "cli-cloud-ml/zzzz"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no execution "zzzz" in SageMaker at http/);
    // Only stepbox's own words: the SDK's notice about Node versions it will need later is not shown.
    expect(result.stderr).not.toMatch(/NodeVersionSupportWarning/);
  });
});
