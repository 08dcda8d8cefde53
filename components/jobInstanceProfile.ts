import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { jobInstanceProfileNames } from "../lib/resourceNames";
import type { JobPolicyStatement } from "../config";
import { jobOwnPolicy, instancePolicy, serviceTrustPolicy, type SecretGrant } from "./policies";
import { policyJson } from "./policyJson";

/** Arguments of {@link JobInstanceProfile}. */
export interface JobInstanceProfileArgs {
  /** Private ECR repository the instance pulls the job image from; none for a public image. */
  repositoryArn: pulumi.Input<string | undefined>;
  /** Results bucket ARN. */
  bucketArn: pulumi.Input<string>;
  /** The job's key prefix in the bucket (e.g. `jobs/pi`); the instance writes only below it. */
  resultsPrefix: string;
  /** Log group the container's `awslogs` driver writes to. */
  logGroupArn: pulumi.Input<string>;
  /** The secrets the job reads at run time (resolved ARNs). Default none. */
  secrets?: pulumi.Input<SecretGrant[]>;
  /** ARN partition, for the secrets' keys. */
  partition?: pulumi.Input<string>;
  /** Managed policies attached to the role (`policies.managed`). Default none. */
  managedPolicyArns?: string[];
  /** The job's own statements (`policies.statements`), one more inline policy. Default none. */
  statements?: JobPolicyStatement[];
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
        policy: policyJson(instancePolicy, {
          repositoryArn: args.repositoryArn,
          bucketArn: args.bucketArn,
          resultsPrefix: args.resultsPrefix,
          logGroupArn: args.logGroupArn,
          secrets: args.secrets ?? [],
          partition: args.partition ?? "aws",
        }),
      },
      { parent: this },
    );
    // The job's own permissions, apart from ours, so the plan and the IAM simulation show them.
    if ((args.statements ?? []).length > 0) {
      new aws.iam.RolePolicy(
        names.ownPolicy,
        { role: this.role.id, policy: JSON.stringify(jobOwnPolicy(args.statements!)) },
        { parent: this },
      );
    }
    (args.managedPolicyArns ?? []).forEach(
      (policyArn, index) =>
        new aws.iam.RolePolicyAttachment(
          names.managed(index),
          { role: this.role.name, policyArn },
          { parent: this },
        ),
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
