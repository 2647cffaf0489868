import { ValidationError } from "../errors.js";
import { closestNames } from "./closest-names.js";

/** The resources of an ml.* instance type: what its step's container is limited to. */
export interface InstanceType {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryGiB: number;
  readonly gpus: number;
}

const DEFAULT_INSTANCE_TYPE = "ml.m5.large";

/** vCPU, memory GiB and GPU count, from the EC2 specs of each family (training-job-contract.md §5). */
const TABLE: ReadonlyArray<readonly [string, number, number, number?]> = [
  ["ml.t3.medium", 2, 4],
  ["ml.t3.large", 2, 8],
  ["ml.t3.xlarge", 4, 16],
  ["ml.t3.2xlarge", 8, 32],
  ["ml.m4.xlarge", 4, 16],
  ["ml.m4.2xlarge", 8, 32],
  ["ml.m4.4xlarge", 16, 64],
  ["ml.m4.10xlarge", 40, 160],
  ["ml.m4.16xlarge", 64, 256],
  ["ml.m5.large", 2, 8],
  ["ml.m5.xlarge", 4, 16],
  ["ml.m5.2xlarge", 8, 32],
  ["ml.m5.4xlarge", 16, 64],
  ["ml.m5.12xlarge", 48, 192],
  ["ml.m5.24xlarge", 96, 384],
  ["ml.c4.xlarge", 4, 7.5],
  ["ml.c4.2xlarge", 8, 15],
  ["ml.c4.4xlarge", 16, 30],
  ["ml.c4.8xlarge", 36, 60],
  ["ml.c5.xlarge", 4, 8],
  ["ml.c5.2xlarge", 8, 16],
  ["ml.c5.4xlarge", 16, 32],
  ["ml.c5.9xlarge", 36, 72],
  ["ml.c5.18xlarge", 72, 144],
  ["ml.c5n.xlarge", 4, 10.5],
  ["ml.c5n.2xlarge", 8, 21],
  ["ml.c5n.4xlarge", 16, 42],
  ["ml.c5n.9xlarge", 36, 96],
  ["ml.c5n.18xlarge", 72, 192],
  ["ml.g4dn.xlarge", 4, 16, 1],
  ["ml.g4dn.2xlarge", 8, 32, 1],
  ["ml.g4dn.4xlarge", 16, 64, 1],
  ["ml.g4dn.8xlarge", 32, 128, 1],
  ["ml.g4dn.12xlarge", 48, 192, 4],
  ["ml.g4dn.16xlarge", 64, 256, 1],
  ["ml.g5.xlarge", 4, 16, 1],
  ["ml.g5.2xlarge", 8, 32, 1],
  ["ml.g5.4xlarge", 16, 64, 1],
  ["ml.g5.8xlarge", 32, 128, 1],
  ["ml.g5.16xlarge", 64, 256, 1],
  ["ml.g5.12xlarge", 48, 192, 4],
  ["ml.g5.24xlarge", 96, 384, 4],
  ["ml.g5.48xlarge", 192, 768, 8],
  ["ml.p2.xlarge", 4, 61, 1],
  ["ml.p2.8xlarge", 32, 488, 8],
  ["ml.p2.16xlarge", 64, 732, 16],
  ["ml.p3.2xlarge", 8, 61, 1],
  ["ml.p3.8xlarge", 32, 244, 4],
  ["ml.p3.16xlarge", 64, 488, 8],
  ["ml.p3dn.24xlarge", 96, 768, 8],
  ["ml.p4d.24xlarge", 96, 1152, 8],
];

const INSTANCE_TYPES: ReadonlyMap<string, InstanceType> = new Map(
  TABLE.map(([name, vcpus, memoryGiB, gpus]) => [name, Object.freeze({ name, vcpus, memoryGiB, gpus: gpus ?? 0 })]),
);

/** The instance type by name (the default when none is given); unknown names list the closest ones. */
/** Whether stepbox knows the instance type's resources. */
export function isInstanceType(name: string): boolean {
  return INSTANCE_TYPES.has(name);
}

/** Every instance type stepbox knows. */
export function knownInstanceTypes(): string[] {
  return [...INSTANCE_TYPES.keys()];
}

export function resolveInstanceType(name: string | undefined): InstanceType {
  const wanted = name ?? DEFAULT_INSTANCE_TYPE;
  const found = INSTANCE_TYPES.get(wanted);
  if (found) return found;
  const near = closestNames(wanted, [...INSTANCE_TYPES.keys()]);
  throw new ValidationError(`unknown instance type "${wanted}"`, {
    code: "INVALID_STEP_OPTION",
    hint: near.length > 0 ? `did you mean ${near.join(", ")}?` : `known types include ${DEFAULT_INSTANCE_TYPE}, ml.m5.xlarge, ml.c5.xlarge`,
  });
}
