import { EC2Client } from "@aws-sdk/client-ec2";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { handleLaunchEvent } from "../launcher/handler";
import { cloudWatchSdk, lazyClient, s3Sdk, snsSdk } from "../launcher/lazySdk";
import { METRIC_NAMESPACE } from "../launcher/telemetry";
import { JobLaunchSpec } from "../launcher/contract";
import type { LauncherRetryConfig } from "../config";
import { declareClosureFunction } from "./closureFunction";
import { LaunchableJob, launcherPolicy } from "./policies";
import { accountScope, policyJson } from "./policyJson";
import type { RegionContext } from "./regionContext";
import { launcherNames } from "../lib/resourceNames";

/** One job as the launcher needs it: what to launch, and what that needs permission for. */
export interface LauncherJob {
  spec: JobLaunchSpec;
  permissions: LaunchableJob;
}

/** Arguments of {@link Launcher}. */
export interface LauncherArgs {
  /** The region: the function, its logs and every instance it launches are in it. */
  context: RegionContext;
  /** Every job this launcher may start, keyed by nothing: the spec carries the job name. */
  jobs: pulumi.Input<LauncherJob[]>;
  /** Seconds one invocation may take, including capacity fallbacks and retries. */
  timeoutSeconds: number;
  /** The region's results bucket: the launcher writes the records of runs it did not launch. */
  bucketArn: pulumi.Input<string>;
  /** Lambda's retries of a failed invocation before the event goes to the failure queue. */
  retry: LauncherRetryConfig;
  /** True when a job may launch spot: the role may then create the Spot service-linked role. */
  spot: boolean;
  /** Customer-managed key of the instances' volumes, if the region has one. */
  ebsKmsKeyArn?: string;
}

/** Seconds one launcher invocation may take: capacity fallbacks, backoffs and reporting. */
export const LAUNCHER_TIMEOUT_SECONDS = 120;

/** How long the failure queue keeps a launch event: 14 days, SQS's maximum. */
export const FAILURE_QUEUE_RETENTION_SECONDS = 14 * 24 * 3600;

/**
 * The region's launcher: one Lambda, serialized from a closure, that starts a fresh instance for
 * each run of any job in the region. Its role can launch only from the jobs' launch templates.
 */
export class Launcher extends pulumi.ComponentResource {
  /** The function. */
  readonly function: aws.lambda.CallbackFunction<unknown, unknown>;
  /** Function ARN, the schedules' target. */
  readonly functionArn: pulumi.Output<string>;
  /** Function name, for `npm run launch`. */
  readonly functionName: pulumi.Output<string>;
  /** The function's log group. */
  readonly logGroup: aws.cloudwatch.LogGroup;
  /** Where Lambda puts a launch event whose every invocation failed (its on-failure destination). */
  readonly failureQueue: aws.sqs.Queue;

  constructor(name: string, args: LauncherArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:Launcher", name, {}, opts);
    const names = launcherNames(name);
    const { context } = args;

    this.failureQueue = new aws.sqs.Queue(
      names.failureQueue,
      { sqsManagedSseEnabled: true, messageRetentionSeconds: FAILURE_QUEUE_RETENTION_SECONDS },
      { parent: this },
    );
    const specs = pulumi
      .output(args.jobs)
      .apply((jobs) => Object.fromEntries(jobs.map((j) => [j.spec.job, j.spec])));
    const {
      logGroup,
      policy,
      function: fn,
    } = declareClosureFunction<unknown, unknown>(
      {
        names,
        context,
        roleDescription: "transient-jobs launcher: start job instances from their launch templates",
        description: "transient-jobs: launch one run of a job on a fresh EC2 instance",
        policy: (logGroupArn) =>
          policyJson(launcherPolicy, {
            ...accountScope(context),
            environment: context.environment,
            jobs: pulumi.output(args.jobs).apply((jobs) => jobs.map((j) => j.permissions)),
            logGroupArn,
            topicArn: context.topicArn,
            metricNamespace: METRIC_NAMESPACE,
            bucketArn: args.bucketArn,
            failureQueueArn: this.failureQueue.arn,
            spot: args.spot,
            ebsKmsKeyArn: args.ebsKmsKeyArn,
          }),
        timeoutSeconds: args.timeoutSeconds,
        callbackFactory: (logGroupName) => () => {
          // Created once per container and reused by every invocation it serves. Only EC2 is
          // loaded at a cold start: the others report after RunInstances (launcher/lazySdk.ts).
          const ec2 = new EC2Client({});
          const sns = lazyClient(() => new (snsSdk().SNSClient)({}));
          const cloudwatch = lazyClient(() => new (cloudWatchSdk().CloudWatchClient)({}));
          const s3 = lazyClient(() => new (s3Sdk().S3Client)({}));
          const jobs = specs.get();
          const launcherLogGroup = logGroupName.get();
          return (event: unknown, invocation: { getRemainingTimeInMillis(): number }) =>
            handleLaunchEvent(event, {
              ec2,
              sns,
              cloudwatch,
              s3,
              jobs,
              launcherLogGroup,
              remainingTimeMs: () => invocation.getRemainingTimeInMillis(),
            });
        },
      },
      this,
    );
    this.logGroup = logGroup;
    this.function = fn;

    // Scheduler invokes asynchronously: its retry policy and dead-letter queue end once Lambda
    // accepts the event. A failed invocation is retried by Lambda, then dropped unless it has an
    // on-failure destination (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html);
    // with this one every failed launch event stays in the queue for 14 days and raises an alarm.
    new aws.lambda.FunctionEventInvokeConfig(
      names.asyncInvokeConfig,
      {
        functionName: this.function.name,
        maximumRetryAttempts: args.retry.maximumRetryAttempts,
        maximumEventAgeInSeconds: args.retry.maximumEventAgeSeconds,
        destinationConfig: { onFailure: { destination: this.failureQueue.arn } },
      },
      // Lambda checks at once that the role may send to the destination.
      { parent: this, dependsOn: [policy] },
    );

    this.functionArn = this.function.arn;
    this.functionName = this.function.name;
    this.registerOutputs({
      functionArn: this.functionArn,
      functionName: this.functionName,
      failureQueueArn: this.failureQueue.arn,
    });
  }
}
