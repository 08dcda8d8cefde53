import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { JobConfig } from "../config";
import { PROJECT_TAG_VALUE, TAGS, type JobLaunchSpec } from "../launcher/contract";
import { JobImage } from "./jobImage";
import { JobInstanceProfile } from "./jobInstanceProfile";
import { ecsOptimizedAmiParameter, JobLaunchTemplate } from "./jobLaunchTemplate";
import { JobSchedule } from "./jobSchedule";
import { LauncherJob } from "./launcher";
import { ResultsBucket } from "./resultsBucket";
import { scheduledJobNames } from "../lib/resourceNames";

/** Arguments of {@link ScheduledJob}. */
export interface ScheduledJobArgs {
  /** The validated job config, with the region's overrides applied. */
  job: JobConfig;
  /** Stack name. */
  environment: string;
  /** Region of this job instance. */
  region: string;
  /** `false` keeps everything but stops the schedule firing. */
  enabled: boolean;
  /** Minutes this region's schedule runs later than the job's (the region's offset). Default 0. */
  scheduleOffsetMinutes?: number;
  /** Partition and account of the region's resources. */
  partition: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  /** The image the job runs (shared by jobs with the same build context and architecture). */
  image: JobImage;
  /** The region's results bucket; the job writes under `jobs/<name>/`. */
  bucket: ResultsBucket;
  /** The region's launcher function ARN, the schedule's target. */
  launcherArn: pulumi.Input<string>;
  /** Security group with no inbound rules. */
  securityGroupId: pulumi.Input<string>;
  /** Subnets to launch into, one per availability zone. */
  subnetIds: pulumi.Input<string[]>;
  /** Days to keep the job's logs. */
  logRetentionDays: number;
  /** Topic for run outcome notifications, if any. */
  topicArn?: pulumi.Input<string>;
  /** KMS key encrypting the job's log group. Default: CloudWatch Logs' own encryption. */
  logsKmsKeyArn?: pulumi.Input<string>;
  /** KMS key of the instances' root volumes. */
  ebsKmsKeyArn: pulumi.Input<string>;
  /** How long after its scheduled time a run can still be launched (see `maxLaunchDelaySeconds`). */
  maxLaunchDelaySeconds: number;
  /** What AWS said at deploy time: prices and where each type is offered (launch spec fields). */
  launchFacts?: pulumi.Input<
    Pick<
      JobLaunchSpec,
      "onDemandUsdPerHour" | "volumeUsdPerGiBMonth" | "subnetIdsByInstanceType" | "subnetZones"
    >
  >;
}

/** Key prefix of a job in its region's bucket. */
export function jobResultsPrefix(job: string): string {
  return `jobs/${job}`;
}

/**
 * One job in one region: its instance identity, launch template, log group and schedule. The
 * region's launcher starts its runs with {@link ScheduledJob.launcherJob}.
 */
export class ScheduledJob extends pulumi.ComponentResource {
  /** What the launcher needs to start a run, and the permissions that needs. */
  readonly launcherJob: pulumi.Output<LauncherJob>;
  readonly launchTemplateId: pulumi.Output<string>;
  readonly scheduleName: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;
  readonly deadLetterQueueArn: pulumi.Output<string>;

  constructor(name: string, args: ScheduledJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:ScheduledJob", name, {}, opts);
    const names = scheduledJobNames(name);
    const { job } = args;
    const resultsPrefix = jobResultsPrefix(job.name);
    const tags = {
      [TAGS.project]: PROJECT_TAG_VALUE,
      [TAGS.environment]: args.environment,
      [TAGS.job]: job.name,
    };

    const logGroup = new aws.cloudwatch.LogGroup(
      names.logs,
      { retentionInDays: args.logRetentionDays, kmsKeyId: args.logsKmsKeyArn, tags },
      { parent: this },
    );
    const identity = new JobInstanceProfile(
      names.instance,
      {
        repositoryArn: args.image.repositoryArn,
        bucketArn: args.bucket.bucketArn,
        resultsPrefix,
        logGroupArn: logGroup.arn,
        topicArn: args.topicArn,
      },
      { parent: this },
    );
    const imageId = aws.ssm.getParameterOutput(
      { name: ecsOptimizedAmiParameter(job.architecture) },
      { parent: this },
    ).value;
    const template = new JobLaunchTemplate(
      names.template,
      {
        imageId,
        instanceType: job.instanceTypes[0],
        volumeGiB: job.volumeGiB,
        instanceProfileArn: identity.profileArn,
        securityGroupId: args.securityGroupId,
        ebsKmsKeyArn: args.ebsKmsKeyArn,
        tags,
      },
      { parent: this },
    );
    const schedule = new JobSchedule(
      names.schedule,
      {
        job: job.name,
        expression: job.schedule,
        timezone: job.timezone,
        offsetMinutes: args.scheduleOffsetMinutes,
        enabled: args.enabled,
        launcherArn: args.launcherArn,
        retry: job.retry,
        accountId: args.accountId,
      },
      { parent: this },
    );

    this.launcherJob = pulumi
      .output({
        launchTemplateId: template.launchTemplateId,
        launchTemplateArn: template.launchTemplateArn,
        instanceRoleArn: identity.roleArn,
        imageId,
        securityGroupId: args.securityGroupId,
        subnetIds: args.subnetIds,
        imageUri: args.image.imageUri,
        bucket: args.bucket.bucketName,
        logGroup: logGroup.name,
        topicArn: args.topicArn ?? "",
        launchFacts: args.launchFacts ?? {},
      })
      .apply((resolved): LauncherJob => ({
        spec: {
          job: job.name,
          launchTemplateId: resolved.launchTemplateId,
          subnetIds: resolved.subnetIds,
          imageUri: resolved.imageUri,
          bucket: resolved.bucket,
          logGroup: resolved.logGroup,
          environment: args.environment,
          region: args.region,
          instanceTypes: job.instanceTypes,
          purchaseOption: job.purchaseOption,
          concurrencyPolicy: job.concurrencyPolicy,
          maxRuntimeMinutes: job.maxRuntimeMinutes,
          maxLaunchDelaySeconds: args.maxLaunchDelaySeconds,
          volumeGiB: job.volumeGiB,
          resultsPrefix,
          ...(resolved.topicArn ? { topicArn: resolved.topicArn } : {}),
          parameters: job.parameters,
          ...resolved.launchFacts,
        },
        permissions: {
          job: job.name,
          launchTemplateArn: resolved.launchTemplateArn,
          instanceRoleArn: resolved.instanceRoleArn,
          imageId: resolved.imageId,
          securityGroupId: resolved.securityGroupId,
        },
      }));
    this.launchTemplateId = template.launchTemplateId;
    this.scheduleName = schedule.scheduleName;
    this.logGroupName = logGroup.name;
    this.deadLetterQueueArn = schedule.deadLetterQueue.arn;
    this.registerOutputs({
      launchTemplateId: this.launchTemplateId,
      scheduleName: this.scheduleName,
      logGroupName: this.logGroupName,
    });
  }
}
