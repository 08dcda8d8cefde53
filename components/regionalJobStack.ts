import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { jobsForRegion, maxLaunchDelaySeconds, RegionConfig, StackConfig } from "../config";
import { JobImage } from "./jobImage";
import { Launcher, LAUNCHER_TIMEOUT_SECONDS } from "./launcher";
import { queueNameFromArn, RegionalAlarms } from "./regionalAlarms";
import { RunNotifications } from "./notifications";
import { Reaper } from "./reaper";
import { RunSupervisor } from "./runSupervisor";
import type { RegionContext, RegionIdentity } from "./regionContext";
import { ResultsBucket } from "./resultsBucket";
import { jobResultsPrefix, ScheduledJob, type JobImageSource } from "./scheduledJob";
import { checkpointsPrefix } from "./policies";
import { jobHardwareOutput, lookUpInstanceTypes } from "./instanceTypeFacts";
import { ecrRepositoryArn, parseImageReference } from "../lib/imageReference";
import { imageKey, regionalJobStackNames } from "../lib/resourceNames";
import { jobPlacement, lookUpOfferings, lookUpSubnetZones } from "./instanceOfferings";
import { lookUpRegionPrices, pricesFor } from "./instancePrices";

/** The image key of a job; see {@link imageKey} in lib/resourceNames.ts. */
export { imageKey };

/** `registry/repository` of an image reference, without tag or digest. */
function repositoryOf(imageUri: string): string {
  const { registry, repository } = parseImageReference(imageUri)!;
  return `${registry}/${repository}`;
}

/** Arguments of {@link RegionalJobStack}. */
export interface RegionalJobStackArgs {
  /** The validated stack config. */
  config: StackConfig;
  /** The region this stack deploys, with its overrides. */
  region: RegionConfig;
  /**
   * The regional stacks earlier in the rollout (lower `rolloutOrder`): this region builds and
   * pushes its images only once they are up to date, so a new image reaches them first.
   */
  rolloutAfter?: pulumi.Resource[];
  /**
   * The stack's provider in a Price List region (us-east-1), for the on-demand prices of the
   * region's instance types (see components/instancePrices.ts). Default: no prices, no estimates.
   */
  pricingProvider?: pulumi.ProviderResource;
}

/** Outputs of one job in one region. */
export interface RegionalJobOutputs {
  repositoryUrl: pulumi.Output<string>;
  imageUri: pulumi.Output<string>;
  scheduleName: pulumi.Output<string>;
  launchTemplateId: pulumi.Output<string>;
  logGroupName: pulumi.Output<string>;
  deadLetterQueueArn: pulumi.Output<string>;
}

/**
 * Everything one region needs to run the stack's jobs: a results bucket, images, a launcher, and
 * one {@link ScheduledJob} per job. Pass the region's provider in `opts.providers`; every child
 * and lookup inherits it.
 */
export class RegionalJobStack extends pulumi.ComponentResource {
  readonly bucketName: pulumi.Output<string>;
  readonly launcherFunctionName: pulumi.Output<string>;
  readonly jobs: Record<string, RegionalJobOutputs>;
  /** The region's topic for run outcomes and alarms. */
  readonly topicArn: pulumi.Output<string>;

