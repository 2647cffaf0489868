/**
 * Integrity without a shared secret: a client that signs a step's function and arguments with its own
 * ECDSA P-256 key, and gives the job only the public key (REMOTE_FUNCTION_SECRET_KEY in the Training
 * step's Environment, as the SageMaker SDK does), has its payloads checked against that key by the
 * engine; a payload altered after it was signed, or a definition naming another key, fails the step
 * with the SDK's integrity message. On the in-process runtime, through the real engine.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pipeline } from "stepbox";
import { JOB_PUBLIC_KEY_ENV, generateJobSigningKey, type JobSigningKey, signJobPayload } from "../../src/serialization/asymmetric-signing.js";
import type { LocalPipelineSession } from "../../src/session/local-pipeline-session.js";
import { add } from "../fixtures/scheduler-steps.js";
import { inProcessSession } from "../support/in-process-runtime.js";

let root: string;
let session: LocalPipelineSession;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "stepbox-client-signatures-"));
  ({ session } = inProcessSession(root));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

type Step = { Type: string; Arguments: { Environment: Record<string, string>; AlgorithmSpecification: { ContainerArguments: unknown[] } } };

/**
 * Upserts a one-step pipeline, then does what a signing client does: signs the stored function and
 * arguments with `signer` and names `named`'s public key in the definition.
 */
async function signedByClient(name: string, signer: JobSigningKey, named: JobSigningKey): Promise<{ build: string }> {
  await new Pipeline({ name, steps: [add(20, 22)], session }).upsert();
  const record = (await session.records.readPipeline(name))!;
  const definition = JSON.parse(record.PipelineDefinition) as { Steps: Step[] };
  const step = definition.Steps[0]!;
  step.Arguments.Environment[JOB_PUBLIC_KEY_ENV] = named.publicKeyPem;
  const args = step.Arguments.AlgorithmSpecification.ContainerArguments;
  const build = args[args.indexOf("--func_step_s3_dir") + 1] as string;
  for (const [payload, metadata] of [
    ["function/code.mjs", "function/metadata.json"],
    ["arguments/payload.bin", "arguments/metadata.json"],
  ] as const) {
    const bytes = await session.store.get(`${name}/add/${build}/${payload}`);
    await session.store.put(`${name}/add/${build}/${metadata}`, JSON.stringify(signJobPayload(bytes, signer)));
  }
  await session.records.writePipeline({ ...record, PipelineDefinition: JSON.stringify(definition) });
  return { build };
}

describe("payloads a client signed", () => {
  it("run when they check out against the public key the definition gives", async () => {
    const key = generateJobSigningKey();
    await signedByClient("signed", key, key);
    const execution = await session.startDefinition("signed");
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Succeeded");
    expect(await execution.result("add")).toBe(42);
  });

  it("fail the step when altered after they were signed", async () => {
    const key = generateJobSigningKey();
    const { build } = await signedByClient("altered", key, key);
    const bytes = await session.store.get(`altered/add/${build}/arguments/payload.bin`);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    await session.store.put(`altered/add/${build}/arguments/payload.bin`, bytes);
    const execution = await session.startDefinition("altered");
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    const [step] = await execution.listSteps();
    expect(step!.FailureReason).toMatch(/Integrity check for the serialized function or data failed/);
  });

  it("fail the step when the definition names another key than the one that signed them", async () => {
    await signedByClient("other-key", generateJobSigningKey(), generateJobSigningKey());
    const execution = await session.startDefinition("other-key");
    expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
    const [step] = await execution.listSteps();
    expect(step!.FailureReason).toMatch(/Integrity check for the serialized function or data failed/);
  });
});
