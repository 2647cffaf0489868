/**
 * A session that runs pipelines in SageMaker Pipelines, as the Python SDK's `PipelineSession`: the same
 * `Pipeline` object, given one, uploads its functions and arguments under `s3Root`, creates or
 * updates the pipeline with its definition, and starts and follows executions there. `stepbox serve`
 * answers the same calls on this machine (`endpoint`, or `AWS_ENDPOINT_URL_SAGEMAKER`).
 */
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { SageMakerClient, SageMakerClientConfig } from "@aws-sdk/client-sagemaker";
import { ValidationError } from "../errors.js";
import type { DefinitionContext } from "../definition/emit-definition.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { parseExecutionArn } from "../naming/sagemaker-arns.js";
import { StepBundler } from "../runtime/bundle.js";
import { deriveJobSigningKey, type JobSigningKey } from "../serialization/asymmetric-signing.js";
import { loadMasterKeySync } from "../serialization/master-key.js";
import type { ArtifactStore } from "../store/artifact-store.js";
import { openArtifactStore } from "../store/open-store.js";
import type { S3ConnectionOptions } from "../store/s3-client.js";
import { awsCall } from "./aws-calls.js";
import { CloudPipelineExecution } from "./cloud-execution.js";
import { S3Objects } from "./s3-objects.js";
import { lastPushedImage } from "./pushed-image.js";
import { stepboxPackageSync } from "../runtime/package-manifest.js";

export interface PipelineSessionOptions {
  /**
   * The role every training job of the pipeline runs as (SageMaker passes it to the jobs), and the
   * pipeline's role. Needed to deploy; reading executions does without.
   * @default env.STEPBOX_ROLE_ARN
   */
  roleArn?: string;
  /**
   * `s3://bucket[/prefix]`: where functions, arguments and results are stored. Needed to deploy.
   * @default env.STEPBOX_S3_ROOT
   */
  s3Root?: string;
  /**
   * The runtime image every function step runs in, as pushed by `stepbox image push` (a digest reference
   * is best: the definition then names exactly what runs). A step's own `imageUri` option wins.
   * @default env.STEPBOX_IMAGE_URI, else the image `stepbox image push` pushed last from this machine (when this version of stepbox pushed it)
   */
  imageUri?: string;
  /** @default env.AWS_REGION, else env.AWS_DEFAULT_REGION */
  region?: string;
  /**
   * The SageMaker API endpoint, e.g. `stepbox serve`'s `http://127.0.0.1:8080`.
   * @default env.AWS_ENDPOINT_URL_SAGEMAKER (read by the AWS SDK), else AWS itself
   */
  endpoint?: string;
  /** The S3 endpoint. @default env.AWS_ENDPOINT_URL_S3, else AWS itself */
  s3Endpoint?: string;
  /**
   * The CloudWatch Logs endpoint, where the jobs' logs are read (`stepbox serve` answers those calls too).
   * @default env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS (read by the AWS SDK), else AWS itself
   */
  logsEndpoint?: string;
  /** @default the SDK's standard chain: environment, shared config and SSO profiles, container and instance roles */
  credentials?: SageMakerClientConfig["credentials"];
  /** How many times the SDK tries one call before it reports a fault (throttling, 5xx, network). @default 5 */
  maxAttempts?: number;
  /**
   * The secret the pipeline's payload-signing key derives from: the same pipeline gets the same key
   * pair, so its definition has the same bytes from every machine that shares the secret.
   * @default STEPBOX_SECRET when set, else the key file in ~/.config/stepbox/secret
   */
  secret?: string;
  /** How often wait() and result() look at a running execution at first; it grows to 20 s. @default 1000 */
  pollIntervalMs?: number;
  /** @default a pino logger on stderr at STEPBOX_LOG_LEVEL */
  logger?: Logger;
}

/** The SageMaker SDK's commands and a client: loaded on first use, so `import("stepbox")` does not pay for them. */
export interface SageMakerApi {
  readonly sdk: typeof import("@aws-sdk/client-sagemaker");
  readonly client: SageMakerClient;
}

/** The CloudWatch Logs SDK's commands and a client, loaded on first use. */
export interface LogsApi {
  readonly sdk: typeof import("@aws-sdk/client-cloudwatch-logs");
  readonly client: CloudWatchLogsClient;
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const S3_ROOT = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/[^\s]*[^\s/])?$/;

/** Whether a step's input channel is a folder (or file) of this machine, which a cloud job cannot read until it is uploaded. */
export function isLocalChannel(uri: string): boolean {
  return uri.startsWith("file://");
}

/** The key under s3Root that a local channel is uploaded to: `<pipeline>/inputs/<step>/<channel>`. */
export function uploadedChannelKey(pipelineName: string, step: string, channel: string): string {
  return `${pipelineName}/inputs/${step}/${channel}`;
}

