/**
 * Every IAM policy the program declares, taken from the mocks run of each stack and evaluated by
 * an offline IAM policy simulator (@cloud-copilot/iam-simulate, strict mode). The permission
 * matrix below is the contract: each row is a request that must be allowed or denied, in every
 * region and for every job of the stack. A permission the program grants without an "allowed"
 * row fails the completeness test, so a new permission needs a new row.
 */
import * as assert from "node:assert/strict";
import { runSimulation, type Simulation } from "../../testing/iamSimulator";
import { jobsForRegion } from "../../config";
import type { PolicyDocument } from "../../components/policies";
import { imageKey } from "../../components/regionalJobStack";
import { RecordedResource } from "../../offline/engine";
import { evaluatedDeployStack, evaluatedStack, evaluatedWith } from "../../testing/evaluations";
import { loadConfigFile, PROJECT_ROOT } from "../../offline/engine";
import { ecrRepositoryArn, parseImageReference } from "../../lib/imageReference";
import { secretGrants } from "../../components/policies";
import * as path from "node:path";

/** Everything a row needs to name, for one job in one region of one stack. */
interface Facts {
  stack: string;
  /** The stack, or the example config evaluated as that stack. */
  label: string;
  region: string;
  otherRegion: string;
  account: string;
  job: string;
  launchTemplateArn: string;
  imageId: string;
  securityGroupId: string;
  /** The job's private ECR repository; none for a public image. */
  repositoryArn?: string;
  /** The ARNs of the job's own secrets, and those of the region's other jobs. */
  secrets: { kind: "ssm" | "secretsmanager"; arn: string }[];
  otherSecrets: { kind: "ssm" | "secretsmanager"; arn: string }[];
  /** The job's own inline policy (`policies.statements`), if it has one. */
  ownPolicy?: PolicyDocument;
  bucketArn: string;
  logGroupArn: string;
  launcherLogGroupArn: string;
  reaperLogGroupArn: string;
  launcherFunctionArn: string;
  topicArn: string;
  keyArn: string;
  topicPolicy: PolicyDocument;
  keyPolicy: PolicyDocument;
  reaperFunctionArn: string;
  supervisorLogGroupArn: string;
  /** The group of the next attempts' one-time schedules, and the supervisor's dead letters. */
  retryScheduleGroup: string;
  supervisorDeadLetterQueueArn: string;
  supervisorDeadLetterPolicy: PolicyDocument;
  supervisorRuleArns: string[];
  deadLetterQueueArn: string;
  launcherFailureQueueArn: string;
  otherStack: string;
  roles: Record<Principal, string>;
  policies: Record<Principal, PolicyDocument>;
  trust: Record<Role, PolicyDocument>;
  bucketPolicy: PolicyDocument;
  /**
   * Whether the job's image is built in CodeBuild (a build context, `imageBuilder: codebuild`):
   * only then has it a build role, and the rows of that role apply.
   */
  builds: boolean;
  /** The job's image key, its source bucket and that bucket's policy, its build's log group. */
  imageKey: string;
  sourceBucketArn: string;
  sourceBucketPolicy: PolicyDocument;
  buildLogGroupArn: string;
}

/** The identities of the job program whose permissions the matrix covers. */
type Role =
  | "launcher"
  | "instance"
  | "reaper"
  | "supervisor"
  | "job schedule"
  | "reaper schedule"
  | "supervisor schedule"
  | "image build";
/**
 * Every identity of the matrix. The deploy role (deploy/, its own program) appears only with its
 * boundaries against this program's resources; its full matrix is
 * tests/deploy/permissionPolicy.test.ts.
 */
type Principal = Role | "deploy";

/** Callers with no policy of their own, checked against the program's resource policies. */
// The key's statement for CloudWatch Logs is not simulated: the simulator drops its condition key
// kms:EncryptionContext:aws:logs:arn, so a row would test nothing.
type Outsider = "cloudwatch alarms" | "another role" | "eventbridge rules";

type Expect = "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied";

/** One request of the matrix: who asks for what, on which resource, in which context. */
interface Row {
  who: Principal | `trust: ${Role}` | Outsider;
  /** For trust rows and AWS services: the service principal that asks. */
  service?: string;
  action: string;
  resource: (f: Facts) => string;
  context?: (f: Facts) => Record<string, string | string[]>;
  expect: Expect;
  /** What the row proves, in a few words. */
  what: string;
  /** The (region, job)s the row applies to; default all. Each row must apply to one at least. */
  when?: (f: Facts) => boolean;
}

const OTHER_ACCOUNT = "999999999999";
const LAUNCH_TIMES = [
  "transient-jobs:launch-requested-at",
  "transient-jobs:launch-accepted-at",
  "transient-jobs:instance-launch-time",
];
/**
 * Grants the simulator cannot decide: the secrets' kms:Decrypt hangs on kms:EncryptionContext
 * keys, which it drops. tests/components/realJobs.test.ts checks that statement exactly.
 */
const UNSIMULATED = ["instance kms:Decrypt"];
/** The label of examples/real-jobs.yaml (evaluated as stack dev) in the matrix. */
const REAL_JOBS = "real-jobs";
/** A role of the account outside the regional stack's name prefix (one region more digits). */
const ANOTHER_ROLE = "tj-dev-eu-west-10-launcher-role";
const viaSns = (f: Facts, role: string) => ({
  "kms:ViaService": `sns.${f.region}.amazonaws.com`,
  "kms:CallerAccount": f.account,
  "aws:PrincipalArn": role,
});
const fromAlarms = (f: Facts, account = f.account) => ({
  "aws:SourceAccount": account,
  "aws:SourceArn": `arn:aws:cloudwatch:${f.region}:${account}:alarm:tj-${f.stack}-missed-run`,
});
const TLS = { "aws:SecureTransport": "true" };
const ec2 = (f: Facts, resource: string, region = f.region) =>
  `arn:aws:ec2:${region}:${f.account}:${resource}`;
const fromTemplate = (f: Facts) => ({ "ec2:LaunchTemplate": f.launchTemplateArn });
const runTags = (f: Facts, overrides: Record<string, string | undefined> = {}) => {
  const tags: Record<string, string | undefined> = {
    "aws:ResourceTag/transient-jobs:project": "transient-jobs",
    "aws:ResourceTag/transient-jobs:environment": f.stack,
    "aws:ResourceTag/transient-jobs:job": f.job,
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(tags).filter((e): e is [string, string] => e[1] !== undefined),
  );
};

