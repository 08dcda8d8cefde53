/**
 * What EC2 says of each configured instance type (`aws.ec2.getInstanceType`, i.e.
 * DescribeInstanceTypes, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypes.html),
 * looked up at deploy time with the region's provider: its GPUs and its instance-store disks. No
 * list of GPU families is kept here: a new GPU type is recognised by what EC2 reports of it.
 *
 * A job whose types have NVIDIA GPUs boots the ECS-optimized GPU AMI and runs its container with
 * the GPUs; one whose types have NVMe instance-store disks gets them as scratch space. A job that
 * mixes GPU and non-GPU types, or asks for GPUs on arm64 (there is no ECS-optimized Amazon Linux
 * 2023 GPU AMI for arm64), fails the deployment with a `pulumi.ResourceError` naming the key.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Architecture } from "../config";

/** The facts of one instance type the program uses. */
export interface InstanceTypeFacts {
  /** e.g. `[{ manufacturer: "NVIDIA", name: "A10G", count: 1, memorySize: 24576 }]`. */
  gpus: { manufacturer: string; name: string; count: number; memorySize: number }[];
  /** Instance-store disks, e.g. `[{ count: 1, size: 250, type: "ssd" }]` (size in GB). */
  instanceDisks: { count: number; size: number; type: string }[];
  /** Whether the type has an instance store, and its total size in GB. */
  instanceStorageSupported: boolean;
  totalInstanceStorage: number;
}

/** What a job's instances need at boot, derived from its instance types. */
export interface JobHardware {
  /** Every type has NVIDIA GPUs: the GPU AMI, `--gpus all`. */
  gpu: boolean;
  /** Some type has NVMe instance-store disks: the init script mounts them as scratch. */
  instanceStore: boolean;
}

/** The facts the program uses of one `aws.ec2.getInstanceType` result. */
export function instanceTypeFacts(result: {
  gpuses?: InstanceTypeFacts["gpus"];
  instanceDisks?: InstanceTypeFacts["instanceDisks"];
  instanceStorageSupported?: boolean;
  totalInstanceStorage?: number;
}): InstanceTypeFacts {
  return {
    gpus: result.gpuses ?? [],
    instanceDisks: result.instanceDisks ?? [],
    instanceStorageSupported: result.instanceStorageSupported ?? false,
    totalInstanceStorage: result.totalInstanceStorage ?? 0,
  };
}

/** EC2's facts of each of `instanceTypes`. */
export function lookUpInstanceTypes(
  instanceTypes: readonly string[],
  invoke: pulumi.InvokeOutputOptions,
): pulumi.Output<Record<string, InstanceTypeFacts>> {
  const types = [...new Set(instanceTypes)];
  return pulumi
    .all(types.map((instanceType) => aws.ec2.getInstanceTypeOutput({ instanceType }, invoke)))
    .apply((results) =>
      Object.fromEntries(results.map((result, i) => [types[i], instanceTypeFacts(result)])),
    );
}

const nvidia = (facts: InstanceTypeFacts) =>
  facts.gpus.some((g) => g.manufacturer.toUpperCase() === "NVIDIA");

/** `g5.xlarge (1 x NVIDIA A10G)`, for messages and the plan. */
export function describeGpus(type: string, facts: InstanceTypeFacts): string {
  const gpus = facts.gpus.map((g) => `${g.count} x ${g.manufacturer} ${g.name}`).join(", ");
  return gpus ? `${type} (${gpus})` : type;
}

/** Total instance-store size of a type in GB, 0 without one. */
export function instanceStoreGB(facts: InstanceTypeFacts): number {
  return facts.instanceStorageSupported ? facts.totalInstanceStorage : 0;
}

/**
 * A job's hardware from its types' facts, or the problem: GPU and non-GPU types mixed (a run
 * would get either, depending on capacity), or GPUs on an architecture without a GPU AMI.
 */
export function jobHardware(
  instanceTypes: readonly string[],
  architecture: Architecture,
  facts: Record<string, InstanceTypeFacts>,
  configKey: string,
): JobHardware | string {
  const withGpu = instanceTypes.filter((t) => nvidia(facts[t]));
  const without = instanceTypes.filter((t) => !nvidia(facts[t]));
  if (withGpu.length > 0 && without.length > 0) {
    return `${configKey}: mixes types with NVIDIA GPUs (${withGpu.map((t) => describeGpus(t, facts[t])).join(", ")}) and without (${without.join(", ")}); a run gets whichever has capacity, so list only GPU types or only others`;
  }
  if (withGpu.length > 0 && architecture === "arm64") {
    return `${configKey}: ${withGpu.join(", ")} have NVIDIA GPUs, but there is no ECS-optimized Amazon Linux 2023 GPU AMI for arm64; use x86_64 GPU types (g4dn, g5, g6, p4d, p5, ...)`;
  }
  return {
    gpu: withGpu.length > 0,
    instanceStore: instanceTypes.some((t) => instanceStoreGB(facts[t]) > 0),
  };
}

/** {@link jobHardware} at deploy time: a problem fails the deployment, tied to `parent`. */
export function jobHardwareOutput(args: {
  instanceTypes: readonly string[];
  architecture: Architecture;
  facts: pulumi.Output<Record<string, InstanceTypeFacts>>;
  configKey: string;
  parent: pulumi.Resource;
}): pulumi.Output<JobHardware> {
  return args.facts.apply((facts) => {
    const hardware = jobHardware(args.instanceTypes, args.architecture, facts, args.configKey);
    if (typeof hardware === "string") throw new pulumi.ResourceError(hardware, args.parent);
    return hardware;
  });
}
