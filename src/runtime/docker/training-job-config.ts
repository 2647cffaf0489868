import { writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface TrainingJobConfig {
  readonly currentHost: string;
  /** Every host of the job; written sorted, as SageMaker does. */
  readonly hosts: readonly string[];
  readonly instanceType: string;
  readonly hyperparameters: Readonly<Record<string, unknown>>;
  readonly channels: ReadonlyArray<{ readonly name: string; readonly contentType?: string }>;
}

/** SageMaker passes hyperparameters as strings; objects are JSON-encoded, strings kept as they are. */
function hyperparameterString(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Writes /opt/ml/input/config/{hyperparameters,resourceconfig,inputdataconfig}.json for one host. */
export async function writeTrainingJobConfig(configDir: string, config: TrainingJobConfig): Promise<void> {
  const hosts = [...config.hosts].sort();
  const resourceConfig = {
    current_host: config.currentHost,
    current_instance_type: config.instanceType,
    current_group_name: "homogeneousCluster",
    hosts,
    instance_groups: [{ instance_group_name: "homogeneousCluster", instance_type: config.instanceType, hosts }],
    network_interface_name: "eth0",
  };
  const inputDataConfig = Object.fromEntries(
    config.channels.map((c) => [
      c.name,
      {
        TrainingInputMode: "File",
        S3DistributionType: "FullyReplicated",
        RecordWrapperType: "None",
        ...(c.contentType ? { ContentType: c.contentType } : {}),
      },
    ]),
  );
  const hyperparameters = Object.fromEntries(Object.entries(config.hyperparameters).map(([k, v]) => [k, hyperparameterString(v)]));
  await Promise.all([
    writeFile(join(configDir, "resourceconfig.json"), JSON.stringify(resourceConfig)),
    writeFile(join(configDir, "inputdataconfig.json"), JSON.stringify(inputDataConfig)),
    writeFile(join(configDir, "hyperparameters.json"), JSON.stringify(hyperparameters)),
  ]);
}