/** The permission matrix. Keep it in step with docs/security.md "Permission matrix". */
const MATRIX: Row[] = [
  // The launcher: start runs from its launch templates, nothing else.
  ...[
    ["launch-template", (f: Facts) => f.launchTemplateArn],
    ["instance", (f: Facts) => ec2(f, "instance/i-0new")],
    ["image", (f: Facts) => `arn:aws:ec2:${f.region}::image/${f.imageId}`],
    ["volume", (f: Facts) => ec2(f, "volume/vol-0new")],
    ["network-interface", (f: Facts) => ec2(f, "network-interface/eni-0new")],
    ["subnet", (f: Facts) => ec2(f, "subnet/subnet-0any")],
    ["security-group", (f: Facts) => ec2(f, `security-group/${f.securityGroupId}`)],
  ].map(([what, resource]): Row => ({
    who: "launcher",
    action: "ec2:RunInstances",
    resource: resource as (f: Facts) => string,
    context: fromTemplate,
    expect: "Allowed",
    what: `RunInstances from its launch template: ${what as string}`,
  })),
  {
    // ec2:LaunchTemplate does not apply to spot requests; the instance still needs the template.
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "spot-instances-request/sir-0new"),
    expect: "Allowed",
    what: "RunInstances as spot: the spot request",
  },
  {
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "instance/i-0new"),
    context: (f) => ({ ...fromTemplate(f), "ec2:MetadataHttpTokens": "required" }),
    expect: "Allowed",
    what: "RunInstances that restates IMDSv2",
  },
  {
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "launch-template/lt-0another000000000"),
    context: (f) => ({ "ec2:LaunchTemplate": ec2(f, "launch-template/lt-0another000000000") }),
    expect: "ImplicitlyDenied",
    what: "RunInstances with another launch template",
  },
  {
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "instance/i-0new"),
    context: (f) => ({ "ec2:LaunchTemplate": ec2(f, "launch-template/lt-0another000000000") }),
    expect: "ImplicitlyDenied",
    what: "an instance from another launch template",
  },
  {
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "instance/i-0new"),
    expect: "ImplicitlyDenied",
    what: "RunInstances without a launch template",
  },
  {
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => `arn:aws:ec2:${f.region}::image/ami-0attacker0000000`,
    context: fromTemplate,
    expect: "ImplicitlyDenied",
    what: "RunInstances overriding the AMI",
  },
  {
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "security-group/sg-0wideopen00000000"),
    context: fromTemplate,
    expect: "ImplicitlyDenied",
    what: "RunInstances overriding the security group",
  },
  {
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "key-pair/someone"),
    context: fromTemplate,
    expect: "ImplicitlyDenied",
    what: "RunInstances with an SSH key pair",
  },
  {
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "instance/i-0new"),
    context: (f) => ({ ...fromTemplate(f), "ec2:MetadataHttpTokens": "optional" }),
    expect: "ImplicitlyDenied",
    what: "RunInstances overriding IMDSv2 with IMDSv1",
  },
  {
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "volume/vol-0new"),
    context: (f) => ({ ...fromTemplate(f), "ec2:Encrypted": "false" }),
    expect: "ImplicitlyDenied",
    what: "RunInstances with an unencrypted volume",
  },
  {
    who: "launcher",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "instance/i-0new", f.otherRegion),
    context: fromTemplate,
    expect: "ImplicitlyDenied",
    what: "RunInstances in another region",
  },
  {
    who: "launcher",
    action: "iam:PassRole",
    resource: (f) => f.roles.instance,
    context: () => ({ "iam:PassedToService": "ec2.amazonaws.com" }),
    expect: "Allowed",
    what: "PassRole of the job's instance role to EC2",
  },
  {
    who: "launcher",
    action: "iam:PassRole",
    resource: (f) => `arn:aws:iam::${f.account}:role/Admin`,
    context: () => ({ "iam:PassedToService": "ec2.amazonaws.com" }),
    expect: "ImplicitlyDenied",
    what: "PassRole of any other role",
  },
  {
    who: "launcher",
    action: "iam:PassRole",
    resource: (f) => f.roles.launcher,
    context: () => ({ "iam:PassedToService": "ec2.amazonaws.com" }),
    expect: "ImplicitlyDenied",
    what: "PassRole of its own role",
  },
  {
    who: "launcher",
    action: "iam:PassRole",
    resource: (f) => f.roles.instance,
    context: () => ({ "iam:PassedToService": "lambda.amazonaws.com" }),
    expect: "ImplicitlyDenied",
    what: "PassRole of the instance role to another service",
  },
  {
    who: "launcher",
    action: "ec2:CreateTags",
    resource: (f) => ec2(f, "instance/i-0new"),
    context: () => ({ "ec2:CreateAction": "RunInstances" }),
    expect: "Allowed",
    what: "tags at launch",
  },
  {
    who: "launcher",
    action: "ec2:CreateTags",
    resource: (f) => ec2(f, "instance/i-0existing"),
    expect: "ImplicitlyDenied",
    what: "retagging an existing instance (e.g. moving its deadline)",
  },
  {
    who: "launcher",
    action: "ec2:CreateTags",
    resource: (f) => ec2(f, "instance/i-0new"),
    context: (f) => ({ ...runTags(f), "aws:TagKeys": LAUNCH_TIMES }),
    expect: "Allowed",
    what: "adding the launch times to its own job's instance after RunInstances",
  },
  {
    who: "launcher",
    action: "ec2:CreateTags",
    resource: (f) => ec2(f, "instance/i-0new"),
    context: (f) => ({
      ...runTags(f),
      "aws:TagKeys": [...LAUNCH_TIMES, "transient-jobs:deadline"],
    }),
    expect: "ImplicitlyDenied",
    what: "moving a deadline along with the launch times",
  },
  {
    who: "launcher",
    action: "ec2:CreateTags",
    resource: (f) => ec2(f, "instance/i-0new"),
    context: (f) => ({
      ...runTags(f, { "aws:ResourceTag/transient-jobs:environment": "staging" }),
      "aws:TagKeys": LAUNCH_TIMES,
    }),
    expect: "ImplicitlyDenied",
    what: "tagging another environment's instance",
  },
  {
    who: "launcher",
    action: "ec2:DescribeInstances",
    resource: () => "*",
    expect: "Allowed",
    what: "finding runs by tag",
  },
  {
    who: "launcher",
    action: "ec2:TerminateInstances",
    resource: (f) => ec2(f, "instance/i-0previous"),
    context: (f) => runTags(f),
    expect: "Allowed",
    what: "terminating its job's previous run (concurrencyPolicy replace)",
  },
  {
    who: "launcher",
    action: "ec2:TerminateInstances",
    resource: (f) => ec2(f, "instance/i-0foreign"),
    expect: "ImplicitlyDenied",
    what: "terminating an untagged instance",
  },
  {
    who: "launcher",
    action: "ec2:TerminateInstances",
    resource: (f) => ec2(f, "instance/i-0foreign"),
    context: (f) => runTags(f, { "aws:ResourceTag/transient-jobs:environment": "staging" }),
    expect: "ImplicitlyDenied",
    what: "terminating another environment's run",
  },
  {
    who: "launcher",
    action: "ec2:TerminateInstances",
    resource: (f) => ec2(f, "instance/i-0foreign"),
    context: (f) => runTags(f, { "aws:ResourceTag/transient-jobs:job": "not-a-job-here" }),
    expect: "ImplicitlyDenied",
    what: "terminating a run of a job it does not launch",
  },
  ...(["logs:CreateLogStream", "logs:PutLogEvents"] as const).map((action): Row => ({
    who: "launcher",
    action,
    resource: (f) => `${f.launcherLogGroupArn}:log-stream:2026/11/23/x`,
    expect: "Allowed",
    what: "its own log group",
  })),
  {
    who: "launcher",
    action: "logs:PutLogEvents",
    resource: (f) => `${f.logGroupArn}:log-stream:pi-20261123T0300Z`,
    expect: "ImplicitlyDenied",
    what: "a job's log group",
  },
  {
    who: "launcher",
    action: "s3:GetObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/x.json`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "reading results",
  },
  {
    who: "launcher",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/${f.job}-20261123T0300Z.json`,
    context: () => TLS,
    expect: "Allowed",
    what: "the record of a run it did not launch",
  },
  {
    who: "launcher",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/results/pi-20261123T0300Z/digits.txt`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "writing a job's results",
  },
  {
    who: "launcher",
    action: "s3:DeleteObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/${f.job}-20261123T0300Z.json`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "deleting a run record",
  },
  {
    who: "launcher",
    action: "sqs:SendMessage",
    resource: (f) => f.launcherFailureQueueArn,
    expect: "Allowed",
    what: "its on-failure destination (Lambda sends with the function's role)",
  },
  {
    who: "launcher",
    action: "sqs:SendMessage",
    resource: (f) => f.deadLetterQueueArn,
    expect: "ImplicitlyDenied",
    what: "a schedule's dead-letter queue",
  },
  {
    // Spot jobs only (both committed stacks have one): the spot price of a run's estimate.
    who: "launcher",
    action: "ec2:DescribeSpotPriceHistory",
    resource: () => "*",
    expect: "Allowed",
    what: "reading spot prices for a run's cost estimate",
  },
  {
    // Both committed stacks have spot jobs; a stack without any gets no such statement.
    who: "launcher",
    action: "iam:CreateServiceLinkedRole",
    resource: (f) =>
      `arn:aws:iam::${f.account}:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot`,
    context: () => ({ "iam:AWSServiceName": "spot.amazonaws.com" }),
    expect: "Allowed",
    what: "the Spot service-linked role, which EC2 creates on its behalf",
  },
  {
    who: "launcher",
    action: "iam:CreateServiceLinkedRole",
    resource: (f) =>
      `arn:aws:iam::${f.account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
    context: () => ({ "iam:AWSServiceName": "autoscaling.amazonaws.com" }),
    expect: "ImplicitlyDenied",
    what: "any other service-linked role",
  },
  {
    who: "launcher",
    action: "iam:CreateRole",
    resource: (f) => `arn:aws:iam::${f.account}:role/AWSServiceRoleForEC2Spot`,
    expect: "ImplicitlyDenied",
    what: "creating an ordinary role",
  },

  // A job instance: pull its image, write under its prefix and its log group.
  {
    who: "instance",
    action: "ecr:GetAuthorizationToken",
    resource: () => "*",
    expect: "Allowed",
    what: "logging in to ECR",
    when: (f) => f.repositoryArn !== undefined,
  },
  ...(
    ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"] as const
  ).map((action): Row => ({
    who: "instance",
    action,
    resource: (f) => f.repositoryArn!,
    expect: "Allowed",
    what: "pulling its one repository",
    when: (f) => f.repositoryArn !== undefined,
  })),
  {
    who: "instance",
    action: "ecr:BatchGetImage",
    resource: (f) => `arn:aws:ecr:${f.region}:${f.account}:repository/another-team`,
    expect: "ImplicitlyDenied",
    what: "pulling another repository",
  },
  {
    who: "instance",
    action: "ecr:PutImage",
    resource: (f) => f.repositoryArn!,
    expect: "ImplicitlyDenied",
    what: "pushing to its repository",
    when: (f) => f.repositoryArn !== undefined,
  },
  {
    who: "instance",
    action: "ecr:GetDownloadUrlForLayer",
    resource: (f) => `arn:aws:ecr:${f.region}:210987654321:repository/team/analysis-other`,
    expect: "ImplicitlyDenied",
    what: "pulling another account's other repository",
  },
  {
    // A public image: no login, no pull permission at all.
    who: "instance",
    action: "ecr:GetAuthorizationToken",
    resource: () => "*",
    expect: "ImplicitlyDenied",
    what: "logging in to ECR for a public image",
    when: (f) => f.repositoryArn === undefined,
  },
  // Secrets: exactly the job's own, decrypted only through their service, as themselves.
  ...(
    [
      ["ssm", "ssm:GetParameter"],
      ["secretsmanager", "secretsmanager:GetSecretValue"],
    ] as const
  ).flatMap(([kind, action]): Row[] => {
    const own = (f: Facts) =>
      f.secrets.find((s) => s.kind === kind)!.arn.replace("??????", "AbCdEf");
    const other = (f: Facts) =>
      f.otherSecrets.find((s) => s.kind === kind)!.arn.replace("??????", "AbCdEf");
    const hasOwn = (f: Facts) => f.secrets.some((s) => s.kind === kind);
    return [
      {
        who: "instance",
        action,
        resource: own,
        expect: "Allowed",
        what: `reading its own ${kind} secret`,
        when: hasOwn,
      },
      {
        who: "instance",
        action,
        resource: other,
        expect: "ImplicitlyDenied",
        what: `reading another job's ${kind} secret`,
        when: (f) => f.otherSecrets.some((s) => s.kind === kind),
      },
    ];
  }),
  // The job's own statements (examples/real-jobs.yaml: read a partner's bucket).
  ...(["s3:GetObject", "s3:ListBucket"] as const).map((action): Row => ({
    who: "instance",
    action,
    resource: () =>
      action === "s3:ListBucket"
        ? "arn:aws:s3:::partner-drop"
        : "arn:aws:s3:::partner-drop/in/x.csv",
    context: () => TLS,
    expect: "Allowed",
    what: "its own statement: reading the partner's bucket",
    when: (f) => f.ownPolicy !== undefined,
  })),
  {
    who: "instance",
    action: "s3:GetObject",
    resource: () => "arn:aws:s3:::partner-drop/in/x.csv",
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "another job's statement: the partner's bucket",
    when: (f) => f.ownPolicy === undefined && f.label === REAL_JOBS,
  },
  ...(["s3:PutObject", "s3:AbortMultipartUpload"] as const).map((action): Row => ({
    who: "instance",
    action,
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/results/pi-20261123T0300Z/digits.txt`,
    context: () => TLS,
    expect: "Allowed",
    what: "writing under its job's prefix",
  })),
  {
    who: "instance",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/pi-20261123T0300Z.json`,
    context: () => TLS,
    expect: "Allowed",
    what: "writing its run record",
  },
  {
    who: "instance",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}-other/results/x`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "writing under another job's prefix",
  },
  {
    who: "instance",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/index.html`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "writing outside jobs/",
  },
  {
    who: "instance",
    action: "s3:GetObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/pi-20261123T0200Z.json`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "reading back results",
  },
  {
    who: "instance",
    action: "s3:DeleteObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/results/x`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "deleting objects",
  },
  {
    who: "instance",
    action: "s3:GetObject",
    resource: () => "arn:aws:s3:::someone-elses-bucket/secrets.txt",
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "reading other buckets",
  },
  {
    who: "instance",
    action: "s3:ListBucket",
    resource: () => "arn:aws:s3:::someone-elses-bucket",
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "listing other buckets",
  },
  {
    who: "instance",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/results/x`,
    context: () => ({ "aws:SecureTransport": "false" }),
    expect: "ExplicitlyDenied",
    what: "writing over plain HTTP",
  },
  ...(["logs:CreateLogStream", "logs:PutLogEvents"] as const).map((action): Row => ({
    who: "instance",
    action,
    resource: (f) => `${f.logGroupArn}:log-stream:pi-20261123T0300Z`,
    expect: "Allowed",
    what: "its job's log group",
  })),
  {
    who: "instance",
    action: "logs:PutLogEvents",
    resource: (f) => `${f.launcherLogGroupArn}:log-stream:x`,
    expect: "ImplicitlyDenied",
    what: "the launcher's log group",
  },
  {
    who: "instance",
    action: "ec2:TerminateInstances",
    resource: (f) => ec2(f, "instance/i-0other"),
    context: (f) => runTags(f),
    expect: "ImplicitlyDenied",
    what: "terminating instances",
  },
  {
    who: "instance",
    action: "iam:PassRole",
    resource: (f) => f.roles.instance,
    context: () => ({ "iam:PassedToService": "ec2.amazonaws.com" }),
    expect: "ImplicitlyDenied",
    what: "passing its role on",
  },

  // Checkpoints: a job's instance reads back and lists only its own job's.
  {
    who: "instance",
    action: "s3:GetObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/checkpoints/pi-20261123T0300Z/state.json`,
    context: () => TLS,
    expect: "Allowed",
    what: "reading its run's checkpoint to resume",
  },
  {
    who: "instance",
    action: "s3:GetObject",
    resource: (f) => `${f.bucketArn}/jobs/another-job/checkpoints/x-20261123T0300Z/state.json`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "reading another job's checkpoints",
  },
  {
    who: "instance",
    action: "s3:ListBucket",
    resource: (f) => f.bucketArn,
    context: (f) => ({ ...TLS, "s3:prefix": `jobs/${f.job}/checkpoints/pi-20261123T0300Z/` }),
    expect: "Allowed",
    what: "listing its run's checkpoints",
  },
  {
    who: "instance",
    action: "s3:ListBucket",
    resource: (f) => f.bucketArn,
    context: (f) => ({ ...TLS, "s3:prefix": `jobs/${f.job}/runs/` }),
    expect: "ImplicitlyDenied",
    what: "listing run records",
  },

  // The run supervisor: it starts attempts only through the launcher (a one-time schedule in its
  // own group, with its own invoke role, which may invoke the launcher only); it reads and writes
  // records only, and cannot launch, tag or terminate anything itself.
  {
    who: "supervisor",
    action: "ec2:DescribeInstances",
    resource: () => "*",
    expect: "Allowed",
    what: "looking up the instance of an event (events carry no tags)",
  },
  ...(["ec2:RunInstances", "ec2:TerminateInstances", "ec2:CreateTags"] as const).map(
    (action): Row => ({
      who: "supervisor",
      action,
      resource: (f) => ec2(f, "instance/i-0new"),
      context: (f) => ({ ...runTags(f), ...fromTemplate(f) }),
      expect: "ImplicitlyDenied",
      what: "acting on instances itself, even this stack's",
    }),
  ),
  {
    who: "supervisor",
    action: "s3:GetObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/pi-20261123T0300Z/attempt-1.json`,
    context: () => TLS,
    expect: "Allowed",
    what: "reading an attempt record",
  },
  {
    who: "supervisor",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/pi-20261123T0300Z.json`,
    context: () => TLS,
    expect: "Allowed",
    what: "writing a run's final record",
  },
  {
    who: "supervisor",
    action: "s3:GetObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/results/pi-20261123T0300Z/pi.txt`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "reading a job's results",
  },
  {
    who: "supervisor",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/checkpoints/pi-20261123T0300Z/state`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "writing a job's checkpoints",
  },
  {
    who: "supervisor",
    action: "s3:ListBucket",
    resource: (f) => f.bucketArn,
    context: (f) => ({ ...TLS, "s3:prefix": `jobs/${f.job}/runs/pi-20261123T0300Z/` }),
    expect: "Allowed",
    what: "listing record prefixes (a missing record is then 404, not 403)",
  },
  {
    who: "supervisor",
    action: "s3:ListBucket",
    resource: (f) => f.bucketArn,
    context: (f) => ({ ...TLS, "s3:prefix": `jobs/${f.job}/results/` }),
    expect: "ImplicitlyDenied",
    what: "listing results",
  },
  {
    who: "supervisor",
    action: "scheduler:CreateSchedule",
    resource: (f) =>
      `arn:aws:scheduler:${f.region}:${f.account}:schedule/${f.retryScheduleGroup}/pi-20261123T0300Z-a2`,
    expect: "Allowed",
    what: "scheduling a run's next attempt in its own group",
  },
  {
    who: "supervisor",
    action: "scheduler:CreateSchedule",
    resource: (f) => `arn:aws:scheduler:${f.region}:${f.account}:schedule/default/anything`,
    expect: "ImplicitlyDenied",
    what: "creating a schedule in another group",
  },
  {
    who: "supervisor",
    action: "iam:PassRole",
    resource: (f) => f.roles["supervisor schedule"],
    context: () => ({ "iam:PassedToService": "scheduler.amazonaws.com" }),
    expect: "Allowed",
    what: "passing its invoke role to Scheduler",
  },
  {
    who: "supervisor",
    action: "iam:PassRole",
    resource: (f) => f.roles.launcher,
    context: () => ({ "iam:PassedToService": "scheduler.amazonaws.com" }),
    expect: "ImplicitlyDenied",
    what: "passing another role (the launcher's) to Scheduler",
  },
  {
    who: "supervisor",
    action: "cloudwatch:PutMetricData",
    resource: () => "*",
    context: () => ({ "cloudwatch:namespace": "TransientJobs" }),
    expect: "Allowed",
    what: "counting interrupted, lost and retried attempts and run outcomes",
  },
  {
    who: "supervisor",
    action: "logs:PutLogEvents",
    resource: (f) => `${f.supervisorLogGroupArn}:log-stream:2026/11/23/x`,
    expect: "Allowed",
    what: "writing its own logs",
  },
  {
    who: "supervisor",
    action: "logs:CreateLogStream",
    resource: (f) => `${f.supervisorLogGroupArn}:log-stream:2026/11/23/x`,
    expect: "Allowed",
    what: "creating its own log streams",
  },
  {
    who: "supervisor schedule",
    action: "lambda:InvokeFunction",
    resource: (f) => f.launcherFunctionArn,
    expect: "Allowed",
    what: "invoking the launcher for a next attempt",
  },
  {
    who: "supervisor schedule",
    action: "lambda:InvokeFunction",
    resource: (f) => f.reaperFunctionArn,
    expect: "ImplicitlyDenied",
    what: "invoking anything but the launcher",
  },
  {
    who: "eventbridge rules",
    service: "events.amazonaws.com",
    action: "sqs:SendMessage",
    resource: (f) => f.supervisorDeadLetterQueueArn,
    context: (f) => ({ "aws:SourceArn": f.supervisorRuleArns[1] }),
    expect: "Allowed",
    what: "the supervisor's rules dead-letter undeliverable events",
  },
  {
    who: "eventbridge rules",
    service: "events.amazonaws.com",
    action: "sqs:SendMessage",
    resource: (f) => f.supervisorDeadLetterQueueArn,
    context: (f) => ({ "aws:SourceArn": `arn:aws:events:${f.region}:${f.account}:rule/another` }),
    expect: "ImplicitlyDenied",
    what: "another rule cannot use the supervisor's dead-letter queue",
  },

  // The reaper: terminate this environment's tagged runs, write run records, count them.
  {
    who: "reaper",
    action: "ec2:DescribeInstances",
    resource: () => "*",
    expect: "Allowed",
    what: "finding runs by tag",
  },
  {
    who: "reaper",
    action: "ec2:TerminateInstances",
    resource: (f) => ec2(f, "instance/i-0expired"),
    context: (f) => runTags(f),
    expect: "Allowed",
    what: "terminating a run of this project and environment",
  },
  {
    who: "reaper",
    action: "ec2:TerminateInstances",
    resource: (f) => ec2(f, "instance/i-0foreign"),
    expect: "ImplicitlyDenied",
    what: "terminating an untagged instance",
  },
  {
    who: "reaper",
    action: "ec2:TerminateInstances",
    resource: (f) => ec2(f, "instance/i-0foreign"),
    context: (f) => runTags(f, { "aws:ResourceTag/transient-jobs:project": undefined }),
    expect: "ImplicitlyDenied",
    what: "terminating an instance without the project tag",
  },
  {
    who: "reaper",
    action: "ec2:TerminateInstances",
    resource: (f) => ec2(f, "instance/i-0foreign"),
    context: (f) => runTags(f, { "aws:ResourceTag/transient-jobs:environment": "staging" }),
    expect: "ImplicitlyDenied",
    what: "terminating another environment's run",
  },
  {
    who: "reaper",
    action: "ec2:TerminateInstances",
    resource: (f) => ec2(f, "instance/i-0expired", f.otherRegion),
    context: (f) => runTags(f),
    expect: "ImplicitlyDenied",
    what: "terminating in another region",
  },
  {
    who: "reaper",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "instance/i-0new"),
    context: fromTemplate,
    expect: "ImplicitlyDenied",
    what: "launching instances",
  },
  {
    who: "reaper",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/pi-20261123T0300Z.json`,
    context: () => TLS,
    expect: "Allowed",
    what: "writing a run record",
  },
  {
    who: "reaper",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/results/x`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "writing results",
  },
  {
    who: "reaper",
    action: "s3:GetObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/pi-20261123T0300Z.json`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "reading run records",
  },
  {
    who: "reaper",
    action: "s3:DeleteObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/pi-20261123T0300Z.json`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "deleting run records",
  },
  {
    who: "reaper",
    action: "s3:PutObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/pi-20261123T0300Z.json`,
    context: () => ({ "aws:SecureTransport": "false" }),
    expect: "ExplicitlyDenied",
    what: "writing over plain HTTP",
  },
  {
    who: "reaper",
    action: "cloudwatch:PutMetricData",
    resource: () => "*",
    context: () => ({ "cloudwatch:namespace": "TransientJobs" }),
    expect: "Allowed",
    what: "publishing to TransientJobs",
  },
  {
    who: "reaper",
    action: "cloudwatch:PutMetricData",
    resource: () => "*",
    context: () => ({ "cloudwatch:namespace": "AWS/EC2" }),
    expect: "ImplicitlyDenied",
    what: "publishing to another namespace",
  },
  ...(["logs:CreateLogStream", "logs:PutLogEvents"] as const).map((action): Row => ({
    who: "reaper",
    action,
    resource: (f) => `${f.reaperLogGroupArn}:log-stream:2026/11/23/x`,
    expect: "Allowed",
    what: "its own log group",
  })),
  {
    who: "reaper",
    action: "logs:PutLogEvents",
    resource: (f) => `${f.launcherLogGroupArn}:log-stream:x`,
    expect: "ImplicitlyDenied",
    what: "the launcher's log group",
  },

  // The schedules: invoke their one function.
  {
    who: "job schedule",
    action: "lambda:InvokeFunction",
    resource: (f) => f.launcherFunctionArn,
    expect: "Allowed",
    what: "invoking the launcher",
  },
  {
    who: "job schedule",
    action: "lambda:InvokeFunction",
    resource: (f) => f.reaperFunctionArn,
    expect: "ImplicitlyDenied",
    what: "invoking another function",
  },
  {
    who: "job schedule",
    action: "sqs:SendMessage",
    resource: (f) => f.deadLetterQueueArn,
    expect: "Allowed",
    what: "dead-lettering to its queue",
  },
  {
    who: "job schedule",
    action: "sqs:SendMessage",
    resource: (f) => `arn:aws:sqs:${f.region}:${f.account}:another-queue`,
    expect: "ImplicitlyDenied",
    what: "sending to another queue",
  },
  {
    who: "reaper schedule",
    action: "lambda:InvokeFunction",
    resource: (f) => f.reaperFunctionArn,
    expect: "Allowed",
    what: "invoking the reaper",
  },
  {
    who: "reaper schedule",
    action: "lambda:InvokeFunction",
    resource: (f) => f.launcherFunctionArn,
    expect: "ImplicitlyDenied",
    what: "invoking the launcher",
  },

  // The instance notifies nobody: the run supervisor does, once per run.
  {
    who: "instance",
    action: "sns:Publish",
    resource: (f) => f.topicArn,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "notifying the region's topic",
  },
  // Run outcomes: the stack's roles publish to its topic and metrics to its namespace.
  ...(["launcher", "reaper", "supervisor"] as const).flatMap((who): Row[] => [
    {
      who,
      action: "sns:Publish",
      resource: (f) => f.topicArn,
      context: () => TLS,
      expect: "Allowed",
      what: "notifying the region's topic",
    },
    {
      who,
      action: "sns:Publish",
      resource: (f) => `arn:aws:sns:${f.region}:${f.account}:another-topic`,
      context: () => TLS,
      expect: "ImplicitlyDenied",
      what: "publishing to another topic",
    },
    {
      who,
      action: "sns:Publish",
      resource: (f) => f.topicArn,
      context: () => ({ "aws:SecureTransport": "false" }),
      expect: "ExplicitlyDenied",
      what: "publishing over plain HTTP",
    },
    {
      who,
      action: "kms:GenerateDataKey",
      resource: (f) => f.keyArn,
      context: (f) => viaSns(f, f.roles[who]),
      expect: "Allowed",
      what: "using the topic's key through SNS",
    },
    {
      who,
      action: "kms:Decrypt",
      resource: (f) => f.keyArn,
      context: (f) => ({ "kms:CallerAccount": f.account, "aws:PrincipalArn": f.roles[who] }),
      expect: "ImplicitlyDenied",
      what: "using the topic's key directly",
    },
  ]),
  ...(["launcher", "instance"] as const).flatMap((who): Row[] => [
    {
      who,
      action: "cloudwatch:PutMetricData",
      resource: () => "*",
      context: () => ({ "cloudwatch:namespace": "TransientJobs" }),
      expect: "Allowed",
      what: "putting run metrics in TransientJobs",
    },
    {
      who,
      action: "cloudwatch:PutMetricData",
      resource: () => "*",
      context: () => ({ "cloudwatch:namespace": "AWS/Lambda" }),
      expect: "ImplicitlyDenied",
      what: "putting metrics in another namespace",
    },
  ]),
  {
    who: "cloudwatch alarms",
    service: "cloudwatch.amazonaws.com",
    action: "sns:Publish",
    resource: (f) => f.topicArn,
    context: (f) => ({ ...fromAlarms(f), ...TLS }),
    expect: "Allowed",
    what: "this account's alarms notifying the topic",
  },
  {
    who: "cloudwatch alarms",
    service: "cloudwatch.amazonaws.com",
    action: "sns:Publish",
    resource: (f) => f.topicArn,
    context: (f) => ({ ...fromAlarms(f, OTHER_ACCOUNT), ...TLS }),
    expect: "ImplicitlyDenied",
    what: "another account's alarms (confused deputy)",
  },
  {
    who: "cloudwatch alarms",
    service: "cloudwatch.amazonaws.com",
    action: "kms:GenerateDataKey",
    resource: (f) => f.keyArn,
    context: (f) => fromAlarms(f),
    expect: "Allowed",
    what: "this account's alarms using the topic's key",
  },
  {
    who: "another role",
    action: "kms:GenerateDataKey",
    resource: (f) => f.keyArn,
    context: (f) => viaSns(f, `arn:aws:iam::${f.account}:role/${ANOTHER_ROLE}`),
    expect: "ImplicitlyDenied",
    what: "a role outside the stack's name prefix using the key",
  },

  // The deploy role: manages this stack's resources, escalates nothing, runs nothing.
  {
    who: "deploy",
    action: "iam:PutRolePolicy",
    resource: (f) => f.roles.reaper,
    expect: "Allowed",
    what: "writing the policy of a role of its stack",
  },
  {
    who: "deploy",
    action: "iam:PassRole",
    resource: (f) => f.roles.reaper,
    context: () => ({ "iam:PassedToService": "lambda.amazonaws.com" }),
    expect: "Allowed",
    what: "passing its stack's reaper role to Lambda",
  },
  {
    who: "deploy",
    action: "lambda:UpdateFunctionCode",
    resource: (f) => f.reaperFunctionArn,
    expect: "Allowed",
    what: "updating its stack's functions",
  },
  {
    who: "deploy",
    action: "iam:PutRolePolicy",
    resource: (f) => f.roles.deploy,
    expect: "ImplicitlyDenied",
    what: "writing its own policy (escalation)",
  },
  {
    who: "deploy",
    action: "iam:PutRolePolicy",
    resource: (f) => f.roles.reaper.replace(`/tj-${f.stack}-`, `/tj-${f.otherStack}-`),
    expect: "ImplicitlyDenied",
    what: "writing the policy of another stack's role",
  },
  {
    who: "deploy",
    action: "iam:AttachRolePolicy",
    resource: (f) => f.roles.reaper,
    context: () => ({ "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess" }),
    expect: "ImplicitlyDenied",
    what: "attaching AdministratorAccess to a role of its stack",
  },
  {
    who: "deploy",
    action: "iam:CreateUser",
    resource: (f) => `arn:aws:iam::${f.account}:user/tj-${f.stack}-backdoor`,
    expect: "ImplicitlyDenied",
    what: "creating users",
  },
  {
    who: "deploy",
    action: "iam:PassRole",
    resource: (f) => `arn:aws:iam::${f.account}:role/Admin`,
    context: () => ({ "iam:PassedToService": "lambda.amazonaws.com" }),
    expect: "ImplicitlyDenied",
    what: "passing any other role",
  },
  {
    who: "deploy",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "instance/i-0new"),
    context: fromTemplate,
    expect: "ImplicitlyDenied",
    what: "launching instances",
  },
  {
    who: "deploy",
    action: "lambda:InvokeFunction",
    resource: (f) => f.launcherFunctionArn,
    expect: "ImplicitlyDenied",
    what: "invoking the launcher",
  },
  {
    who: "deploy",
    action: "s3:GetObject",
    resource: () => "arn:aws:s3:::someone-elses-bucket/secrets.txt",
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "reading other buckets",
  },

  // The image build (CodeBuild): read its contexts, push to its repository, write its logs.
  ...(["s3:GetObject", "s3:GetObjectVersion"] as const).map((action): Row => ({
    who: "image build",
    action,
    resource: (f) => `${f.sourceBucketArn}/sources/${f.imageKey}/${"a".repeat(64)}.zip`,
    context: () => TLS,
    expect: "Allowed",
    what: "reading its own build contexts",
  })),
  ...(["s3:GetBucketAcl", "s3:GetBucketLocation"] as const).map((action): Row => ({
    who: "image build",
    action,
    resource: (f) => f.sourceBucketArn,
    context: () => TLS,
    expect: "Allowed",
    what: "identifying its source bucket (CodeBuild checks owner and region)",
  })),
  {
    who: "image build",
    action: "s3:GetBucketAcl",
    resource: (f) => f.bucketArn,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "reading the results bucket's ACL",
  },
  {
    who: "image build",
    action: "s3:GetObject",
    resource: (f) => `${f.sourceBucketArn}/sources/${f.imageKey}/${"a".repeat(64)}.zip`,
    context: () => ({ "aws:SecureTransport": "false" }),
    expect: "ExplicitlyDenied",
    what: "reading its contexts without TLS (the bucket policy)",
  },
  {
    who: "image build",
    action: "s3:GetObject",
    resource: (f) => `${f.sourceBucketArn}/sources/another-image-arm64/${"a".repeat(64)}.zip`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "reading another image's contexts",
  },
  {
    who: "image build",
    action: "s3:GetObject",
    resource: (f) => `${f.bucketArn}/jobs/${f.job}/runs/x/result.json`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "reading the region's results",
  },
  {
    who: "image build",
    action: "s3:PutObject",
    resource: (f) => `${f.sourceBucketArn}/sources/${f.imageKey}/${"b".repeat(64)}.zip`,
    context: () => TLS,
    expect: "ImplicitlyDenied",
    what: "writing a build context",
  },
  {
    who: "image build",
    action: "ecr:GetAuthorizationToken",
    resource: () => "*",
    expect: "Allowed",
    what: "logging in to ECR",
  },
  ...(
    [
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
    ] as const
  ).map((action): Row => ({
    who: "image build",
    action,
    // Only jobs with a build have a build role, and those have their own repository.
    resource: (f) => f.repositoryArn!,
    expect: "Allowed",
    what: "pushing to its one repository",
  })),
  {
    who: "image build",
    action: "ecr:PutImage",
    resource: (f) => `arn:aws:ecr:${f.region}:${f.account}:repository/another-team`,
    expect: "ImplicitlyDenied",
    what: "pushing to another repository",
  },
  {
    who: "image build",
    action: "ecr:BatchDeleteImage",
    resource: (f) => f.repositoryArn!,
    expect: "ImplicitlyDenied",
    what: "deleting images",
  },
  ...(["logs:CreateLogStream", "logs:PutLogEvents"] as const).map((action): Row => ({
    who: "image build",
    action,
    resource: (f) => `${f.buildLogGroupArn}:log-stream:0f0e0d0c`,
    expect: "Allowed",
    what: "writing its own log group",
  })),
  {
    who: "image build",
    action: "logs:PutLogEvents",
    resource: (f) => `${f.launcherLogGroupArn}:log-stream:x`,
    expect: "ImplicitlyDenied",
    what: "writing another log group",
  },
  {
    who: "image build",
    action: "iam:PassRole",
    resource: (f) => f.roles.launcher,
    expect: "ImplicitlyDenied",
    what: "passing any role",
  },
  {
    who: "image build",
    action: "ec2:RunInstances",
    resource: (f) => ec2(f, "instance/i-0new"),
    expect: "ImplicitlyDenied",
    what: "starting instances",
  },
  {
    who: "trust: image build",
    service: "codebuild.amazonaws.com",
    action: "sts:AssumeRole",
    resource: (f) => f.roles["image build"],
    context: (f) => ({ "aws:SourceAccount": f.account }),
    expect: "Allowed",
    what: "assumed by CodeBuild for this account",
  },
  {
    who: "trust: image build",
    service: "codebuild.amazonaws.com",
    action: "sts:AssumeRole",
    resource: (f) => f.roles["image build"],
    context: () => ({ "aws:SourceAccount": OTHER_ACCOUNT }),
    expect: "ImplicitlyDenied",
    what: "not assumed by CodeBuild for another account (confused deputy)",
  },
  {
    who: "trust: image build",
    service: "ec2.amazonaws.com",
    action: "sts:AssumeRole",
    resource: (f) => f.roles["image build"],
    context: (f) => ({ "aws:SourceAccount": f.account }),
    expect: "ImplicitlyDenied",
    what: "not assumed by EC2",
  },

  // Trust: who may assume each role.
  ...(
    [
      ["instance", "ec2.amazonaws.com", "lambda.amazonaws.com"],
      ["launcher", "lambda.amazonaws.com", "ec2.amazonaws.com"],
      ["reaper", "lambda.amazonaws.com", "ec2.amazonaws.com"],
      ["supervisor", "lambda.amazonaws.com", "ec2.amazonaws.com"],
    ] as const
  ).flatMap(([role, service, other]): Row[] => [
    {
      who: `trust: ${role}`,
      service,
      action: "sts:AssumeRole",
      resource: (f) => f.roles[role],
      expect: "Allowed",
      what: `assumed by ${service}`,
    },
    {
      who: `trust: ${role}`,
      service: other,
      action: "sts:AssumeRole",
      resource: (f) => f.roles[role],
      expect: "ImplicitlyDenied",
      what: `not assumed by ${other}`,
    },
  ]),
  ...(["job schedule", "reaper schedule", "supervisor schedule"] as const).flatMap(
    (role): Row[] => [
      {
        who: `trust: ${role}`,
        service: "scheduler.amazonaws.com",
        action: "sts:AssumeRole",
        resource: (f) => f.roles[role],
        context: (f) => ({ "aws:SourceAccount": f.account }),
        expect: "Allowed",
        what: "assumed by Scheduler for this account",
      },
      {
        who: `trust: ${role}`,
        service: "scheduler.amazonaws.com",
        action: "sts:AssumeRole",
        resource: (f) => f.roles[role],
        context: () => ({ "aws:SourceAccount": OTHER_ACCOUNT }),
        expect: "ImplicitlyDenied",
        what: "not assumed by Scheduler for another account (confused deputy)",
      },
    ],
  ),
];

