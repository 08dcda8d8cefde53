import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { EC2Client } from "@aws-sdk/client-ec2";
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  DEFAULT_GRACE_MINUTES,
  handleReaperInvocation,
  MAX_GRACE_MINUTES,
  METRIC_NAMESPACE,
  ReaperSettings,
} from "../launcher/reaper";
import { declareClosureFunction } from "./closureFunction";
import { declareSchedulerRole } from "./jobSchedule";
import { invokeFunctionPolicy, reaperPolicy } from "./policies";
import { accountScope, policyJson } from "./policyJson";
import type { RegionContext } from "./regionContext";
import { parseScheduleExpression } from "../lib/scheduleExpression";
import { reaperNames } from "../lib/resourceNames";

/** Arguments of {@link Reaper}. */
export interface ReaperArgs {
  /** The region: the reaper touches only instances of this stack (`environment`) in it. */
  context: RegionContext;
  /** The region's results bucket, for `reaped` run records. */
  bucketName: pulumi.Input<string>;
  bucketArn: pulumi.Input<string>;
  /** Minutes past a run's deadline before it is reaped. Default: 10. */
  graceMinutes?: number;
  /** How often the reaper runs, a Scheduler `rate(...)` expression. Default: `rate(5 minutes)`. */
  rate?: string;
}

/**
 * Checks the reaper's own arguments before any resource exists; the message names the fix. Throws
 * a `ResourceError` naming `component`, the `Reaper` being declared.
 */
export function validateReaperArgs(
  args: Pick<ReaperArgs, "graceMinutes" | "rate">,
  component?: pulumi.Resource,
): void {
  const fail = (message: string) => new pulumi.ResourceError(message, component);
  const grace = args.graceMinutes ?? DEFAULT_GRACE_MINUTES;
  if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_MINUTES) {
    throw fail(
      `Reaper graceMinutes: ${grace} must be an integer from 0 to ${MAX_GRACE_MINUTES} (minutes after a run's deadline)`,
    );
  }
  const rate = args.rate ?? "rate(5 minutes)";
  let kind: string;
  try {
    kind = parseScheduleExpression(rate).kind;
  } catch (error) {
    throw fail(`Reaper rate: "${rate}" is not valid: ${(error as Error).message}`);
  }
  if (kind !== "rate") {
    throw fail(`Reaper rate: "${rate}" must be a rate expression such as "rate(5 minutes)"`);
  }
}

/**
 * The region's reaper: a scheduled Lambda, serialized from a closure, that terminates this
 * stack's job instances still alive past their deadline tag plus a grace margin, writes their
 * `reaped` run records, notifies and publishes `TransientJobs/InstancesReaped`. The second line
 * of defence behind each instance's own watchdog; its role can terminate only instances with
 * this project's and environment's tags.
 */
export class Reaper extends pulumi.ComponentResource {
  /** The function. */
  readonly function: aws.lambda.CallbackFunction<unknown, unknown>;
  /** Function name. */
  readonly functionName: pulumi.Output<string>;
  /** The schedule that runs it. */
  readonly scheduleName: pulumi.Output<string>;

  constructor(name: string, args: ReaperArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:Reaper", name, {}, opts);
    const names = reaperNames(name);
    validateReaperArgs(args, this);
    const graceMinutes = args.graceMinutes ?? DEFAULT_GRACE_MINUTES;

    const { context } = args;

    const settings = pulumi
      .all([args.bucketName, context.topicArn])
      .apply(([bucket, topicArn]): ReaperSettings => ({
        environment: context.environment,
        region: context.region,
        bucket,
        graceMinutes,
        topicArn,
      }));
    this.function = declareClosureFunction<unknown, unknown>(
      {
        names,
        context,
        roleDescription:
          "transient-jobs reaper: terminate this stack's job instances past their deadline",
        description: "transient-jobs: terminate job instances past their deadline",
        policy: (logGroupArn) =>
          policyJson(reaperPolicy, {
            ...accountScope(context),
            environment: context.environment,
            bucketArn: args.bucketArn,
            logGroupArn,
            metricNamespace: METRIC_NAMESPACE,
            topicArn: context.topicArn,
          }),
        timeoutSeconds: 60,
        callbackFactory: () => () => {
          // Created once per container and reused by every invocation it serves.
          const clients = {
            ec2: new EC2Client({}),
            s3: new S3Client({}),
            cloudwatch: new CloudWatchClient({}),
            sns: new SNSClient({}),
          };
          const resolved = settings.get();
          return () => handleReaperInvocation(clients, resolved);
        },
      },
      this,
    ).function;

    const { role: invokeRole, policy: invokePolicy } = declareSchedulerRole(
      names,
      {
        description: "EventBridge Scheduler: invoke the transient-jobs reaper",
        accountId: context.accountId,
        policy: this.function.arn.apply((arn) => JSON.stringify(invokeFunctionPolicy(arn))),
      },
      this,
    );
    const schedule = new aws.scheduler.Schedule(
      names.schedule,
      {
        description: `transient-jobs: reap ${context.environment} job instances past their deadline`,
        scheduleExpression: args.rate ?? "rate(5 minutes)",
        // Always on, also in a disabled region: instances launched before still need reaping.
        state: "ENABLED",
        flexibleTimeWindow: { mode: "OFF" },
        target: {
          arn: this.function.arn,
          roleArn: invokeRole.arn,
          input: "{}",
          // The next pass is minutes away: a missed one is not worth retrying.
          retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60 },
        },
      },
      // Scheduler checks the role when the schedule is written.
      { parent: this, dependsOn: [invokePolicy] },
    );

    this.functionName = this.function.name;
    this.scheduleName = schedule.name;
    this.registerOutputs({ functionName: this.functionName, scheduleName: this.scheduleName });
  }
}
