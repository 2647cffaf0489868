/**
 * `stepbox logs` on a step that runs on two hosts: each line names the host that printed it, read
 * live from the containers with --follow and from the store afterwards, while a single-host step's
 * lines keep their format.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, cliTestStore, FIXTURES, startCli, startedExecution } from "./cli.js";

const ctx = cliTestStore();

const HOSTS = ["algo-1", "algo-2"];
/** The fixture's default: each host prints this many lines, 250 ms apart. */
const LINES = 24;

/** What host `host` of the shard step prints, each line prefixed with the step and the host. */
const hostLines = (host: string): string[] => Array.from({ length: LINES }, (_, i) => `[shard/${host}] ${host} line ${i + 1}`);

describe("a step on two hosts", () => {
  it("logs --follow and logs say which host printed each line", async () => {
    const run = startCli(ctx.store, ["run", join(FIXTURES, "two-hosts.ts")]);
    const id = startedExecution((await run.waitFor(/^\[shard\/algo-2\] algo-2 line 2$/m)).input!);
    const follow = startCli(ctx.store, ["logs", id, "shard", "--follow"]);
    await follow.waitFor(/^\[shard\/algo-2\] algo-2 line 5$/m);
    // Read from the containers while they run: the store gets the logs only when the step ends.
    expect(run.stdout()).not.toContain("shard: Succeeded");

    const followed = await follow.exited;
    expect(followed.code).toBe(0);
    expect((await run.exited).code).toBe(0);
    // The hosts' lines interleave in no fixed order; each host's come in order, each once.
    const lines = followed.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(HOSTS.length * LINES);
    for (const host of HOSTS) expect(lines.filter((l) => l.startsWith(`[shard/${host}] `))).toEqual(hostLines(host));

    // From the store: one stream per host, `<job>/algo-<i>-<epoch>`, each under its header.
    const stored = await cli(ctx.store, ["logs", id, "shard"]);
    expect(stored.code).toBe(0);
    const sections = stored.stdout.split(/^==> shard: (\S+) <==\n/m).slice(1);
    expect(sections).toHaveLength(HOSTS.length * 2);
    for (let i = 0; i < sections.length; i += 2) {
      const host = /\/(algo-\d)-\d+$/.exec(sections[i]!)?.[1];
      expect(host, sections[i]).toBeDefined();
      expect(sections[i + 1]!.trimEnd().split("\n")).toEqual(hostLines(host!));
    }

    // Next to it, a step on one host keeps `[step] line`; --json keeps the line as printed.
    const all = await cli(ctx.store, ["logs", id]);
    expect(all.stdout).toMatch(/^\[greet\] greeting alone$/m);
    expect(all.stdout).toMatch(/^\[shard\/algo-1\] algo-1 line 1$/m);
    const json = (await cli(ctx.store, ["logs", id, "shard", "--json"])).stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { stream: string; line: string });
    expect(json.find((j) => j.line === "algo-2 line 1")?.stream).toMatch(/\/algo-2-\d+$/);
  });
});
