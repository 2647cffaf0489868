/**
 * A real container registry for tests: Debian's docker-registry (distribution 2.8), on 127.0.0.1 at a
 * port it picks, storing in a temp folder. The Docker engine treats 127.0.0.0/8 registries as insecure
 * by default, so it pushes to it over plain HTTP. scripts/ensure-registry.sh installs it.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exited } from "./processes.js";

const BINARY = "/usr/bin/docker-registry";

/**
 * A user the registry with `login: true` takes, with the password's bcrypt hash (cost 4), which is
 * what its htpasswd file holds. ECR's logins have the user name AWS too.
 */
export const REGISTRY_USER = { username: "AWS", password: "stepbox-test-password" } as const;
const PASSWORD_BCRYPT = "$2a$04$HVq6yx/0JzDtBGtXt.5UxOvKR98KfVY5OopC/GrvHeXeaNrBHcM3W";

export interface TestRegistry {
  /** `127.0.0.1:<port>`: the host part of its repositories. */
  readonly host: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The digest the registry gives the manifest of `name:tag` (Docker-Content-Digest), as a pull would see it. */
  manifestDigest(name: string, tag: string): Promise<string | undefined>;
  /** Stops the registry (and waits until it has exited) and removes its folder. */
  close(): Promise<void>;
}

/** Polls `GET /v2/` until the registry answers, or it exits: it then says why on stderr. */
async function answering(url: string, child: ReturnType<typeof spawn>, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${stderr()}`);
    const status = await fetch(`${url}/v2/`).then(
      (r) => r.status,
      () => undefined,
    );
    // 401 is an answer too: a registry that asks for a login.
    if (status === 200 || status === 401) return;
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer GET /v2/ at ${url}:\n${stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts a registry; with `login`, it asks for {@link REGISTRY_USER}. */
export async function startRegistry(options: { login?: boolean } = {}): Promise<TestRegistry> {
  const folder = await mkdtemp(join(tmpdir(), "stepbox-registry-test-"));
  const auth = options.login ? `auth:\n  htpasswd:\n    realm: stepbox-test\n    path: ${join(folder, "htpasswd")}\n` : "";
  if (options.login) await writeFile(join(folder, "htpasswd"), `${REGISTRY_USER.username}:${PASSWORD_BCRYPT}\n`);
  const config = join(folder, "config.yml");
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(folder, "data")}\n` +
      `http:\n  addr: 127.0.0.1:0\n${auth}`,
  );
  const child = spawn(BINARY, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited(child);
    await rm(folder, { recursive: true, force: true });
  };
  try {
    // Port 0: the registry picks a free one and says which.
    const port = await new Promise<string>((resolve, reject) => {
      const look = (): void => {
        const match = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
        if (match) {
          child.stderr.off("data", look);
          resolve(match[1]!);
        }
      };
      child.stderr.on("data", look);
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`docker-registry exited (${code}) before it listened:\n${err}`)));
    });
    const host = `127.0.0.1:${port}`;
    const url = `http://${host}`;
    await answering(url, child, () => err);
    const authorization = options.login ? `Basic ${Buffer.from(`${REGISTRY_USER.username}:${REGISTRY_USER.password}`).toString("base64")}` : undefined;
    return {
      host,
      url,
      async manifestDigest(name, tag) {
        const answer = await fetch(`${url}/v2/${name}/manifests/${tag}`, {
          method: "HEAD",
          headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json", ...(authorization ? { Authorization: authorization } : {}) },
        });
        return answer.ok ? (answer.headers.get("docker-content-digest") ?? undefined) : undefined;
      },
      close: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
