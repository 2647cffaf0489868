/**
 * Every record the store keeps besides executions, steps and pipelines is shape-checked when read too:
 * job records (for `stepbox shell`), pipeline-file records (for `stepbox retry`) and step-cache entries
 * (read by `stepbox gc`). A damaged one is a DamagedRecordError naming its key; gc skips a damaged
 * cache entry with a warning and goes on.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipelineSession } from "stepbox";
import { readPipelineFile } from "../../src/cli/pipeline-file-record.js";
import type { JobRecord } from "../../src/runtime/step-runtime.js";
import { readJobRecord, writeJobRecord } from "../../src/store/job-records.js";
import { layout } from "../../src/store/layout.js";
import { LocalFileStore } from "../../src/store/local-store.js";
import { DamagedRecordError, RecordStore, type ExecutionRecord } from "../../src/store/records.js";
import { buildCli, cli } from "../cli/cli.js";

let base: string;
let count = 0;

beforeAll(async () => {
  await buildCli();
  base = await mkdtemp(join(tmpdir(), "stepbox-record-validation-"));
}, 300_000);
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const freshRoot = (): string => join(base, `store-${++count}`);

async function writeRaw(root: string, key: string, text: string): Promise<void> {
  await mkdir(dirname(join(root, key)), { recursive: true });
  await writeFile(join(root, key), text);
}

async function damaged(read: Promise<unknown>): Promise<DamagedRecordError> {
  const error: unknown = await read.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DamagedRecordError);
  return error as DamagedRecordError;
}

const JOB: JobRecord = {
  pipelineName: "p",
  executionId: "e",
  stepName: "train",
  jobName: "train-e",
  jobArn: "arn:aws:sagemaker:local:000000000000:training-job/train-e",
  image: "stepbox-runtime:abc",
  definitionKey: "train",
  entrypoint: undefined,
  containerArguments: [],
  environment: { A: "1" },
  instanceType: "ml.m5.large",
  instanceCount: 1,
  cpus: 2,
  memoryBytes: 8 * 1024 ** 3,
  hyperparameters: {},
  channels: [{ name: "train", hostPath: "/data", uri: "file:///data" }],
  network: false,
  maxRuntimeSeconds: 86_400,
  outputLimitBytes: 1024,
};

describe("records read with a shape check", () => {
  it("job records: a good one reads back, each wrong shape is named with its key", async () => {
    const root = freshRoot();
    const store = new LocalFileStore(root);
    await writeJobRecord(store, JOB);
    expect(await readJobRecord(store, "p", "e", "train")).toEqual(JOB);
    expect(await readJobRecord(store, "p", "e", "never-ran")).toBeUndefined();

    const key = layout.job("p", "e", "train");
    const cases: Array<[string, RegExp]> = [
      ["null", /it is null, not an object/],
      ["[]", /it is a list, not an object/],
      ["{", /it is not valid JSON/],
      [JSON.stringify({ ...JOB, instanceCount: "2" }), /instanceCount is not a whole number >= 1/],
      [JSON.stringify({ ...JOB, channels: [{ name: "train" }] }), /channels is not a list of \{ name, hostPath \} strings/],
      [JSON.stringify({ ...JOB, environment: { A: 1 } }), /environment is not an object of strings/],
      [JSON.stringify({ ...JOB, image: null }), /image is not a string/],
    ];
    for (const [text, problem] of cases) {
      await writeRaw(root, key, text);
      const error = await damaged(readJobRecord(store, "p", "e", "train"));
      expect(error.key, text).toBe(key);
      expect(error.detail, text).toMatch(new RegExp(`^the job record at ${store.uri}/${key} is damaged: ${problem.source}$`));
    }
    // A job record from before stepbox kept the optional fields still reads.
    const {
      jobArn: _arn,
      definitionKey: _definition,
      cpus: _cpus,
      memoryBytes: _memory,
      network: _network,
      maxRuntimeSeconds: _max,
      outputLimitBytes: _limit,
      ...older
    } = JOB;
    await writeRaw(root, key, JSON.stringify(older));
    expect(await readJobRecord(store, "p", "e", "train")).toEqual(older);
  });

  it("pipeline-file records: a wrong shape is named with its key, a missing one says how to retry", async () => {
    const root = freshRoot();
    const session = new LocalPipelineSession({ artifactRoot: root, secret: "x" });
    const key = layout.pipelineFile("p", "e");
    await writeRaw(root, key, JSON.stringify({ File: "/srv/pipeline.ts", Export: "default" }));
    expect(await readPipelineFile(session, "p", "e")).toEqual({ File: "/srv/pipeline.ts", Export: "default" });
    await writeRaw(root, key, JSON.stringify({ File: 3, Export: "default" }));
    const error = await damaged(readPipelineFile(session, "p", "e"));
    expect(error.key).toBe(key);
    expect(error.detail).toMatch(/the pipeline file record at .* is damaged: File is not a string$/);
    await expect(readPipelineFile(session, "p", "other")).rejects.toThrow(/execution other was not started by `stepbox run`/);
  });

  it("step-cache entries: gc skips a damaged one with a warning naming its key, and removes the stale good one", async () => {
    const root = freshRoot();
    const records = new RecordStore(new LocalFileStore(root));
    const old = "2026-01-01T00:00:00.000Z";
    await records.writePipeline({
      PipelineName: "p",
      PipelineArn: "arn:p",
      PipelineDisplayName: "p",
      PipelineDefinition: "{}",
      CreationTime: old,
      LastModifiedTime: old,
    });
    const execution: ExecutionRecord = {
      PipelineName: "p",
      PipelineArn: "arn:p",
      PipelineExecutionId: "ended",
      PipelineExecutionArn: "arn:p/execution/ended",
      PipelineExecutionDisplayName: "ended",
      PipelineExecutionStatus: "Succeeded",
      CreationTime: old,
      LastModifiedTime: old,
      ParallelismConfiguration: { MaxParallelExecutionSteps: 1 },
      PipelineParameters: [],
      ParameterValues: {},
      StepNames: ["train"],
      Owner: "another-host:1",
    };
    await records.writeExecution(execution);
    const entry = { Key: "k1", Parts: {}, SourcePipelineExecutionId: "ended", SourcePipelineExecutionArn: "arn:p/execution/ended", CreationTime: old };
    await writeRaw(root, "p/.cache/train/k1.json", JSON.stringify(entry));
    await writeRaw(root, "p/.cache/train/k2.json", JSON.stringify({ ...entry, Key: "k2", SourcePipelineExecutionId: ["ended"] }));

    const gc = await cli(root, ["gc", "--older-than", "1d", "--json"]);
    expect(gc.code).toBe(0);
    expect(gc.stderr).toMatch(
      /^warning: skipped the step-cache entry at file:\/\/.*\/p\/\.cache\/train\/k2\.json is damaged: SourcePipelineExecutionId is not a string\n$/,
    );
    expect(JSON.parse(gc.stdout)).toMatchObject({ Removed: [{ PipelineExecutionId: "ended" }], RemovedCacheEntries: 1 });
    expect(await readdir(join(root, "p/.cache/train"))).toEqual(["k2.json"]);
  });
});
