/**
 * The hosts of a multi-host step resolve each other by name for the whole life of the step, whichever
 * exits first, as SageMaker's do; a name that no host has fails at once instead of after the 10 s an
 * internal network's DNS takes to give up on resolvers it cannot reach.
 */
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.js";
import { Pipeline } from "stepbox";
import { peerLookups } from "../fixtures/multi-host-steps.js";
import { leftoverContainers } from "../support/session.js";

describe("names on a multi-host step", () => {
  it("algo-2 resolves algo-1 after algo-1 has exited, and an unknown name fails at once", async ({ ctx }) => {
    const execution = await new Pipeline({ name: "peer-names", steps: [peerLookups()], session: ctx.session }).start();
    const description = await execution.wait();
    expect(description.PipelineExecutionStatus).toBe("Succeeded");
    const printed = ctx.lines.find((l) => l.step === "peerLookups/algo-2" && l.line.startsWith("{"));
    expect(printed).toBeDefined();
    const { peer, unknown } = JSON.parse(printed!.line) as { peer: string[]; unknown: { code: string; ms: number } };
    // Every try resolved, to one and the same address.
    expect(peer).toHaveLength(20);
    expect(new Set(peer).size).toBe(1);
    expect(peer[0]).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // Refused, not timed out: Docker's DNS took 10 s here, a refusing resolver takes milliseconds.
    expect(unknown.code).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
    expect(unknown.ms).toBeLessThan(3000);
    expect(await leftoverContainers(execution.id)).toEqual([]);
  });
});