function find(resources: RecordedResource[], type: string, name: string): RecordedResource {
  const found = resources.filter((r) => r.type === type && r.name === name);
  assert.equal(found.length, 1, `expected one ${type} ${name}, found ${found.length}`);
  return found[0];
}

const json = (r: RecordedResource, key: string) =>
  JSON.parse(String(r.inputs[key])) as PolicyDocument;

/** The facts of every (region, job) of a stack, read from its evaluation by resource name. */
async function stackFacts(label: string): Promise<{
  facts: Facts[];
  evaluation: Awaited<ReturnType<typeof evaluatedStack>>["evaluation"];
}> {
  const stack = label === REAL_JOBS ? "dev" : label;
  const { config, evaluation } =
    label === REAL_JOBS
      ? await evaluatedWith(
          stack,
          loadConfigFile(path.join(PROJECT_ROOT, "examples", "real-jobs.yaml")),
        )
      : await evaluatedStack(stack);
  const { resources } = evaluation;
  const deploy = (await evaluatedDeployStack(stack)).resources;
  const deployRole = find(deploy, "aws:iam/role:Role", `transient-jobs-deploy-${stack}`);
  const deployPolicy = find(
    deploy,
    "aws:iam/rolePolicy:RolePolicy",
    `transient-jobs-deploy-${stack}`,
  );
  const arn = (type: string, name: string) => String(find(resources, type, name).state.arn);
  const T = {
    role: "aws:iam/role:Role",
    policy: "aws:iam/rolePolicy:RolePolicy",
    logs: "aws:cloudwatch/logGroup:LogGroup",
    fn: "aws:lambda/function:Function",
  };
  const facts = config.regions.flatMap((region) => {
    const r = `tj-${stack}-${region.name}`;
    const bucket = find(resources, "aws:s3/bucket:Bucket", `${r}-results`);
    return jobsForRegion(config, region).map((job): Facts => {
      const j = `${r}-${job.name}`;
      const scope = { partition: "aws", region: region.name, accountId: "123456789012" };
      const template = find(resources, "aws:ec2/launchTemplate:LaunchTemplate", `${j}-template`);
      // The committed stacks build in CodeBuild: each job's image has its build role. A job with
      // an image built elsewhere has none.
      const builds = job.imageUri === undefined && config.imageBuilder === "codebuild";
      const image = `${r}-${imageKey(job.image, job.architecture)}`;
      const roleNames: Record<Role, string> = {
        launcher: `${r}-launcher-role`,
        instance: `${j}-instance-role`,
        reaper: `${r}-reaper-role`,
        supervisor: `${r}-supervisor-role`,
        "job schedule": `${j}-invoke`,
        "reaper schedule": `${r}-reaper-invoke`,
        "supervisor schedule": `${r}-supervisor-invoke`,
        "image build": `${image}-build`,
      };
      const policyNames: Record<Role, string> = {
        launcher: `${r}-launcher-policy`,
        instance: `${j}-instance-policy`,
        reaper: `${r}-reaper-policy`,
        supervisor: `${r}-supervisor-policy`,
        "job schedule": `${j}-invoke`,
        "reaper schedule": `${r}-reaper-invoke`,
        "supervisor schedule": `${r}-supervisor-invoke`,
        "image build": `${image}-build`,
      };
      const map = <T>(f: (key: Role) => T) =>
        Object.fromEntries(
          (Object.keys(roleNames) as Role[])
            .filter((key) => builds || key !== "image build")
            .map((key) => [key, f(key)]),
        ) as Record<Role, T>;
      return {
        stack,
        label,
        region: region.name,
        otherRegion: region.name === "us-west-2" ? "us-east-2" : "us-west-2",
        account: String(template.state.arn).split(":")[4],
        job: job.name,
        launchTemplateArn: String(template.state.arn),
        imageId: String(template.inputs.imageId),
        securityGroupId: find(resources, "aws:ec2/securityGroup:SecurityGroup", `${r}-sg`).id,
        repositoryArn:
          job.imageUri === undefined
            ? arn(
                "aws:ecr/repository:Repository",
                `${r}-${imageKey(job.image, job.architecture)}-repo`,
              )
            : ecrRepositoryArn(parseImageReference(job.imageUri)!, "aws"),
        secrets: secretGrants(job.secrets, scope),
        otherSecrets: jobsForRegion(config, region)
          .filter((other) => other.name !== job.name)
          .flatMap((other) => secretGrants(other.secrets, scope)),
        ...(resources.some((x) => x.name === `${j}-instance-own-policy`)
          ? { ownPolicy: json(find(resources, T.policy, `${j}-instance-own-policy`), "policy") }
          : {}),
        bucketArn: String(bucket.state.arn),
        logGroupArn: arn(T.logs, `${j}-logs`),
        launcherLogGroupArn: arn(T.logs, `${r}-launcher-logs`),
        reaperLogGroupArn: arn(T.logs, `${r}-reaper-logs`),
        launcherFunctionArn: arn(T.fn, `${r}-launcher-fn`),
        topicArn: arn("aws:sns/topic:Topic", `${r}-notifications-topic`),
        // The mocks give keys no ARN; the key policy's statements are on "*".
        keyArn: `arn:aws:kms:${region.name}:${String(template.state.arn).split(":")[4]}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
        topicPolicy: json(
          find(resources, "aws:sns/topicPolicy:TopicPolicy", `${r}-notifications-topic`),
          "policy",
        ),
        keyPolicy: json(find(resources, "aws:kms/key:Key", `${r}-notifications-key`), "policy"),
        reaperFunctionArn: arn(T.fn, `${r}-reaper-fn`),
        supervisorLogGroupArn: arn(T.logs, `${r}-supervisor-logs`),
        retryScheduleGroup: String(
          find(resources, "aws:scheduler/scheduleGroup:ScheduleGroup", `${r}-supervisor-retries`)
            .state.name,
        ),
        supervisorDeadLetterQueueArn: arn("aws:sqs/queue:Queue", `${r}-supervisor-dlq`),
        supervisorDeadLetterPolicy: json(
          find(resources, "aws:sqs/queuePolicy:QueuePolicy", `${r}-supervisor-dlq`),
          "policy",
        ),
        supervisorRuleArns: ["interruption", "terminated"].map((e) =>
          arn("aws:cloudwatch/eventRule:EventRule", `${r}-supervisor-${e}`),
        ),
        deadLetterQueueArn: arn("aws:sqs/queue:Queue", `${j}-dlq`),
        launcherFailureQueueArn: arn("aws:sqs/queue:Queue", `${r}-launcher-failed`),
        otherStack: stack === "prod" ? "dev" : "prod",
        roles: {
          ...map((key) => arn(T.role, roleNames[key])),
          deploy: String(deployRole.state.arn),
        },
        policies: {
          ...map((key) => json(find(resources, T.policy, policyNames[key]), "policy")),
          deploy: json(deployPolicy, "policy"),
        },
        trust: map((key) => json(find(resources, T.role, roleNames[key]), "assumeRolePolicy")),
        bucketPolicy: json(
          find(resources, "aws:s3/bucketPolicy:BucketPolicy", `${r}-results-policy`),
          "policy",
        ),
        builds,
        imageKey: imageKey(job.image, job.architecture),
        // Without a build, nothing to look up: the build role's rows do not apply.
        sourceBucketArn: builds ? arn("aws:s3/bucket:Bucket", `${image}-src`) : "",
        sourceBucketPolicy: builds
          ? json(
              find(resources, "aws:s3/bucketPolicy:BucketPolicy", `${image}-src-policy`),
              "policy",
            )
          : { Version: "2012-10-17", Statement: [] },
        buildLogGroupArn: builds ? arn(T.logs, `${image}-build-logs`) : "",
      };
    });
  });
  return { facts, evaluation };
}

/** Simulates one row for one (region, job); returns the decision and any validation problem. */
async function simulate(row: Row, f: Facts): Promise<{ result: string; problem?: string }> {
  const resource = row.resource(f);
  const trust = row.who.startsWith("trust: ");
  const who = row.who.replace(/^trust: /, "") as Principal;
  const outsider = row.service !== undefined || row.who === "another role";
  const resourcePolicy = trust
    ? f.trust[who as Role]
    : resource.startsWith(`${f.bucketArn}/`) || resource === f.bucketArn
      ? f.bucketPolicy
      : resource.startsWith(`${f.sourceBucketArn}/`) || resource === f.sourceBucketArn
        ? f.sourceBucketPolicy
        : resource === f.topicArn
          ? f.topicPolicy
          : resource === f.keyArn
            ? f.keyPolicy
            : resource === f.supervisorDeadLetterQueueArn
              ? f.supervisorDeadLetterPolicy
              : undefined;
  const simulation: Simulation = {
    request: {
      principal:
        row.service ??
        (row.who === "another role"
          ? `arn:aws:iam::${f.account}:role/${ANOTHER_ROLE}`
          : f.roles[who]),
      action: row.action,
      resource: { resource, accountId: f.account },
      contextVariables: row.context?.(f) ?? {},
    },
    identityPolicies: outsider
      ? []
      : [
          { name: `${who} policy`, policy: f.policies[who] },
          ...(who === "instance" && f.ownPolicy
            ? [{ name: "job's own policy", policy: f.ownPolicy }]
            : []),
        ],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy } : {}),
  };
  const response = await runSimulation(simulation, { simulationMode: "Strict" });
  if (response.resultType === "error") {
    return { result: "error", problem: JSON.stringify(response.errors) };
  }
  const results = response.resultType === "single" ? [response.result] : response.results;
  const ignored = results.flatMap((r) => r.ignoredContextKeys ?? []);
  return {
    result: response.overallResult,
    // A context key the simulator drops would make the row test nothing: fail loudly instead.
    problem: ignored.length > 0 ? `context keys ignored: ${ignored.join(", ")}` : undefined,
  };
}

/** Actions each job program principal's policy allows, as `principal action` strings. */
function grantedActions(f: Facts): string[] {
  const documents = (who: Role) =>
    who === "instance" && f.ownPolicy ? [f.policies[who], f.ownPolicy] : [f.policies[who]];
  return (Object.keys(f.trust) as Role[]).flatMap((who) =>
    documents(who)
      .flatMap((d) => d.Statement)
      .filter((s) => s.Effect === "Allow")
      .flatMap((s) =>
        (Array.isArray(s.Action) ? s.Action : [s.Action]).map((action) => `${who} ${action}`),
      ),
  );
}

for (const stack of ["dev", "prod", REAL_JOBS]) {
  describe(`IAM simulation: stack ${stack}`, function () {
    this.timeout(120000);
    let facts: Facts[];
    let evaluation: Awaited<ReturnType<typeof evaluatedStack>>["evaluation"];

    before(async () => {
      ({ facts, evaluation } = await stackFacts(stack));
      assert.ok(facts.length > 0);
    });

    for (const row of MATRIX) {
      const verb = row.expect === "Allowed" ? "allows" : "denies";
      it(`${row.who}: ${verb} ${row.action} — ${row.what}`, async function () {
        const applies = facts.filter(
          (f) => (row.when?.(f) ?? true) && (f.builds || !row.who.endsWith("image build")),
        );
        // A row written for the real jobs' keys need not apply to the committed stacks.
        if (applies.length === 0 && stack !== REAL_JOBS) this.skip();
        assert.ok(applies.length > 0, "the row applies to no job of this stack");
        const wrong: string[] = [];
        for (const f of applies) {
          const { result, problem } = await simulate(row, f);
          if (result !== row.expect || problem) {
            wrong.push(
              `${f.region}/${f.job}: ${result}${problem ? ` (${problem})` : ""} for ${row.resource(f)}`,
            );
          }
        }
        assert.deepEqual(wrong, [], `expected ${row.expect}`);
      });
    }

    it("has an allowed row for every permission the program grants", () => {
      const rows = new Set(
        MATRIX.filter((r) => r.expect === "Allowed").map((r) => `${r.who} ${r.action}`),
      );
      const missing = [...new Set(facts.flatMap(grantedActions))].filter(
        (g) => !rows.has(g) && !UNSIMULATED.includes(g),
      );
      assert.deepEqual(missing, [], "granted without a row in the matrix: add one");
    });

    it("declares no IAM policy the matrix does not cover", () => {
      const covered = new Set(
        facts
          .flatMap((f) => [
            ...(Object.keys(f.trust) as Role[]).map((role) => f.policies[role]),
            ...Object.values(f.trust),
            f.bucketPolicy,
            f.sourceBucketPolicy,
            f.topicPolicy,
            f.keyPolicy,
            f.supervisorDeadLetterPolicy,
            ...(f.ownPolicy ? [f.ownPolicy] : []),
          ])
          .map((d) => JSON.stringify(d)),
      );
      const uncovered = evaluation.resources
        .flatMap((r) =>
          ["policy", "assumeRolePolicy"]
            .filter(
              (key) =>
                typeof r.inputs[key] === "string" && String(r.inputs[key]).includes("Statement"),
            )
            .map((key) => ({ source: `${r.type} ${r.name}.${key}`, text: String(r.inputs[key]) })),
        )
        .filter(({ text }) => !covered.has(JSON.stringify(JSON.parse(text))))
        .map(({ source }) => source);
      assert.deepEqual(uncovered, []);
    });
  });
}
