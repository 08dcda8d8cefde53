import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { RetryConfig } from "../config";
import { LaunchEvent } from "../launcher/contract";
import { schedulePolicy, serviceTrustPolicy } from "./policies";
import { policyJson } from "./policyJson";
import {
  dstWarningsForYear,
  formatDstWarning,
  offsetSchedule,
  ParsedSchedule,
  parseScheduleExpression,
} from "../lib/scheduleExpression";
import { jobScheduleNames } from "../lib/resourceNames";

/** Arguments of {@link JobSchedule}. */
export interface JobScheduleArgs {
  /** Job name, sent to the launcher. */
  job: string;
  /** EventBridge Scheduler `cron(...)` or `rate(...)` expression. */
  expression: string;
  /** IANA time zone the expression is read in. */
  timezone: string;
  /**
   * Minutes to run later than `expression` says, so regions do not all launch at once (see
   * {@link offsetSchedule}: cron expressions only; a rate keeps its creation-time phase). Default 0.
   */
  offsetMinutes?: number;
  /** `false` keeps the schedule but stops it firing. */
  enabled: boolean;
  /** Launcher function ARN, the schedule's target. */
  launcherArn: pulumi.Input<string>;
  /** How Scheduler retries a failed invocation before dead-lettering it. */
  retry: RetryConfig;
  /** Account id, so only this account's schedules can assume the role. */
  accountId: pulumi.Input<string>;
}

/**
 * The target input. Scheduler substitutes the scheduled time, and keeps it across its retries,
 * so every retry of one run carries the same time and therefore the same run id.
 */
export function scheduleInput(job: string): string {
  const event: LaunchEvent = { job, scheduledTime: "<aws.scheduler.scheduled-time>" };
  return JSON.stringify(event);
}

/**
 * The role EventBridge Scheduler assumes to deliver a schedule's events (only this account's
 * schedules may assume it), with its one policy, as children of `parent`: a job's schedule and
 * the reaper's each have one.
 */
export function declareSchedulerRole(
  names: { invokeRole: string; invokePolicy: string },
  args: {
    description: string;
    /** Account id, so only this account's schedules can assume the role. */
    accountId: pulumi.Input<string>;
    /** The role's policy, a JSON document. */
    policy: pulumi.Input<string>;
  },
  parent: pulumi.Resource,
): { role: aws.iam.Role; policy: aws.iam.RolePolicy } {
  const role = new aws.iam.Role(
    names.invokeRole,
    {
      description: args.description,
      assumeRolePolicy: pulumi
        .output(args.accountId)
        .apply((accountId) =>
          JSON.stringify(serviceTrustPolicy("scheduler.amazonaws.com", accountId)),
        ),
    },
    { parent },
  );
  const policy = new aws.iam.RolePolicy(
    names.invokePolicy,
    { role: role.id, policy: args.policy },
    { parent },
  );
  return { role, policy };
}

/**
 * When a job runs: an EventBridge Scheduler schedule that invokes the launcher with the job name
 * and scheduled time, retries on failure, and dead-letters what it cannot deliver to an SQS queue.
 */
export class JobSchedule extends pulumi.ComponentResource {
  /** The schedule. */
  readonly schedule: aws.scheduler.Schedule;
  /** Schedule name. */
  readonly scheduleName: pulumi.Output<string>;
  /** The dead-letter queue. */
  readonly deadLetterQueue: aws.sqs.Queue;

  constructor(name: string, args: JobScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:JobSchedule", name, {}, opts);
    const names = jobScheduleNames(name);

    this.deadLetterQueue = new aws.sqs.Queue(
      names.deadLetterQueue,
      { sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 3600 },
      { parent: this },
    );
    const { role, policy } = declareSchedulerRole(
      names,
      {
        description: "EventBridge Scheduler: invoke the launcher, dead-letter failures",
        accountId: args.accountId,
        policy: policyJson(schedulePolicy, {
          launcherArn: args.launcherArn,
          deadLetterQueueArn: this.deadLetterQueue.arn,
        }),
      },
      this,
    );
    // A bad expression or offset fails here, naming this schedule (config validation catches
    // both first; this is for any other caller).
    let expression: string;
    let parsed: ParsedSchedule;
    try {
      expression = offsetSchedule(args.expression, args.offsetMinutes ?? 0);
      parsed = parseScheduleExpression(expression);
    } catch (error) {
      throw new pulumi.ResourceError((error as Error).message, this);
    }
    // Scheduler skips or runs once a cron time that a DST transition skips or repeats; say so
    // where the schedule is declared, since nothing at run time will.
    for (const warning of dstWarningsForYear(parsed, args.timezone, new Date())) {
      pulumi.log.warn(formatDstWarning(args.job, expression, args.timezone, warning), this);
    }
    this.schedule = new aws.scheduler.Schedule(
      names.schedule,
      {
        description: `transient-jobs: run job "${args.job}"`,
        scheduleExpression: expression,
        scheduleExpressionTimezone: args.timezone,
        state: args.enabled ? "ENABLED" : "DISABLED",
        flexibleTimeWindow: { mode: "OFF" },
        target: {
          arn: args.launcherArn,
          roleArn: role.arn,
          input: scheduleInput(args.job),
          retryPolicy: {
            maximumRetryAttempts: args.retry.maximumRetryAttempts,
            maximumEventAgeInSeconds: args.retry.maximumEventAgeSeconds,
          },
          deadLetterConfig: { arn: this.deadLetterQueue.arn },
        },
      },
      // Scheduler checks the role when the schedule is written.
      { parent: this, dependsOn: [policy] },
    );

    this.scheduleName = this.schedule.name;
    this.registerOutputs({
      scheduleName: this.scheduleName,
      deadLetterQueueArn: this.deadLetterQueue.arn,
    });
  }
}
