import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { EC2Client } from "@aws-sdk/client-ec2";
import { S3Client } from "@aws-sdk/client-s3";
import { SchedulerClient } from "@aws-sdk/client-scheduler";
import { SNSClient } from "@aws-sdk/client-sns";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { JobLaunchSpec } from "../launcher/contract";
import {
  handleSupervisorEvent,
  SUPERVISOR_EVENT_PATTERNS,
  type SupervisorSettings,
} from "../launcher/supervisor";
import { METRIC_NAMESPACE } from "../launcher/telemetry";
import { runSupervisorNames, SUPERVISED_EVENT_KEYS } from "../lib/resourceNames";
import { declareClosureFunction } from "./closureFunction";
import { declareSchedulerRole } from "./jobSchedule";
import { eventDeadLetterQueuePolicy, invokeFunctionPolicy, supervisorPolicy } from "./policies";
import { accountScope, policyJson } from "./policyJson";
import type { RegionContext } from "./regionContext";

/** Arguments of {@link RunSupervisor}. */
export interface RunSupervisorArgs {
  /** The region: its EC2 events, this stack's instances in it. */
  context: RegionContext;
  /** The region's results bucket (run and attempt records). */
  bucketName: pulumi.Input<string>;
  bucketArn: pulumi.Input<string>;
  /** The region's jobs, as the launcher has them (each with its `runRetries`). */
  jobs: pulumi.Input<JobLaunchSpec[]>;
  /** The launcher, which starts every next attempt. */
  launcherArn: pulumi.Input<string>;
}

/** Seconds one supervisor invocation may take: a few S3 and EC2 calls and one schedule. */
export const SUPERVISOR_TIMEOUT_SECONDS = 60;

/**
 * EventBridge's retries of an event the function failed on (at most 185 attempts, 24 h), before
 * the rule's dead-letter queue: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html
 */
export const SUPERVISOR_EVENT_RETRY = { maximumRetryAttempts: 10, maximumEventAgeInSeconds: 3600 };

/** How long the dead-letter queue keeps an event: 14 days, SQS's maximum. */
const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;

/**
 * The region's run supervisor: a Lambda, serialized from a closure, that EC2's spot
 * interruption warnings and `terminated` state changes invoke (through one EventBridge rule
 * each, with a retry policy and a dead-letter queue). It records lost attempts, decides by each
 * job's `runRetries`, schedules next attempts through the launcher (one-time schedules in its own
 * group) and reports each run's outcome once (launcher/supervisor.ts). No always-on controller:
 * it runs only when an instance of the region ends.
 */
export class RunSupervisor extends pulumi.ComponentResource {
  readonly function: aws.lambda.CallbackFunction<unknown, unknown>;
  readonly functionName: pulumi.Output<string>;
  /** Where EventBridge puts the events it could not deliver. */
  readonly deadLetterQueue: aws.sqs.Queue;

  constructor(name: string, args: RunSupervisorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:RunSupervisor", name, {}, opts);
    const names = runSupervisorNames(name);
    const { context } = args;
    const parent = { parent: this };

    const group = new aws.scheduler.ScheduleGroup(names.scheduleGroup, {}, parent);
    const { role: invokeRole } = declareSchedulerRole(
      names,
      {
        description:
          "EventBridge Scheduler: invoke the transient-jobs launcher for a run's next attempt",
        accountId: context.accountId,
        policy: pulumi
          .output(args.launcherArn)
          .apply((arn) => JSON.stringify(invokeFunctionPolicy(arn))),
      },
      this,
    );
    const settings = pulumi
      .all([
        args.bucketName,
        context.topicArn,
        args.jobs,
        args.launcherArn,
        invokeRole.arn,
        group.name,
      ])
      .apply(
        ([
          bucket,
          topicArn,
          jobs,
          launcherArn,
          schedulerRoleArn,
          scheduleGroup,
        ]): SupervisorSettings => ({
          environment: context.environment,
          region: context.region,
          bucket,
          topicArn,
          jobs: Object.fromEntries(jobs.map((spec) => [spec.job, spec])),
          launcherArn,
          schedulerRoleArn,
          scheduleGroup,
        }),
      );

    const declared = declareClosureFunction<unknown, unknown>(
      {
        names,
        context,
        roleDescription:
          "transient-jobs run supervisor: record ended attempts and schedule next attempts through the launcher",
        description: "transient-jobs: decide what becomes of a run when its instance ends",
        policy: (logGroupArn) =>
          policyJson(supervisorPolicy, {
            ...accountScope(context),
            bucketArn: args.bucketArn,
            logGroupArn,
            metricNamespace: METRIC_NAMESPACE,
            topicArn: context.topicArn,
            scheduleGroupName: group.name,
            invokeRoleArn: invokeRole.arn,
          }),
        timeoutSeconds: SUPERVISOR_TIMEOUT_SECONDS,
        callbackFactory: () => () => {
          // Created once per container and reused by every invocation it serves.
          const clients = {
            ec2: new EC2Client({}),
            s3: new S3Client({}),
            scheduler: new SchedulerClient({}),
            cloudwatch: new CloudWatchClient({}),
            sns: new SNSClient({}),
          };
          const resolved = settings.get();
          return (event: unknown) => handleSupervisorEvent(event, clients, resolved);
        },
      },
      this,
    );
    this.function = declared.function;

    this.deadLetterQueue = new aws.sqs.Queue(
      names.deadLetterQueue,
      { sqsManagedSseEnabled: true, messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS },
      parent,
    );
    const patterns = {
      interruption: SUPERVISOR_EVENT_PATTERNS.interruptionWarning,
      terminated: SUPERVISOR_EVENT_PATTERNS.terminated,
    } satisfies Record<(typeof SUPERVISED_EVENT_KEYS)[number], object>;
    const rules = SUPERVISED_EVENT_KEYS.map((event) => {
      const rule = new aws.cloudwatch.EventRule(
        names.rule(event),
        {
          description: `transient-jobs: ${patterns[event]["detail-type"][0]} events to the run supervisor`,
          eventPattern: JSON.stringify(patterns[event]),
        },
        parent,
      );
      // EventBridge invokes a function only if its resource policy allows this rule
      // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html).
      const permission = new aws.lambda.Permission(
        names.permission(event),
        {
          action: "lambda:InvokeFunction",
          function: this.function.name,
          principal: "events.amazonaws.com",
          sourceArn: rule.arn,
        },
        parent,
      );
      new aws.cloudwatch.EventTarget(
        names.target(event),
        {
          rule: rule.name,
          arn: this.function.arn,
          retryPolicy: SUPERVISOR_EVENT_RETRY,
          deadLetterConfig: { arn: this.deadLetterQueue.arn },
        },
        { parent: this, dependsOn: [permission] },
      );
      return rule;
    });
    new aws.sqs.QueuePolicy(
      names.deadLetterPolicy,
      {
        queueUrl: this.deadLetterQueue.url,
        policy: pulumi
          .all([this.deadLetterQueue.arn, ...rules.map((r) => r.arn)])
          .apply(([queueArn, ...ruleArns]) =>
            JSON.stringify(eventDeadLetterQueuePolicy(queueArn, ruleArns)),
          ),
      },
      parent,
    );
    this.functionName = this.function.name;
    this.registerOutputs({
      functionName: this.functionName,
      deadLetterQueueArn: this.deadLetterQueue.arn,
    });
  }
}