  constructor(name: string, args: RegionalJobStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:RegionalJobStack", name, {}, opts);
    const names = regionalJobStackNames(name);
    const { config, region } = args;
    const invoke = { parent: this };
    const partition = aws.getPartitionOutput({}, invoke).partition;
    const accountId = aws.getCallerIdentityOutput({}, invoke).accountId;
    const network = this.lookUpNetwork(region, invoke);

    const securityGroup = new aws.ec2.SecurityGroup(
      names.securityGroup,
      {
        description: "transient-jobs instances: no inbound traffic, HTTPS out",
        vpcId: network.vpcId,
        ingress: [],
        egress: [
          {
            description: "HTTPS to ECR, S3, CloudWatch Logs and package mirrors",
            protocol: "tcp",
            fromPort: 443,
            toPort: 443,
            cidrBlocks: ["0.0.0.0/0"],
          },
        ],
      },
      { parent: this },
    );
    const jobs = jobsForRegion(config, region);
    const bucket = new ResultsBucket(
      names.results,
      {
        retainOnDelete: config.retainResources,
        checkpointPrefixes: jobs.map((job) => checkpointsPrefix(jobResultsPrefix(job.name))),
      },
      { parent: this },
    );

    // What EC2 offers and charges here (components/instanceOfferings.ts, instancePrices.ts).
    const allTypes = [...new Set(jobs.flatMap((job) => job.instanceTypes))];
    const subnetZones = lookUpSubnetZones(network.subnetIds, invoke);
    const offerings = lookUpOfferings(allTypes, invoke);
    const typeFacts = lookUpInstanceTypes(allTypes, invoke);
    const prices = args.pricingProvider
      ? lookUpRegionPrices({
          region: region.name,
          instanceTypes: allTypes,
          provider: args.pricingProvider,
          parent: this,
        })
      : pulumi.output({ onDemandUsdPerHour: {} });
    const regionIndex = config.regions.indexOf(region);
    const identity: RegionIdentity = {
      environment: config.environment,
      region: region.name,
      partition,
      accountId,
    };
    // Its key trusts every role whose name starts with this stack's name (see RunNotifications).
    const notifications = new RunNotifications(
      names.notifications,
      {
        context: identity,
        rolePrefix: `${name}-`,
        subscribers: config.notifications,
        keyDeletionWindowDays: config.retainResources ? 30 : 7,
      },
      { parent: this },
    );
    const context: RegionContext = {
      ...identity,
      logRetentionDays: config.logRetentionDays,
      topicArn: notifications.topicArn,
      logsKmsKeyArn: notifications.keyArn,
    };
    // The images' builds write logs with the region's key, so they come after the context.
    const images = new Map<string, JobImage>();
    // A job with an image built elsewhere gets no repository and no build.
    for (const job of jobs.filter((j) => j.imageUri === undefined)) {
      const key = imageKey(job.image, job.architecture);
      if (!images.has(key)) {
        images.set(
          key,
          new JobImage(
            names.image(key),
            {
              context: job.image,
              architecture: job.architecture,
              imagesToKeep: config.imagesToKeep,
              retainOnDelete: config.retainResources,
              buildAfter: args.rolloutAfter,
              builder: config.imageBuilder,
              codeBuild: { imageKey: key, region: context },
            },
            { parent: this },
          ),
        );
      }
    }

    // Pinned, so that volumes never fall to the account's default EBS key, which may be a
    // customer-managed key the launcher may not use (https://docs.aws.amazon.com/ebs/latest/userguide/work-with-ebs-encr.html).
    const ebsKmsKeyArn =
      region.ebsKmsKeyArn ?? aws.kms.getKeyOutput({ keyId: "alias/aws/ebs" }, invoke).arn;

    // What each job's runs need comes first: the launcher needs all of it, and each job's
    // schedule, declared after the launcher, invokes it.
    const runtimes = jobs.map((job) => {
      const instanceTypesKey = region.instanceTypes
        ? `transient-jobs:regions[${regionIndex}].instanceTypes`
        : `transient-jobs:jobs.${job.name}.instanceTypes`;
      const image: JobImageSource =
        job.imageUri === undefined
          ? images.get(imageKey(job.image, job.architecture))!
          : {
              imageUri: job.imageUri,
              repositoryArn: partition.apply((p) =>
                ecrRepositoryArn(parseImageReference(job.imageUri!)!, p),
              ),
            };
      const scheduled = new ScheduledJob(
        names.job(job.name),
        {
          job,
          context,
          enabled: region.enabled,
          scheduleOffsetMinutes: region.scheduleOffsetMinutes,
          image,
          hardware: jobHardwareOutput({
            instanceTypes: job.instanceTypes,
            architecture: job.architecture,
            facts: typeFacts,
            configKey: instanceTypesKey,
            parent: this,
          }),
          bucket,
          securityGroupId: securityGroup.id,
          subnetIds: network.subnetIds,
          ebsKmsKeyArn,
          maxLaunchDelaySeconds: maxLaunchDelaySeconds(
            job,
            config.launcherRetry,
            LAUNCHER_TIMEOUT_SECONDS,
          ),
          launchFacts: pulumi
            .all([
              prices,
              subnetZones,
              jobPlacement({
                region: region.name,
                instanceTypes: job.instanceTypes,
                configKey: instanceTypesKey,
                subnetIds: network.subnetIds,
                subnetZones,
                offerings,
                parent: this,
              }),
            ])
            .apply(([regionPrices, zones, subnetIdsByInstanceType]) => ({
              ...pricesFor(regionPrices, job.instanceTypes),
              subnetIdsByInstanceType,
              subnetZones: zones,
            })),
        },
        { parent: this },
      );
      return { job, image, scheduled };
    });
    const launcher = new Launcher(
      names.launcher,
      {
        context,
        jobs: pulumi.all(runtimes.map(({ scheduled }) => scheduled.launcherJob)),
        timeoutSeconds: LAUNCHER_TIMEOUT_SECONDS,
        bucketArn: bucket.bucketArn,
        retry: config.launcherRetry,
        spot: jobs.some((job) => job.purchaseOption !== "on-demand"),
        ebsKmsKeyArn: region.ebsKmsKeyArn,
      },
      { parent: this },
    );
    const scheduledJobs = runtimes.map((runtime) => ({
      ...runtime,
      schedule: runtime.scheduled.schedule(launcher.functionArn),
    }));

    new Reaper(
      names.reaper,
      { context, bucketName: bucket.bucketName, bucketArn: bucket.bucketArn },
      { parent: this },
    );
    new RunSupervisor(
      names.supervisor,
      {
        context,
        bucketName: bucket.bucketName,
        bucketArn: bucket.bucketArn,
        jobs: pulumi
          .all(runtimes.map(({ scheduled }) => scheduled.launcherJob))
          .apply((launcherJobs) => launcherJobs.map((j) => j.spec)),
        launcherArn: launcher.functionArn,
      },
      { parent: this },
    );
    new RegionalAlarms(
      names.alarms,
      {
        context,
        enabled: region.enabled,
        launcherFunctionName: launcher.functionName,
        launcherFailureQueueName: launcher.failureQueue.name,
        jobs: scheduledJobs.map(({ job, schedule }) => ({
          job,
          deadLetterQueueName: schedule.deadLetterQueue.arn.apply(queueNameFromArn),
        })),
      },
      { parent: this },
    );

    this.topicArn = notifications.topicArn;
    this.bucketName = bucket.bucketName;
    this.launcherFunctionName = launcher.functionName;
    this.jobs = Object.fromEntries(
      scheduledJobs.map(({ job, image, scheduled, schedule }) => [
        job.name,
        {
          repositoryUrl:
            image instanceof JobImage
              ? image.repositoryUrl
              : pulumi.output(repositoryOf(job.imageUri!)),
          imageUri: pulumi.output(image.imageUri),
          scheduleName: schedule.scheduleName,
          launchTemplateId: scheduled.launchTemplateId,
          logGroupName: scheduled.logGroupName,
          deadLetterQueueArn: schedule.deadLetterQueue.arn,
        },
      ]),
    );
    this.registerOutputs({
      bucketName: this.bucketName,
      launcherFunctionName: this.launcherFunctionName,
      jobs: this.jobs,
      topicArn: this.topicArn,
    });
  }

  /** The configured subnets, or the default VPC's default subnets (one per AZ). */
  private lookUpNetwork(
    region: RegionConfig,
    invoke: pulumi.InvokeOutputOptions,
  ): { vpcId: pulumi.Output<string>; subnetIds: pulumi.Output<string[]> } {
    if (region.subnetIds) {
      return {
        vpcId: aws.ec2.getSubnetOutput({ id: region.subnetIds[0] }, invoke).vpcId,
        subnetIds: pulumi.output(region.subnetIds),
      };
    }
    const vpcId = aws.ec2.getVpcOutput({ default: true }, invoke).id;
    const subnetIds = aws.ec2.getSubnetsOutput(
      {
        filters: [
          { name: "vpc-id", values: [vpcId] },
          { name: "default-for-az", values: ["true"] },
        ],
      },
      invoke,
    ).ids;
    return { vpcId, subnetIds };
  }
}
