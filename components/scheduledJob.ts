import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { JobConfig } from "../config";
import { JobLaunchSpec, PROJECT_TAG_VALUE, RUN_RECORDS, TAGS } from "../launcher/contract";
import { assertParametersFit, checkScriptSettings } from "../launcher/initScript";
import type { JobHardware } from "./instanceTypeFacts";
import { secretGrants } from "./policies";
import { JobInstanceProfile } from "./jobInstanceProfile";
import { ecsOptimizedAmiParameter, JobLaunchTemplate } from "./jobLaunchTemplate";
import { JobSchedule } from "./jobSchedule";
import { LauncherJob } from "./launcher";
import type { RegionContext } from "./regionContext";
import { ResultsBucket } from "./resultsBucket";
import { scheduledJobNames } from "../lib/resourceNames";

/** Arguments of {@link ScheduledJob}. */
export interface ScheduledJobArgs {
  /** The validated job config, with the region's overrides applied. */
  job: JobConfig;
  /** The region of this job instance; the job's logs and notifications use its key and topic. */
  context: RegionContext;
  /** `false` keeps everything but stops the schedule firing. */
  enabled: boolean;
  /** Minutes this region's schedule runs later than the job's (the region's offset). Default 0. */
  scheduleOffsetMinutes?: number;
  /**
   * The image the job runs: a `JobImage` (shared by jobs with the same build context and
   * architecture) or one built elsewhere.
   */
  image: JobImageSource;
  /** What the job's instance types need at boot (GPUs, instance store), from EC2 at deploy time. */
  hardware?: pulumi.Input<JobHardware>;
  /** The region's results bucket; the job writes under `jobs/<name>/`. */
  bucket: ResultsBucket;
  /** Security group with no inbound rules. */
  securityGroupId: pulumi.Input<string>;
  /** Subnets to launch into, one per availability zone. */
  subnetIds: pulumi.Input<string[]>;
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

/** The image a job runs and the private ECR repository it comes from (none for a public one). */
export interface JobImageSource {
  imageUri: pulumi.Input<string>;
  repositoryArn: pulumi.Input<string | undefined>;
}

/** Key prefix of a job in its region's bucket (the layout is the contract's `RUN_RECORDS`). */
export function jobResultsPrefix(job: string): string {
  return RUN_RECORDS.jobPrefix(job);
}

/** The fields of a {@link JobLaunchSpec} that are the job's config, unchanged. */
export const JOB_LAUNCH_SETTINGS = [
  "instanceTypes",
  "purchaseOption",
  "concurrencyPolicy",
  "maxRuntimeMinutes",
  "runRetries",
  "volumeGiB",
  "parameters",
  "secrets",
] as const satisfies readonly (keyof JobConfig & keyof JobLaunchSpec)[];

/** The part of a job's launch spec taken from its config as it is: see {@link JOB_LAUNCH_SETTINGS}. */
export type JobLaunchSettings = Pick<JobConfig, (typeof JOB_LAUNCH_SETTINGS)[number]>;

/** The {@link JobLaunchSettings} of `job`, and none of its other fields. */
export function jobLaunchSettings(job: JobConfig): JobLaunchSettings {
  return Object.fromEntries(JOB_LAUNCH_SETTINGS.map((key) => [key, job[key]])) as JobLaunchSettings;
}

/**
 * One job in one region, declared in two steps around the region's launcher, which needs every
 * job's {@link ScheduledJob.launcherJob} and is the target of every job's schedule: the
 * constructor declares what a run needs (instance identity, launch template, log group), then
 * {@link ScheduledJob.schedule} declares the schedule that invokes the launcher.
 */
export class ScheduledJob extends pulumi.ComponentResource {
  /** What the launcher needs to start a run, and the permissions that needs. */
  readonly launcherJob: pulumi.Output<LauncherJob>;
  readonly launchTemplateId: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;
  private readonly name: string;
  private readonly args: ScheduledJobArgs;
  private declaredSchedule?: JobSchedule;

