import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Architecture } from "../config";
import { jobLaunchTemplateNames } from "../lib/resourceNames";

/** Arguments of {@link JobLaunchTemplate}. */
export interface JobLaunchTemplateArgs {
  /** AMI to boot; resolve it with {@link ecsOptimizedAmiParameter}. */
  imageId: pulumi.Input<string>;
  /** Default instance type; the launcher overrides it per attempt. */
  instanceType: string;
  /** Root volume size in GiB. */
  volumeGiB: number;
  /** Instance profile ARN of the job. */
  instanceProfileArn: pulumi.Input<string>;
  /** Security group with no inbound rules. */
  securityGroupId: pulumi.Input<string>;
  /**
   * KMS key of the root volume. Always set: `encrypted` alone means the account's default EBS
   * key, which the account may have changed to a key the launcher cannot use.
   */
  ebsKmsKeyArn: pulumi.Input<string>;
  /** Tags written on every instance and volume launched from the template. */
  tags: Record<string, string>;
}

/**
 * Public SSM parameter holding the current ECS-optimized Amazon Linux 2023 AMI: Docker and the
 * ECR credential tooling are preinstalled, so no AMI is baked or maintained. The GPU variant
 * (x86_64 only) adds the NVIDIA driver and container toolkit that `docker run --gpus` needs
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/retrieve-ecs-optimized_AMI.html).
 */
export function ecsOptimizedAmiParameter(architecture: Architecture, gpu = false): string {
  const variant = gpu ? "gpu/" : architecture === "arm64" ? "arm64/" : "";
  return `/aws/service/ecs/optimized-ami/amazon-linux-2023/${variant}recommended/image_id`;
}

/**
 * User data of the template itself. The launcher always supplies a rendered init script; an
 * instance started from the template by any other path powers off at once instead of idling.
 */
export const FAIL_SAFE_USER_DATA = Buffer.from(
  "#!/bin/bash\n# Launched without a run's init script: nothing to do.\nshutdown -h now\n",
).toString("base64");

/**
 * How a job's instances boot: the ECS-optimized AMI, IMDSv2 only, an encrypted gp3 root volume,
 * no SSH key, no inbound traffic, and termination when the instance powers itself off.
 */
export class JobLaunchTemplate extends pulumi.ComponentResource {
  /** The launch template. */
  readonly launchTemplate: aws.ec2.LaunchTemplate;
  /** Launch template id. */
  readonly launchTemplateId: pulumi.Output<string>;
  /** Launch template ARN, for the launcher's `ec2:LaunchTemplate` condition. */
  readonly launchTemplateArn: pulumi.Output<string>;

  constructor(name: string, args: JobLaunchTemplateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:JobLaunchTemplate", name, {}, opts);
    const names = jobLaunchTemplateNames(name);

    this.launchTemplate = new aws.ec2.LaunchTemplate(
      names.template,
      {
        description: "Transient job instance; the launcher adds a per-run init script",
        imageId: args.imageId,
        instanceType: args.instanceType,
        iamInstanceProfile: { arn: args.instanceProfileArn },
        vpcSecurityGroupIds: [args.securityGroupId],
        instanceInitiatedShutdownBehavior: "terminate",
        metadataOptions: {
          httpEndpoint: "enabled",
          httpTokens: "required",
          // Containers sit one network hop behind the instance; they need hop limit 2 for IMDSv2.
          httpPutResponseHopLimit: 2,
          // The init script reads the launcher's launch times from the instance's tags
          // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/work-with-tags-in-IMDS.html);
          // every instance tag key must then follow that page's rule, which the offline plan checks.
          instanceMetadataTags: "enabled",
        },
        blockDeviceMappings: [
          {
            deviceName: "/dev/xvda",
            ebs: {
              volumeSize: args.volumeGiB,
              volumeType: "gp3",
              encrypted: "true",
              kmsKeyId: args.ebsKmsKeyArn,
              deleteOnTermination: "true",
            },
          },
        ],
        userData: FAIL_SAFE_USER_DATA,
        updateDefaultVersion: true,
        tagSpecifications: [
          { resourceType: "instance", tags: args.tags },
          { resourceType: "volume", tags: args.tags },
        ],
        tags: args.tags,
      },
      { parent: this },
    );

    this.launchTemplateId = this.launchTemplate.id;
    this.launchTemplateArn = this.launchTemplate.arn;
    this.registerOutputs({
      launchTemplateId: this.launchTemplateId,
      launchTemplateArn: this.launchTemplateArn,
    });
  }
}