/** SageMaker Pipelines in the cloud (or `stepbox serve`): what a `Pipeline` given this session talks to. */
export class PipelineSession {
  readonly #roleArn: string | undefined;
  readonly #s3Root: string | undefined;
  readonly region: string;
  readonly imageUri: string | undefined;
  readonly #s3: S3ConnectionOptions;
  #store: ArtifactStore | undefined;
  /** Reads of any `s3://` URI a job wrote (results, exceptions), as plain objects. */
  readonly objects: S3Objects;
  readonly bundler = new StepBundler();
  readonly logger: Logger;
  readonly pollIntervalMs: number;
  readonly #secret: string | undefined;
  readonly #keys = new Map<string, JobSigningKey>();
  #masterKey: Buffer | undefined;
  readonly #clientConfig: SageMakerClientConfig;
  #api: Promise<SageMakerApi> | undefined;
  #logsApi: Promise<LogsApi> | undefined;
  readonly #logsEndpoint: string | undefined;

  constructor(options: PipelineSessionOptions) {
    if (!options || typeof options !== "object") {
      throw new ValidationError("new PipelineSession() takes an options object", {
        hint: 'new PipelineSession({ roleArn: "arn:aws:iam::123456789012:role/pipelines", s3Root: "s3://my-bucket/stepbox" })',
      });
    }
    const known = [
      "roleArn",
      "s3Root",
      "imageUri",
      "region",
      "endpoint",
      "s3Endpoint",
      "logsEndpoint",
      "credentials",
      "maxAttempts",
      "secret",
      "pollIntervalMs",
      "logger",
    ];
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) throw new ValidationError(`new PipelineSession(): unknown option "${key}"`, { hint: `the options are: ${known.join(", ")}` });
    }
    const roleArn = options.roleArn ?? (process.env.STEPBOX_ROLE_ARN || undefined);
    if (roleArn !== undefined && (typeof roleArn !== "string" || !ROLE_ARN.test(roleArn))) {
      throw new ValidationError(`new PipelineSession(): roleArn ${JSON.stringify(roleArn)} is not an IAM role ARN`, {
        hint: "give the role SageMaker runs the pipeline's jobs as, e.g. arn:aws:iam::123456789012:role/stepbox-pipelines",
      });
    }
    const s3Root = options.s3Root ?? (process.env.STEPBOX_S3_ROOT || undefined);
    if (s3Root !== undefined && (typeof s3Root !== "string" || !S3_ROOT.test(s3Root))) {
      throw new ValidationError(`new PipelineSession(): s3Root ${JSON.stringify(s3Root)} is not an s3://bucket[/prefix] URI without a trailing slash`, {
        hint: 'e.g. s3Root: "s3://my-bucket/stepbox"',
      });
    }
    const region = options.region ?? (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION);
    if (typeof region !== "string" || !/^[a-z]{2}(?:-[a-z]+)+-\d+$|^local$/.test(region)) {
      throw new ValidationError(
        `new PipelineSession(): ${region === undefined ? "no region is given" : `region ${JSON.stringify(region)} is not an AWS region`}`,
        {
          hint: 'pass region (e.g. "us-east-1") or set AWS_REGION',
        },
      );
    }
    const imageUri = options.imageUri ?? (process.env.STEPBOX_IMAGE_URI || undefined);
    if (imageUri !== undefined && (typeof imageUri !== "string" || imageUri.trim() === "" || /\s/.test(imageUri))) {
      throw new ValidationError(`new PipelineSession(): imageUri ${JSON.stringify(imageUri)} is not an image reference`, {
        hint: "give what `stepbox image push <repository>` printed, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/stepbox@sha256:...",
      });
    }
    const maxAttempts = options.maxAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new ValidationError(`new PipelineSession(): maxAttempts must be a whole number >= 1, got ${String(options.maxAttempts)}`);
    }
    const poll = options.pollIntervalMs ?? 1000;
    if (!Number.isFinite(poll) || poll < 1) throw new ValidationError(`new PipelineSession(): pollIntervalMs must be a number >= 1, got ${String(poll)}`);
    this.#roleArn = roleArn;
    this.#s3Root = s3Root;
    this.region = region;
    this.imageUri = imageUri;
    this.pollIntervalMs = poll;
    this.logger = options.logger ?? createLogger();
    this.#secret = options.secret;
    this.#logsEndpoint = options.logsEndpoint;
    this.#clientConfig = {
      region,
      maxAttempts,
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    };
    const s3 = {
      region,
      maxAttempts,
      ...(options.s3Endpoint !== undefined ? { endpoint: options.s3Endpoint } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    };
    this.#s3 = s3;
    this.objects = new S3Objects(s3);
  }

  /**
   * One SageMaker call: `operation` is its name (`CreatePipeline`), `resource` what it acts on; a failure
   * after the SDK's retries is a CloudError naming both and the fix.
   */
  async call<T>(operation: string, resource: string, run: (api: SageMakerApi) => Promise<T>): Promise<T> {
    const api = await (this.#api ??= import("@aws-sdk/client-sagemaker").then((sdk) => ({ sdk, client: new sdk.SageMakerClient(this.#clientConfig) })));
    return awsCall(`sagemaker:${operation}`, resource, () => run(api));
  }

  /** One CloudWatch Logs call, as `call()` makes SageMaker's. */
  async logsCall<T>(operation: string, resource: string, run: (api: LogsApi) => Promise<T>): Promise<T> {
    const { region, maxAttempts, credentials } = this.#clientConfig;
    const config = {
      region,
      maxAttempts,
      ...(credentials !== undefined ? { credentials } : {}),
      ...(this.#logsEndpoint !== undefined ? { endpoint: this.#logsEndpoint } : {}),
    };
    const api = await (this.#logsApi ??= import("@aws-sdk/client-cloudwatch-logs").then((sdk) => ({ sdk, client: new sdk.CloudWatchLogsClient(config) })));
    return awsCall(`logs:${operation}`, resource, () => run(api));
  }

  /** The role the pipeline and its jobs run as; deploying needs one. */
  get roleArn(): string {
    return this.#needed(this.#roleArn, "roleArn", "STEPBOX_ROLE_ARN", "arn:aws:iam::123456789012:role/stepbox-pipelines");
  }

  /** Where functions, arguments and results are stored; deploying needs one. */
  get s3Root(): string {
    return this.#needed(this.#s3Root, "s3Root", "STEPBOX_S3_ROOT", "s3://my-bucket/stepbox");
  }

  /** Uploads under `s3Root`, with the size and SHA-256 every stepbox reader checks. */
  get store(): ArtifactStore {
    this.#store ??= openArtifactStore(this.s3Root, { s3: this.#s3 });
    return this.#store;
  }

  #needed(value: string | undefined, option: string, env: string, example: string): string {
    if (value === undefined) {
      throw new ValidationError(`the cloud session has no ${option}, which deploying a pipeline needs`, {
        hint: `pass ${option} to new PipelineSession() or set ${env}, e.g. ${example}`,
      });
    }
    return value;
  }

  /** The key pair the pipeline's payloads are signed with: the jobs get its public half. */
  jobSigningKey(pipelineName: string): JobSigningKey {
    let key = this.#keys.get(pipelineName);
    if (!key) {
      this.#masterKey ??= loadMasterKeySync(this.#secret !== undefined ? { secret: this.#secret } : {});
      key = deriveJobSigningKey(this.#masterKey, `pipeline\0${pipelineName}`);
      this.#keys.set(pipelineName, key);
    }
    return key;
  }

  /** What a definition of the pipeline says of where and as whom it runs. */
  definitionContext(pipelineName: string): DefinitionContext {
    return {
      root: this.s3Root,
      pipelineName,
      imageUri: this.#runtimeImage(pipelineName),
      region: this.region,
      roleArn: this.roleArn,
      jobPublicKey: this.jobSigningKey(pipelineName).publicKeyPem,
      stepImageUris: true,
      channelUri: (step, channel, uri) => (isLocalChannel(uri) ? `${this.s3Root}/${uploadedChannelKey(pipelineName, step, channel)}` : uri),
    };
  }

  /**
   * The image the definition names: `imageUri`, else STEPBOX_IMAGE_URI, else the one `stepbox image push`
   * pushed last from this machine, when this version of stepbox pushed it.
   */
  #runtimeImage(pipelineName: string): string {
    if (this.imageUri !== undefined) return this.imageUri;
    const pushed = lastPushedImage();
    const version = stepboxPackageSync().version;
    if (pushed?.stepboxVersion === version) return pushed.reference;
    throw new ValidationError(`pipeline "${pipelineName}": the cloud session has no runtime image to name in its definition`, {
      hint:
        pushed === undefined
          ? "push it with `stepbox image push <repository-uri>` (then it is used), or pass an image as imageUri (or set STEPBOX_IMAGE_URI)"
          : `the image pushed last, ${pushed.reference}, holds stepbox ${pushed.stepboxVersion}'s runner, not ${version}'s: push again with \`stepbox image push <repository-uri>\``,
    });
  }

  /** An execution by its ARN, as DescribePipelineExecution and the others see it. */
  execution(arn: string): CloudPipelineExecution {
    parseExecutionArn(arn);
    return new CloudPipelineExecution(this, arn);
  }

  /** Closes the clients' connections; the session is not used after. */
  close(): void {
    void this.#api?.then(({ client }) => client.destroy()).catch(() => undefined);
    void this.#logsApi?.then(({ client }) => client.destroy()).catch(() => undefined);
    this.objects.close();
  }
}
