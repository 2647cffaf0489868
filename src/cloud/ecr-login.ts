/**
 * A push login for an Amazon ECR registry, from ECR's GetAuthorizationToken with the AWS SDK's
 * credentials: what `docker login` would get from `aws ecr get-login-password`, without Docker's
 * config or a credential helper. The region is the registry's own, read from its host.
 */
import type { ECRClientConfig } from "@aws-sdk/client-ecr";
import { CloudError } from "../errors.js";
import type { EcrRegistry, RegistryLogin } from "../runtime/registry-repository.js";
import { awsCall } from "./aws-calls.js";

export interface EcrLoginOptions {
  /** The ECR API endpoint. @default env.AWS_ENDPOINT_URL_ECR (read by the AWS SDK), else AWS itself */
  endpoint?: string | undefined;
  /** @default the SDK's standard chain: environment, shared config and SSO profiles, container and instance roles */
  credentials?: ECRClientConfig["credentials"];
  /** How many times the SDK tries the call before it reports a fault. @default 5 */
  maxAttempts?: number | undefined;
}

/** A login for an ECR registry; valid for 12 hours. */
export interface EcrLogin extends RegistryLogin {
  /** When ECR stops taking it. */
  readonly expiresAt: Date | undefined;
}

/**
 * Reads an authorization token, base64 of `AWS:<password>`, into the user name and password a
 * registry takes. `resource` names the registry in the error.
 */
export function decodeAuthorizationToken(token: string, resource: string): { username: string; password: string } {
  const text = Buffer.from(token, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0 || colon === text.length - 1) {
    throw new CloudError({
      operation: "ecr:GetAuthorizationToken",
      resource,
      awsCode: "InvalidAuthorizationToken",
      reason: "the authorization token ECR answered is not base64 of user:password",
      hint: "check AWS_ENDPOINT_URL_ECR: the endpoint that answered may not be ECR's",
    });
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Logs in to the ECR registry of `registry`'s account and region, for a push. */
export async function ecrLogin(registry: EcrRegistry, options: EcrLoginOptions = {}): Promise<EcrLogin> {
  const resource = `the ECR registry of account ${registry.accountId} in ${registry.region}`;
  // Loaded on first use, as the SageMaker client is: only a push to ECR needs it.
  const { ECRClient, GetAuthorizationTokenCommand } = await import("@aws-sdk/client-ecr");
  const client = new ECRClient({
    region: registry.region,
    maxAttempts: options.maxAttempts ?? 5,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
  });
  try {
    // registryIds is deprecated: the token ECR gives is for the caller's own account's registry.
    const answer = await awsCall("ecr:GetAuthorizationToken", resource, () => client.send(new GetAuthorizationTokenCommand({})));
    const data = answer.authorizationData?.[0];
    if (!data?.authorizationToken || !data.proxyEndpoint) {
      throw new CloudError({
        operation: "ecr:GetAuthorizationToken",
        resource,
        awsCode: "NoAuthorizationData",
        reason: "ECR answered without an authorization token or proxy endpoint",
        hint: "check AWS_ENDPOINT_URL_ECR: the endpoint that answered may not be ECR's",
      });
    }
    return { ...decodeAuthorizationToken(data.authorizationToken, resource), serveraddress: data.proxyEndpoint, expiresAt: data.expiresAt };
  } finally {
    client.destroy();
  }
}
