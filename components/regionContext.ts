import * as pulumi from "@pulumi/pulumi";

/**
 * Which stack, region and account a regional component belongs to: what every component of a
 * `RegionalJobStack` needs before the region's topic and key exist (the `RunNotifications`
 * that creates them takes only this).
 */
export interface RegionIdentity {
  /** Stack name (`dev`, `prod`): descriptions, tags and the tag conditions of policies. */
  environment: string;
  /** The AWS region of the component and of everything it creates. */
  region: string;
  /** Partition of the region's resources (`aws`, `aws-cn`, …), for ARNs. */
  partition: pulumi.Input<string>;
  /** Account of the region's resources, for ARNs and confused-deputy conditions. */
  accountId: pulumi.Input<string>;
}

/**
 * What the components of one region share, handed to each as `context`: where they live, how
 * long their logs are kept, and the region's notification topic and key. All of it always
 * exists: every regional stack has its `RunNotifications`.
 */
export interface RegionContext extends RegionIdentity {
  /** Days to keep the logs of every log group in the region (stack config `logRetentionDays`). */
  logRetentionDays: number;
  /** The region's topic: run outcomes, reaped runs and alarms are published to it. */
  topicArn: pulumi.Input<string>;
  /** The region's customer-managed key, which encrypts the topic and every log group. */
  logsKmsKeyArn: pulumi.Input<string>;
}
