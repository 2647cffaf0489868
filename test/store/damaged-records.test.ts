/**
 * Records that are valid JSON but not records (null, a list, a number where a status belongs) are
 * named as damaged by their key, never half-read; listing executions skips a damaged one with a
 * warning instead of failing for the whole pipeline (API and command line).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalPipelineSession, Pipeline, step } from "stepbox";
import { layout } from "../../src/store/layout.js";
import { LocalFileStore } from "../../src/store/local-store.js";
import { DamagedRecordError, RecordStore, type ExecutionRecord } from "../../src/store/records.js";
import { cli, cliTestStore } from "../cli/cli.js";

const ctx = cliTestStore();

function executionRecord(id: string, status: ExecutionRecord["PipelineExecutionStatus"] = "Succeeded"): ExecutionRecord {
  const now = new Date().toISOString();
  return {
    PipelineName: "damaged",
    PipelineArn: "arn:aws:sagemaker:local:000000000000:pipeline/damaged",
    PipelineExecutionId: id,
    PipelineExecutionArn: `arn:aws:sagemaker:local:000000000000:pipeline/damaged/execution/${id}`,
    PipelineExecutionDisplayName: id,
    PipelineExecutionStatus: status,
    CreationTime: now,
    LastModifiedTime: now,
    ParallelismConfiguration: { MaxParallelExecutionSteps: 1 },
    PipelineParameters: [],
    ParameterValues: {},
    StepNames: ["noop"],
    Owner: "elsewhere:1",
  };
}

async function writeRaw(root: string, key: string, text: string): Promise<void> {
  await mkdir(dirname(join(root, key)), { recursive: true });
  await writeFile(join(root, key), text);
}

describe("damaged records", () => {
  it("are errors that name their key and what is wrong, for every wrong shape", async () => {
    const records = new RecordStore(new LocalFileStore(ctx.store));
    const cases: Array<[string, string, RegExp]> = [
      ["null", "null", /it is null, not an object/],
      ["list", "[]", /it is a list, not an object/],
      ["number-status", JSON.stringify({ ...executionRecord("x"), PipelineExecutionStatus: 3 }), /PipelineExecutionStatus is 3, not one of/],
      ["no-steps", JSON.stringify({ ...executionRecord("x"), StepNames: "noop" }), /StepNames is not a list of strings/],
      ["not-json", "{", /it is not valid JSON/],
    ];
    for (const [id, text, problem] of cases) {
      const key = layout.execution("shapes", id);
      await writeRaw(ctx.store, key, text);
      const error = await records.readExecution("shapes", id).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, id).toBeInstanceOf(DamagedRecordError);
      expect((error as DamagedRecordError).key, id).toBe(key);
      expect((error as Error).message, id).toMatch(problem);
      expect((error as Error).message, id).toContain(`${ctx.store}/${key} is damaged`);
    }
    await writeRaw(ctx.store, layout.step("shapes", "s", "noop"), JSON.stringify({ StepName: "noop", StepStatus: "Done" }));
    await expect(records.readStep("shapes", "s", "noop")).rejects.toThrow(/StepDisplayName is not a string/);
  });

  it("are skipped, with a warning, when executions are listed: by the API and by stepbox executions", async () => {
    const good = executionRecord("goodexecution");
    await writeRaw(ctx.store, layout.execution("damaged", good.PipelineExecutionId), JSON.stringify(good));
    await writeRaw(ctx.store, layout.execution("damaged", "brokenrecord"), "null");
    const noop = step(function noop() {
      return 1;
    });
    const warnings: string[] = [];
    const session = new LocalPipelineSession({
      artifactRoot: ctx.store,
      secret: "x",
      logger: { warn: (_fields: object, message: string) => warnings.push(message) } as never,
    });
    const pipeline = new Pipeline({ name: "damaged", steps: [noop()], session });
    await pipeline.upsert();
    const listed = await pipeline.listExecutions();
    expect(listed.PipelineExecutionSummaries.map((s) => s.PipelineExecutionDisplayName)).toEqual(["goodexecution"]);
    expect(warnings).toEqual([expect.stringMatching(/^skipped the execution record at .*damaged\/brokenrecord\/execution\.json is damaged: it is null/)]);

    const listing = await cli(ctx.store, ["executions", "damaged", "--json"]);
    expect(listing.code).toBe(0);
    expect(JSON.parse(listing.stdout).map((e: { PipelineExecutionId: string }) => e.PipelineExecutionId)).toEqual(["goodexecution"]);
    expect(listing.stderr).toMatch(/^warning: skipped the execution record at .*brokenrecord\/execution\.json is damaged: it is null, not an object\n$/);
  });
});
