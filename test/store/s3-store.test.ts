import { afterAll, beforeAll } from "vitest";
import { S3Store } from "../../src/store/s3-store.js";
import { startS3Server, type S3TestServer } from "../support/s3-server.js";
import { describeArtifactStoreContract } from "./store-contract.js";

let s3: S3TestServer;
let count = 0;

beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.close();
});

function storeAt(prefix: string): S3Store {
  return new S3Store({
    bucket: s3.bucket,
    prefix,
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    env: {},
  });
}

describeArtifactStoreContract("S3Store", async () => storeAt(`runs-${++count}`));
