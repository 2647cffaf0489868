/**
 * What the serve tests share: stepbox serve on a fresh store, on a free port of the loopback, and the
 * real AWS SDK client for SageMaker pointed at it with fake static credentials.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SageMakerClient } from "@aws-sdk/client-sagemaker";

export const DEFINITION_FILE = join(import.meta.dirname, "..", "fixtures", "serve", "definition.json");
export const ROLE_ARN = "arn:aws:iam::000000000000:role/stepbox-local";

export function definitionText(): Promise<string> {
  return readFile(DEFINITION_FILE, "utf8");
}

/** The SDK client as a user makes it, for an endpoint: any credentials, any region. */
export function sageMakerClient(endpoint: string): SageMakerClient {
  return new SageMakerClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDSTEPBOXTEST", secretAccessKey: "not-checked" },
    // A test that expects an error gets it at once, not after the SDK's retries.
    maxAttempts: 1,
  });
}

export async function tempRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "stepbox-serve-test-"));
  return { root, cleanup: () => rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }) };
}

/** The error a request was answered with, as the SDK throws it. */
export async function rejection(request: Promise<unknown>): Promise<Error & { name: string; $metadata: { httpStatusCode?: number } }> {
  const outcome = await request.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`the request succeeded, with ${JSON.stringify(outcome.value)}`);
  return outcome.error as Error & { name: string; $metadata: { httpStatusCode?: number } };
}
