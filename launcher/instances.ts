/**
 * Instance lookups shared by the launcher and the reaper: the tag filters that select this
 * project's instances, paginated DescribeInstances, and what a description says about its run.
 * Runs inside the serialized Lambda closures, so SDK commands are imported by name.
 */
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import type {
  DescribeInstancesCommandInput,
  DescribeInstancesCommandOutput,
  EC2Client,
  Filter,
  Instance,
} from "@aws-sdk/client-ec2";
import { PROJECT_TAG_VALUE, TAGS } from "./contract";

/** Anything that sends EC2 commands: an `EC2Client`, or a mock of one. */
export type Ec2Sender = Pick<EC2Client, "send">;

/** ISO-8601 UTC without milliseconds, e.g. `2026-11-23T05:00:00Z`, as tags and records hold it. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The value of tag `key` on an instance, if it has one. */
export function tagValue(instance: Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}

/** Filters selecting this project's instances of stack `environment` (and of `job`, if given). */
export function projectInstanceFilters(environment: string, job?: string): Filter[] {
  return [
    { Name: `tag:${TAGS.project}`, Values: [PROJECT_TAG_VALUE] },
    { Name: `tag:${TAGS.environment}`, Values: [environment] },
    ...(job === undefined ? [] : [{ Name: `tag:${TAGS.job}`, Values: [job] }]),
  ];
}

/**
 * Every instance matching `filters`, following `NextToken` until the last page (up to 1000
 * instances per page; https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html).
 * `send` wraps each page's request, e.g. to retry throttling.
 */
export async function describeAllInstances(
  ec2: Ec2Sender,
  filters: Filter[],
  send: (
    request: () => Promise<DescribeInstancesCommandOutput>,
  ) => Promise<DescribeInstancesCommandOutput> = (request) => request(),
): Promise<Instance[]> {
  const instances: Instance[] = [];
  let nextToken: string | undefined;
  do {
    const input: DescribeInstancesCommandInput = {
      Filters: filters,
      MaxResults: 1000,
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
    const page = await send(() => ec2.send(new DescribeInstancesCommand(input)));
    for (const reservation of page.Reservations ?? []) {
      instances.push(...(reservation.Instances ?? []));
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return instances;
}

/** A job instance as its tags and description tell it; absent fields were not there. */
export interface RunInstance {
  instanceId: string;
  state: string;
  job?: string;
  runId?: string;
  scheduledTime?: string;
  deadline?: string;
  launchTime?: string;
  instanceType?: string;
  availabilityZone?: string;
}

/** Reads the run an instance belongs to from its description. */
export function describeRunInstance(instance: Instance): RunInstance {
  const found: RunInstance = {
    instanceId: instance.InstanceId ?? "",
    state: instance.State?.Name ?? "unknown",
  };
  const optional: Array<[keyof RunInstance, string | undefined]> = [
    ["job", tagValue(instance, TAGS.job)],
    ["runId", tagValue(instance, TAGS.runId)],
    ["scheduledTime", tagValue(instance, TAGS.scheduledTime)],
    ["deadline", tagValue(instance, TAGS.deadline)],
    ["launchTime", instance.LaunchTime ? isoSeconds(new Date(instance.LaunchTime)) : undefined],
    ["instanceType", instance.InstanceType],
    ["availabilityZone", instance.Placement?.AvailabilityZone],
  ];
  for (const [key, value] of optional) {
    if (value !== undefined) (found as unknown as Record<string, string>)[key] = value;
  }
  return found;
}
