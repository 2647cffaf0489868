/**
 * `stepbox image push` and pushRuntimeImage against a real registry (Debian's docker-registry on
 * 127.0.0.1) through the real Docker engine: the printed digest is the one the registry serves, the
 * reference goes into a cloud definition as its TrainingImage, a bad URI is refused before anything
 * is built, and a registry that cannot be reached or asks for a login is a RegistryError. An ECR login
 * comes from the real AWS SDK calling a local GetAuthorizationToken server.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PipelineSession } from "stepbox";
import { ecrLogin } from "../../src/cloud/ecr-login.js";
import { RegistryError } from "../../src/errors.js";
import { pushRuntimeImage } from "../../src/runtime/docker/image-push.js";
import { buildCli, cli, tempStore } from "../cli/cli.js";
import { failingPipeline } from "../fixtures/cloud-steps.js";
import { startEcrApi, type TestEcrApi } from "../support/ecr-api.js";
import { REGISTRY_USER, startRegistry, type TestRegistry } from "../support/registry.js";

const DIGEST_REFERENCE = /^(\S+)@(sha256:[0-9a-f]{64})$/;
/** Nothing listens on port 1 of this machine. */
const UNREACHABLE = "127.0.0.1:1/stepbox";
/** An engine that does not exist: a command that reaches for Docker with it fails as no URI problem does. */
const NO_ENGINE = { DOCKER_HOST: "unix:///nonexistent/docker.sock" };

let registry: TestRegistry;
let store: Awaited<ReturnType<typeof tempStore>>;
/** The pushes' settings folder (XDG_CONFIG_HOME), where the last push is remembered: not this user's own. */
let config: string;
const docker = new Docker();
/** The repository:tag names the pushes left on the engine, removed after. */
const tagged = new Set<string>();

beforeAll(async () => {
  [registry, store] = await Promise.all([startRegistry(), tempStore(), buildCli()]).then(([r, s]) => [r, s] as const);
  config = await mkdtemp(join(tmpdir(), "stepbox-image-config-"));
}, 300_000);

afterAll(async () => {
  for (const name of tagged)
    await docker
      .getImage(name)
      .remove({ noprune: true })
      .catch(() => undefined);
  await registry?.close();
  await store?.cleanup();
  if (config !== undefined) await rm(config, { recursive: true, force: true });
});

/** `stepbox image push ...args`, its stdout's one line read as `<repo>@<digest>`. */
async function cliPush(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ repository: string; digest: string; stderr: string }> {
  const run = await cli(store.store, ["image", "push", ...args], undefined, { XDG_CONFIG_HOME: config, ...env });
  expect(run.stderr).not.toMatch(/^error:/m);
  expect(run.code).toBe(0);
  const lines = run.stdout.split("\n");
  expect(lines).toHaveLength(2);
  expect(lines[1]).toBe("");
  const match = DIGEST_REFERENCE.exec(lines[0]!);
  expect(match, run.stdout).not.toBeNull();
  return { repository: match![1]!, digest: match![2]!, stderr: run.stderr };
}