  constructor(name: string, args: ScheduledJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:ScheduledJob", name, {}, opts);
    this.name = name;
    this.args = args;
    const names = scheduledJobNames(name);
    const { job, context } = args;
    const resultsPrefix = jobResultsPrefix(job.name);
    const tags = {
      [TAGS.project]: PROJECT_TAG_VALUE,
      [TAGS.environment]: context.environment,
      [TAGS.job]: job.name,
    };

    const logGroup = new aws.cloudwatch.LogGroup(
      names.logs,
      { retentionInDays: context.logRetentionDays, kmsKeyId: context.logsKmsKeyArn, tags },
      { parent: this },
    );
    const identity = new JobInstanceProfile(
      names.instance,
      {
        repositoryArn: args.image.repositoryArn,
        bucketArn: args.bucket.bucketArn,
        resultsPrefix,
        logGroupArn: logGroup.arn,
        secrets: pulumi
          .all([context.partition, context.accountId])
          .apply(([partition, accountId]) =>
            secretGrants(job.secrets, { partition, accountId, region: context.region }),
          ),
        partition: context.partition,
        managedPolicyArns: job.policies.managed,
        statements: job.policies.statements,
      },
      { parent: this },
    );
    const hardware = pulumi.output(args.hardware ?? { gpu: false, instanceStore: false });
    const imageId = aws.ssm.getParameterOutput(
      { name: hardware.apply((h) => ecsOptimizedAmiParameter(job.architecture, h.gpu)) },
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

    const spec = pulumi
      .output({
        launchTemplateId: template.launchTemplateId,
        subnetIds: args.subnetIds,
        imageUri: args.image.imageUri,
        bucket: args.bucket.bucketName,
        logGroup: logGroup.name,
        topicArn: context.topicArn,
        launchFacts: args.launchFacts ?? {},
        hardware,
      })
      .apply(({ launchFacts, hardware: { gpu, instanceStore }, ...outputs }): JobLaunchSpec => {
        const launchSpec: JobLaunchSpec = {
          job: job.name,
          environment: context.environment,
          region: context.region,
          maxLaunchDelaySeconds: args.maxLaunchDelaySeconds,
          resultsPrefix,
          ...jobLaunchSettings(job),
          ...outputs,
          ...launchFacts,
          gpu,
          instanceStore,
        };
        // Checked once here, at deploy time: the launcher checks only what changes per run.
        // Config checked the size without the GPU and instance-store steps, known only now.
        try {
          checkScriptSettings({ ...launchSpec, deadlineMinutes: launchSpec.maxRuntimeMinutes });
          assertParametersFit({ ...launchSpec, region: context.region });
        } catch (error) {
          throw new pulumi.ResourceError(
            `job ${job.name} in ${context.region}: ${(error as Error).message}`,
            this,
          );
        }
        return launchSpec;
      });
    const permissions = pulumi.output({
      job: job.name,
      launchTemplateArn: template.launchTemplateArn,
      instanceRoleArn: identity.roleArn,
      imageId,
      securityGroupId: args.securityGroupId,
    });
    this.launcherJob = pulumi.output({ spec, permissions });
    this.launchTemplateId = template.launchTemplateId;
    this.logGroupName = logGroup.name;
  }

  /**
   * Declares the job's schedule, a child of this component, invoking the region's launcher at
   * `launcherArn`. Call it once, once the launcher exists; it completes the component.
   */
  schedule(launcherArn: pulumi.Input<string>): JobSchedule {
    if (this.declaredSchedule) {
      throw new pulumi.ResourceError(
        `ScheduledJob ${this.name}: its schedule is already declared`,
        this,
      );
    }
    const { job, context } = this.args;
    this.declaredSchedule = new JobSchedule(
      scheduledJobNames(this.name).schedule,
      {
        job: job.name,
        expression: job.schedule,
        timezone: job.timezone,
        offsetMinutes: this.args.scheduleOffsetMinutes,
        enabled: this.args.enabled,
        launcherArn,
        retry: job.retry,
        accountId: context.accountId,
      },
      { parent: this },
    );
    this.registerOutputs({
      launchTemplateId: this.launchTemplateId,
      scheduleName: this.declaredSchedule.scheduleName,
      logGroupName: this.logGroupName,
    });
    return this.declaredSchedule;
  }
}
