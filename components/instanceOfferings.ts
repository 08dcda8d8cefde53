/**
 * Where EC2 offers each configured instance type: the zones of the region's subnets
 * (`aws.ec2.getSubnet`) and EC2's instance type offerings in them
 * (`aws.ec2.getInstanceTypeOfferings` with location type `availability-zone`,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html),
 * looked up at deploy time with the region's provider.
 *
 * A job's launch spec carries, per type, only the subnets whose zone offers it, so the launcher
 * never tries a type where EC2 would answer `Unsupported`. A configured type offered in no zone
 * of the job's subnets (misspelt, retired, or not in this region) fails the deployment with a
 * `pulumi.ResourceError` naming the config key, the value and the region.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** One offering: EC2 offers `instanceType` in zone `location`. */
export interface Offering {
  instanceType: string;
  location: string;
}

/** The zone of each subnet, in the order given. */
export function lookUpSubnetZones(
  subnetIds: pulumi.Input<string[]>,
  invoke: pulumi.InvokeOutputOptions,
): pulumi.Output<Record<string, string>> {
  return pulumi
    .output(subnetIds)
    .apply((ids) =>
      pulumi
        .all(ids.map((id) => aws.ec2.getSubnetOutput({ id }, invoke).availabilityZone))
        .apply((zones) => Object.fromEntries(ids.map((id, i) => [id, zones[i]]))),
    );
}

/** EC2's offerings of `instanceTypes` in the region's availability zones. */
export function lookUpOfferings(
  instanceTypes: readonly string[],
  invoke: pulumi.InvokeOutputOptions,
): pulumi.Output<Offering[]> {
  const result = aws.ec2.getInstanceTypeOfferingsOutput(
    {
      locationType: "availability-zone",
      filters: [{ name: "instance-type", values: [...new Set(instanceTypes)] }],
    },
    invoke,
  );
  return pulumi
    .all([result.instanceTypes, result.locations])
    .apply(([types, locations]) =>
      types.map((instanceType, i) => ({ instanceType, location: locations[i] })),
    );
}

/** Where one job's types may launch, or which configured types EC2 offers in none of its zones. */
export interface Placement {
  /** Per type, the subnets (in the given order) whose zone offers it. */
  subnetIdsByInstanceType: Record<string, string[]>;
  /** Indexes into the job's `instanceTypes` of the types no subnet's zone offers. */
  unoffered: number[];
}

/** Pure: the subnets of each type, from the subnets' zones and EC2's offerings. */
export function placeInstanceTypes(
  instanceTypes: readonly string[],
  subnetIds: readonly string[],
  subnetZones: Readonly<Record<string, string>>,
  offerings: readonly Offering[],
): Placement {
  const offered = new Set(offerings.map((o) => `${o.instanceType}@${o.location}`));
  const subnetIdsByInstanceType: Record<string, string[]> = {};
  const unoffered: number[] = [];
  instanceTypes.forEach((type, i) => {
    const subnets = subnetIds.filter((id) => offered.has(`${type}@${subnetZones[id]}`));
    if (subnets.length === 0) unoffered.push(i);
    else subnetIdsByInstanceType[type] = subnets;
  });
  return { subnetIdsByInstanceType, unoffered };
}

/** What {@link jobPlacement} needs to name a problem. */
export interface PlacementArgs {
  region: string;
  instanceTypes: readonly string[];
  /** The config key of `instanceTypes` (e.g. `transient-jobs:jobs.pi.instanceTypes`). */
  configKey: string;
  subnetIds: pulumi.Input<string[]>;
  subnetZones: pulumi.Input<Record<string, string>>;
  offerings: pulumi.Input<Offering[]>;
  parent: pulumi.Resource;
}

/**
 * One job's placement; rejects with a `pulumi.ResourceError` listing every configured type that
 * no zone of the job's subnets offers.
 */
export function jobPlacement(args: PlacementArgs): pulumi.Output<Record<string, string[]>> {
  return pulumi
    .all([args.subnetIds, args.subnetZones, args.offerings])
    .apply(([subnetIds, zones, offerings]) => {
      const placement = placeInstanceTypes(args.instanceTypes, subnetIds, zones, offerings);
      if (placement.unoffered.length > 0) {
        const where = [...new Set(subnetIds.map((id) => zones[id]))].sort().join(", ");
        const problems = placement.unoffered.map(
          (i) =>
            `${args.configKey}[${i}]: "${args.instanceTypes[i]}" is not offered by EC2 in any zone of the job's subnets in ${args.region} (${where}); use a type EC2 offers there (aws ec2 describe-instance-type-offerings --location-type availability-zone --region ${args.region})`,
        );
        throw new pulumi.ResourceError(problems.join("\n"), args.parent);
      }
      return placement.subnetIdsByInstanceType;
    });
}
