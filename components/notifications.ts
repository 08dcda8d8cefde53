import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { NotificationConfig } from "../config";
import { notificationKeyPolicy, notificationTopicPolicy } from "./policies";
import { accountScope, policyJson } from "./policyJson";
import { notificationsNames } from "../lib/resourceNames";
import type { RegionIdentity } from "./regionContext";

/** Arguments of {@link RunNotifications}. */
export interface RunNotificationsArgs {
  /** The region of the topic and key (they become the rest of its `RegionContext`). */
  context: RegionIdentity;
  /**
   * Name prefix of the regional stack's IAM roles (its component name plus `-`): the roles that
   * may publish through the key. Every role of the regional stack must start with it.
   */
  rolePrefix: string;
  /** Who gets the messages: e-mail addresses and HTTPS endpoints from stack config. */
  subscribers: NotificationConfig;
  /** Days the key waits before deletion once removed. Default 30 (the maximum, for prod's sake). */
  keyDeletionWindowDays?: number;
}

/**
 * Where a region's run outcomes and alarms go: an SNS topic encrypted with a customer-managed KMS
 * key, and the e-mail and HTTPS subscriptions from stack config. The key also encrypts the
 * region's launcher and job log groups.
 *
 * Why not the AWS-managed `alias/aws/sns` key: CloudWatch alarms publish as a service principal,
 * which that key's fixed policy does not allow, so alarm notifications would be dropped silently.
 * A customer-managed key costs $1 a month per region; its policy is `notificationKeyPolicy`.
 *
 * E-mail subscriptions stay "pending confirmation" until the recipient follows the link AWS sends
 * (Pulumi does not wait for it); HTTPS endpoints must confirm the subscription themselves.
 */
export class RunNotifications extends pulumi.ComponentResource {
  /** The key encrypting the topic and the region's log groups. */
  readonly key: aws.kms.Key;
  readonly keyArn: pulumi.Output<string>;
  /** The topic every outcome and alarm of the region is published to. */
  readonly topic: aws.sns.Topic;
  readonly topicArn: pulumi.Output<string>;

  constructor(name: string, args: RunNotificationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:RunNotifications", name, {}, opts);
    const names = notificationsNames(name);
    const { context } = args;
    validateRolePrefix(args.rolePrefix, this);

    this.key = new aws.kms.Key(
      names.key,
      {
        description: `transient-jobs ${context.environment} ${context.region}: run notifications and logs`,
        enableKeyRotation: true,
        deletionWindowInDays: args.keyDeletionWindowDays ?? 30,
        policy: policyJson(notificationKeyPolicy, {
          ...accountScope(context),
          rolePrefix: args.rolePrefix,
        }),
      },
      { parent: this },
    );
    new aws.kms.Alias(
      names.alias,
      { name: names.aliasName, targetKeyId: this.key.keyId },
      { parent: this },
    );

    this.topic = new aws.sns.Topic(
      names.topic,
      {
        displayName: `transient-jobs ${context.environment} ${context.region}`,
        kmsMasterKeyId: this.key.arn,
      },
      { parent: this },
    );
    new aws.sns.TopicPolicy(
      `${name}-topic`,
      {
        arn: this.topic.arn,
        policy: policyJson(notificationTopicPolicy, {
          ...accountScope(context),
          topicArn: this.topic.arn,
        }),
      },
      { parent: this },
    );

    subscriptionsFor(args.subscribers).forEach(({ key, protocol, endpoint }) => {
      new aws.sns.TopicSubscription(
        `${name}-${key}`,
        {
          topic: this.topic.arn,
          protocol,
          endpoint,
          // HTTPS endpoints confirm by visiting the SubscribeURL; give them the time to.
          ...(protocol === "https" ? { confirmationTimeoutInMinutes: 5 } : {}),
        },
        { parent: this },
      );
    });

    this.keyArn = this.key.arn;
    this.topicArn = this.topic.arn;
    this.registerOutputs({ keyArn: this.keyArn, topicArn: this.topicArn });
  }
}

/** One subscription: a stable resource name key, the protocol and the endpoint. */
export interface SubscriptionSpec {
  /** Part of the resource name; derived from the endpoint, so reordering config renames nothing. */
  key: string;
  protocol: "email" | "https";
  endpoint: string;
}

/**
 * The subscriptions for `subscribers`, one per distinct endpoint. Names come from a hash of the
 * endpoint rather than its position: removing the first address must not replace the others
 * (each replacement sends a new confirmation e-mail).
 */
export function subscriptionsFor(subscribers: NotificationConfig): SubscriptionSpec[] {
  const specs: SubscriptionSpec[] = [];
  const seen = new Set<string>();
  const add = (protocol: "email" | "https", endpoint: string) => {
    const id = `${protocol}:${endpoint.toLowerCase()}`;
    if (seen.has(id)) return;
    seen.add(id);
    specs.push({ key: `${protocol}-${fnv1a(id)}`, protocol, endpoint });
  };
  subscribers.emails.forEach((email) => add("email", email));
  subscribers.httpsEndpoints.forEach((url) => add("https", url));
  return specs;
}

/** 8 hex digits of FNV-1a: short, stable, and enough to tell a handful of endpoints apart. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/**
 * The key policy trusts roles by name prefix: a prefix without its trailing `-` (or a short one)
 * would also match other stacks' roles, e.g. `tj-dev-eu-west-1` matching `tj-dev-eu-west-10-…`.
 * Throws a `ResourceError` naming `component`, the `RunNotifications` being declared.
 */
export function validateRolePrefix(prefix: string, component?: pulumi.Resource): void {
  if (!/^[A-Za-z0-9+=,.@_-]{4,60}-$/.test(prefix)) {
    throw new pulumi.ResourceError(
      `RunNotifications rolePrefix: ${JSON.stringify(prefix)} must be the regional stack's name followed by "-" (4-60 IAM name characters), e.g. "tj-dev-eu-west-1-"`,
      component,
    );
  }
}
