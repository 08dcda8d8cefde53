import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { jobInstanceProfileNames } from "../lib/resourceNames";
import { instancePolicy, serviceTrustPolicy } from "./policies";

/** Arguments of {@link JobInstanceProfile}. */
export interface JobInstanceProfileArgs {
  /** Repository the instance pulls the job image from. */
  repositoryArn: pulumi.Input<string>;
  /** Results bucket ARN. */
  bucketArn: pulumi.Input<string>;
  /** The job's key prefix in the bucket (e.g. `jobs/pi`); the instance writes only below it. */
  resultsPrefix: string;
  /** Log group the container's `awslogs` driver writes to. */
  logGroupArn: pulumi.Input<string>;
  /** The region's topic, for run outcome notifications. */
  topicArn: pulumi.Input<string>;
}

/**
 * The identity of a job's instances: a role that can pull the job's image, write under the job's
 * results prefix and log group, and nothing else; wrapped in an instance profile.
 */
export class JobInstanceProfile extends pulumi.ComponentResource {
  /** The instance role. */
  readonly role: aws.iam.Role;
  /** Role ARN, for the launcher's `iam:PassRole`. */
  readonly roleArn: pulumi.Output<string>;
  /** Instance profile ARN, for the launch template. */
  readonly profileArn: pulumi.Output<string>;

  constructor(name: string, args: JobInstanceProfileArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:JobInstanceProfile", name, {}, opts);
    const names = jobInstanceProfileNames(name);

    this.role = new aws.iam.Role(
      names.role,
      {
        description: "Transient job instance: pull the job image, write results and logs",
        assumeRolePolicy: JSON.stringify(serviceTrustPolicy("ec2.amazonaws.com")),
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      names.policy,
      {
        role: this.role.id,
        policy: pulumi
          .all([args.repositoryArn, args.bucketArn, args.logGroupArn, args.topicArn])
          .apply(([repositoryArn, bucketArn, logGroupArn, topicArn]) =>
            JSON.stringify(
              instancePolicy({
                repositoryArn,
                bucketArn,
                resultsPrefix: args.resultsPrefix,
                logGroupArn,
                topicArn,
              }),
            ),
          ),
      },
      { parent: this },
    );
    const profile = new aws.iam.InstanceProfile(
      names.profile,
      { role: this.role.name },
      { parent: this },
    );

    this.roleArn = this.role.arn;
    this.profileArn = profile.arn;
    this.registerOutputs({ roleArn: this.roleArn, profileArn: this.profileArn });
  }
}