describe("stepbox image push", () => {
  let defaultDigest: string;

  it("pushes the runtime image under its content hash and prints the reference with the registry's digest", async () => {
    const pushed = await cliPush([`${registry.host}/stepbox-cli`]);
    expect(pushed.repository).toBe(`${registry.host}/stepbox-cli`);
    // Progress on stderr names the tag: the runtime image's content hash.
    const tag = new RegExp(`pushing the runtime image to ${registry.host}/stepbox-cli:([0-9a-f]{16})\\.\\.\\.`).exec(pushed.stderr)?.[1];
    expect(tag, pushed.stderr).toBeDefined();
    expect(pushed.stderr).toMatch(/^pushed .*@sha256:/m);
    tagged.add(`${registry.host}/stepbox-cli:${tag}`);
    expect(await registry.manifestDigest("stepbox-cli", tag!)).toBe(pushed.digest);
    defaultDigest = pushed.digest;
  });

  it("remembers the push: a cloud session on this machine without imageUri names it, unless another stepbox version pushed it", async () => {
    const saved = { config: process.env.XDG_CONFIG_HOME, image: process.env.STEPBOX_IMAGE_URI };
    process.env.XDG_CONFIG_HOME = config;
    delete process.env.STEPBOX_IMAGE_URI;
    const session = new PipelineSession({
      roleArn: "arn:aws:iam::123456789012:role/stepbox-pipelines",
      s3Root: "s3://stepbox-image-push/cloud",
      region: "us-east-1",
    });
    const file = join(config, "stepbox", "pushed-image.json");
    try {
      const definition = JSON.parse(failingPipeline("remembered-image", session).definition());
      expect(definition.Steps[0].Arguments.AlgorithmSpecification.TrainingImage).toBe(`${registry.host}/stepbox-cli@${defaultDigest}`);

      const remembered = JSON.parse(await readFile(file, "utf8"));
      await writeFile(file, JSON.stringify({ ...remembered, stepboxVersion: "0.0.1-other" }));
      expect(() => failingPipeline("stale-image", session).definition()).toThrow(/no runtime image/);
      expect(() => failingPipeline("stale-image", session).definition()).toThrow(
        expect.objectContaining({ hint: expect.stringMatching(/holds stepbox 0\.0\.1-other's runner/) }),
      );
      await writeFile(file, "{ not json");
      expect(() => failingPipeline("damaged-image", session).definition()).toThrow(/pushed-image\.json is not a record of a pushed image/);
      await writeFile(file, JSON.stringify(remembered));
    } finally {
      session.close();
      if (saved.config === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved.config;
      if (saved.image !== undefined) process.env.STEPBOX_IMAGE_URI = saved.image;
    }
  });

  it("takes --tag, and the same image has the same digest under it", async () => {
    const pushed = await cliPush([`${registry.host}/stepbox-cli`, "--tag", "dev"]);
    tagged.add(`${registry.host}/stepbox-cli:dev`);
    expect(await registry.manifestDigest("stepbox-cli", "dev")).toBe(pushed.digest);
    expect(pushed.digest).toBe(defaultDigest);
  });

  it("builds on --base-image: one the engine cannot get fails the build, and nothing is pushed", async () => {
    const run = await cli(store.store, ["image", "push", `${registry.host}/stepbox-base-test`, "--base-image", "127.0.0.1:1/no-such-base:1"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^error: the base image 127\.0\.0\.1:1\/no-such-base:1 is not on this machine and cannot be pulled/m);
    expect(run.stderr).not.toMatch(/pushing the runtime image/);
  });

  it("refuses a bad repository URI before anything is built or Docker is asked", async () => {
    const run = await cli(store.store, ["image", "push", "https://127.0.0.1:5000/Stepbox"], undefined, NO_ENGINE);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      'error: the repository "https://127.0.0.1:5000/Stepbox" starts with https://\nhint: leave the scheme out: 127.0.0.1:5000/Stepbox\n',
    );
    const bare = await cli(store.store, ["image", "push", "stepbox"], undefined, NO_ENGINE);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^error: the repository "stepbox" names no registry host\nhint: put the registry's host first/);
    const twoTags = await cli(store.store, ["image", "push", `${registry.host}/stepbox:v1`, "--tag", "v2"], undefined, NO_ENGINE);
    expect(twoTags.code).toBe(2);
    expect(twoTags.stderr).toMatch(/names the tag v1, and the tag v2 was asked for too/);
    const missing = await cli(store.store, ["image", "push"], undefined, NO_ENGINE);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: missing required argument 'repository-uri'\nhint: see stepbox image --help/);
  });

  it("is listed in the help and explains itself with examples", async () => {
    const top = await cli(store.store, ["--help"]);
    expect(top.stdout).toMatch(/^  image /m);
    const help = await cli(store.store, ["image", "push", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: stepbox image push \[options\] <repository-uri>/);
    expect(help.stdout).toMatch(/\nExamples:\n  \$ stepbox image push 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/stepbox\n/);
  });

  it("exits 1 with the fix when the registry cannot be reached", async () => {
    const run = await cli(store.store, ["image", "push", UNREACHABLE]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^error: the registry 127\.0\.0\.1:1 cannot be reached: .*connection refused\nhint: start the registry at 127\.0\.0\.1:1/m);
  });

  it("logs in to an ECR host through the AWS SDK first, and stops at AWS's refusal before any build", async () => {
    const ecr = await startEcrApi({ error: "AccessDeniedException", status: 400 });
    try {
      const env = { ...NO_ENGINE, AWS_ENDPOINT_URL_ECR: ecr.url, AWS_ACCESS_KEY_ID: "AKIDTEST", AWS_SECRET_ACCESS_KEY: "test-secret" };
      const run = await cli(store.store, ["image", "push", "123456789012.dkr.ecr.ap-south-1.amazonaws.com/stepbox"], undefined, env);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^logging in to ECR \(account 123456789012, ap-south-1\)\.\.\.$/m);
      expect(run.stderr).toMatch(/^error: ecr:GetAuthorizationToken on the ECR registry of account 123456789012 in ap-south-1 failed: AccessDeniedException/m);
      expect(run.stderr).toMatch(/^hint: allow ecr:GetAuthorizationToken/m);
      // The region came from the URI.
      expect(ecr.requests.map((r) => r.region)).toContain("ap-south-1");
    } finally {
      await ecr.close();
    }
  });
});

describe("pushRuntimeImage", () => {
  it("returns the pushed digest reference, which a PipelineSession's definition names as the TrainingImage", async () => {
    const pushed = await pushRuntimeImage({ repository: `${registry.host}/stepbox-fn:fn` });
    tagged.add(pushed.tagged);
    expect(pushed.tagged).toBe(`${registry.host}/stepbox-fn:fn`);
    expect(pushed.image.tag).toMatch(/^stepbox-runtime:[0-9a-f]{16}$/);
    expect(pushed.reference).toBe(`${registry.host}/stepbox-fn@${pushed.digest}`);
    expect(await registry.manifestDigest("stepbox-fn", "fn")).toBe(pushed.digest);

    const session = new PipelineSession({
      roleArn: "arn:aws:iam::123456789012:role/stepbox-pipelines",
      s3Root: "s3://stepbox-image-push/cloud",
      region: "us-east-1",
      imageUri: pushed.reference,
    });
    try {
      const definition = JSON.parse(failingPipeline("pushed-image", session).definition());
      const images = definition.Steps.map((s: any) => s.Arguments.AlgorithmSpecification.TrainingImage);
      expect(images.length).toBeGreaterThan(0);
      expect(new Set(images)).toEqual(new Set([pushed.reference]));
    } finally {
      session.close();
    }
  });

  it("is a RegistryError when the registry cannot be reached, and leaves no tag behind", async () => {
    const error = await pushRuntimeImage({ repository: UNREACHABLE }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ code: "REGISTRY", reason: "unreachable", repository: UNREACHABLE });
    expect((error as RegistryError).hint).toMatch(/start the registry at 127\.0\.0\.1:1, or check the host and port/);
    // The failed push left no name for the image on the engine.
    const names = (await docker.listImages()).flatMap((image) => image.RepoTags ?? []);
    expect(names.filter((name) => name.startsWith("127.0.0.1:1/"))).toEqual([]);
  });

  describe("to a registry that asks for a login", () => {
    let locked: TestRegistry;
    let ecr: TestEcrApi;

    beforeAll(async () => {
      locked = await startRegistry({ login: true });
      ecr = await startEcrApi({ login: { ...REGISTRY_USER, proxyEndpoint: locked.url } });
    });

    afterAll(async () => {
      await ecr?.close();
      await locked?.close();
    });

    it("is refused without one, saying docker login is not used", async () => {
      const error = await pushRuntimeImage({ repository: `${locked.host}/locked`, tag: "anonymous" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RegistryError);
      expect(error).toMatchObject({ reason: "refused" });
      expect((error as RegistryError).detail).toMatch(/refused the push to 127\.0\.0\.1:\d+\/locked: .*(auth|credentials)/);
      expect((error as RegistryError).hint).toMatch(/docker login is not used/);
    });

    it("takes the login an ECR GetAuthorizationToken gave", async () => {
      const login = await ecrLogin(
        { accountId: "123456789012", region: "us-east-1" },
        { endpoint: ecr.url, credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "s" } },
      );
      expect(login.serveraddress).toBe(locked.url);
      const pushed = await pushRuntimeImage({ repository: `${locked.host}/locked`, tag: "ecr", login });
      tagged.add(pushed.tagged);
      expect(await locked.manifestDigest("locked", "ecr")).toBe(pushed.digest);
    });
  });
});
