import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { EC2Client } from "@aws-sdk/client-ec2";
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { handleLaunchEvent } from "../launcher/handler";
import { METRIC_NAMESPACE } from "../launcher/telemetry";
import { JobLaunchSpec } from "../launcher/contract";
import type { LauncherRetryConfig } from "../config";
import { LaunchableJob, launcherPolicy, serviceTrustPolicy } from "./policies";
import packageJson from "../package.json";
import { launcherNames } from "../lib/resourceNames";

/** One job as the launcher needs it: what to launch, and what that needs permission for. */
export interface LauncherJob {
  spec: JobLaunchSpec;
  permissions: LaunchableJob;
}

/** Arguments of {@link Launcher}. */
export interface LauncherArgs {
  /** Stack name, for tag conditions. */
  environment: string;
  /** Region of the function and every instance it launches. */
  region: string;
  /** Partition and account of the region's resources. */
  partition: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  /** Every job this launcher may start, keyed by nothing: the spec carries the job name. */
  jobs: pulumi.Input<LauncherJob[]>;
  /** Days to keep the launcher's logs. */
  logRetentionDays: number;
  /** Topic for run outcome notifications, if any. */
  topicArn?: pulumi.Input<string>;
  /** KMS key encrypting the launcher's log group. Default: CloudWatch Logs' own encryption. */
  logsKmsKeyArn?: pulumi.Input<string>;
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
 * Packages the launcher's zip must not contain: the Lambda runtime provides AWS SDK v3, and the
 * rest of `dependencies` is for the Pulumi program, not the function.
 */
export function launcherExcludedPackages(dependencies: Record<string, string>): string[] {
  return Object.keys(dependencies).filter((name) => !name.startsWith("@pulumi/"));
}

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

    this.logGroup = new aws.cloudwatch.LogGroup(
      names.logs,
      { retentionInDays: args.logRetentionDays, kmsKeyId: args.logsKmsKeyArn },
      { parent: this },
    );
    this.failureQueue = new aws.sqs.Queue(
      names.failureQueue,
      { sqsManagedSseEnabled: true, messageRetentionSeconds: FAILURE_QUEUE_RETENTION_SECONDS },
      { parent: this },
    );
    const role = new aws.iam.Role(
      names.role,
      {
        description: "transient-jobs launcher: start job instances from their launch templates",
        assumeRolePolicy: JSON.stringify(serviceTrustPolicy("lambda.amazonaws.com")),
      },
      { parent: this },
    );
    const policy = new aws.iam.RolePolicy(
      names.policy,
      {
        role: role.id,
        policy: pulumi
          .all([
            args.partition,
            args.accountId,
            args.jobs,
            this.logGroup.arn,
            args.topicArn,
            args.bucketArn,
            this.failureQueue.arn,
          ])
          .apply(
            ([partition, accountId, jobs, logGroupArn, topicArn, bucketArn, failureQueueArn]) =>
              JSON.stringify(
                launcherPolicy({
                  partition,
                  accountId,
                  region: args.region,
                  environment: args.environment,
                  jobs: jobs.map((j) => j.permissions),
                  logGroupArn,
                  topicArn,
                  metricNamespace: METRIC_NAMESPACE,
                  bucketArn,
                  failureQueueArn,
                  spot: args.spot,
                  ebsKmsKeyArn: args.ebsKmsKeyArn,
                }),
              ),
          ),
      },
      { parent: this },
    );

    const specs = pulumi
      .output(args.jobs)
      .apply((jobs) => Object.fromEntries(jobs.map((j) => [j.spec.job, j.spec])));
    const logGroupName = this.logGroup.name;
    this.function = new aws.lambda.CallbackFunction(
      names.function,
      {
        description: "transient-jobs: launch one run of a job on a fresh EC2 instance",
        role,
        runtime: aws.lambda.Runtime.NodeJS22dX,
        architectures: ["arm64"],
        timeout: args.timeoutSeconds,
        memorySize: 256,
        loggingConfig: { logFormat: "Text", logGroup: this.logGroup.name },
        codePathOptions: {
          extraExcludePackages: launcherExcludedPackages(packageJson.dependencies),
        },
        callbackFactory: () => {
          // Created once per container and reused by every invocation it serves.
          const ec2 = new EC2Client({});
          const sns = new SNSClient({});
          const cloudwatch = new CloudWatchClient({});
          const s3 = new S3Client({});
          const jobs = specs.get();
          const launcherLogGroup = logGroupName.get();
          return (event: unknown, context: { getRemainingTimeInMillis(): number }) =>
            handleLaunchEvent(event, {
              ec2,
              sns,
              cloudwatch,
              s3,
              jobs,
              launcherLogGroup,
              remainingTimeMs: () => context.getRemainingTimeInMillis(),
            });
        },
      },
      // The role must be able to write logs before the first invocation.
      { parent: this, dependsOn: [policy] },
    );

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
