/**
 * A real HTTP server that answers Amazon ECR's GetAuthorizationToken as ECR does (AWS JSON 1.1), for
 * the real AWS SDK client to call through AWS_ENDPOINT_URL_ECR or an endpoint option: a login with a
 * password and proxy endpoint of the test's choosing, or an AWS error. Nothing else of ECR.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

const TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";

/** What the server answers. */
export type EcrAnswer =
  | { readonly login: { readonly username: string; readonly password: string; readonly proxyEndpoint: string } }
  /** An AWS error: `__type` and HTTP status. */
  | { readonly error: string; readonly status: number }
  /** A token that is not base64 of user:password. */
  | { readonly token: string; readonly proxyEndpoint: string };

export interface EcrRequest {
  readonly target: string | undefined;
  /** The region of the request's SigV4 credential scope. */
  readonly region: string | undefined;
  readonly body: string;
}

export interface TestEcrApi {
  readonly url: string;
  /** What the server answers from now on. */
  answer(next: EcrAnswer): void;
  readonly requests: readonly EcrRequest[];
  close(): Promise<void>;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of request) text += String(chunk);
  return text;
}

export async function startEcrApi(first: EcrAnswer): Promise<TestEcrApi> {
  let current = first;
  const requests: EcrRequest[] = [];
  const server = createServer(async (request, response) => {
    const body = await bodyOf(request);
    const target = request.headers["x-amz-target"] as string | undefined;
    const region = /Credential=[^/]+\/\d{8}\/([^/]+)\/ecr\/aws4_request/.exec(request.headers.authorization ?? "")?.[1];
    requests.push({ target, region, body });
    const send = (status: number, json: object): void => {
      response.writeHead(status, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": "test" }).end(JSON.stringify(json));
    };
    if (target !== TARGET) return send(400, { __type: "UnknownOperationException", message: `this test server answers only ${TARGET}` });
    const expiresAt = Math.floor(Date.now() / 1000) + 12 * 3600;
    if ("error" in current) return send(current.status, { __type: current.error, message: `test answer: ${current.error}` });
    const token = "token" in current ? current.token : Buffer.from(`${current.login.username}:${current.login.password}`).toString("base64");
    const proxyEndpoint = "token" in current ? current.proxyEndpoint : current.login.proxyEndpoint;
    send(200, { authorizationData: [{ authorizationToken: token, expiresAt, proxyEndpoint }] });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    answer: (next) => (current = next),
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
