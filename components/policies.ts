/**
 * IAM policy documents as pure functions of plain ARNs. Every permission the program grants is
 * written here, so the whole set can be read in one place, simulated in tests, and kept to the
 * narrowest that works. No statement grants a `*` action.
 */
import { TAGS } from "../launcher/types";

/** An IAM policy statement (the subset of the grammar we use). */
export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: Record<string, string | string[]> | "*";
  Action: string | string[];
  /** Absent only in trust policies. */
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[] | boolean>>;
}

/** An IAM policy document. */
export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

/** Account-level facts every regional ARN needs. */
export interface AccountScope {
  partition: string;
  accountId: string;
  region: string;
}

/** One job as the launcher's policy sees it. */
export interface LaunchableJob {
  job: string;
  launchTemplateArn: string;
  instanceRoleArn: string;
  /** The AMI the launch template resolves to; RunInstances with any other image is denied. */
  imageId: string;
}

/** Inputs of the launcher role's policy. */
export interface LauncherPolicyInputs extends AccountScope {
  environment: string;
  jobs: LaunchableJob[];
  logGroupArn: string;
  topicArn?: string;
}

const document = (statements: PolicyStatement[]): PolicyDocument => ({
  Version: "2012-10-17",
  Statement: statements,
});

/**
 * Trust policy letting an AWS service assume a role. Pass `sourceAccount` for services that send
 * `aws:SourceAccount` (Scheduler does; EC2 and Lambda do not), against the confused-deputy problem.
 */
export function serviceTrustPolicy(service: string, sourceAccount?: string): PolicyDocument {
  return document([
    {
      Effect: "Allow",
      Principal: { Service: service },
      Action: "sts:AssumeRole",
      ...(sourceAccount
        ? { Condition: { StringEquals: { "aws:SourceAccount": sourceAccount } } }
        : {}),
    },
  ]);
}

/**
 * The launcher may run instances only from its region's job launch templates, with their AMIs,
 * pass only the job roles, tag only at launch, and terminate only this environment's job instances.
 */
export function launcherPolicy(inputs: LauncherPolicyInputs): PolicyDocument {
  const { partition, accountId, region } = inputs;
  const ec2 = (resource: string) => `arn:${partition}:ec2:${region}:${accountId}:${resource}`;
  const templateArns = inputs.jobs.map((j) => j.launchTemplateArn);
  const imageArns = [...new Set(inputs.jobs.map((j) => j.imageId))].map(
    (id) => `arn:${partition}:ec2:${region}::image/${id}`,
  );
  const fromOurTemplates = { ArnEquals: { "ec2:LaunchTemplate": templateArns } };
  const statements: PolicyStatement[] = [
    {
      Sid: "RunFromJobLaunchTemplates",
      Effect: "Allow",
      Action: "ec2:RunInstances",
      Resource: [
        ...templateArns,
        ec2("instance/*"),
        ec2("volume/*"),
        ec2("network-interface/*"),
        ec2("subnet/*"),
        ec2("security-group/*"),
        ec2("spot-instances-request/*"),
        ...imageArns,
      ],
      Condition: fromOurTemplates,
    },
    {
      Sid: "TagOnlyAtLaunch",
      Effect: "Allow",
      Action: "ec2:CreateTags",
      Resource: [
        ec2("instance/*"),
        ec2("volume/*"),
        ec2("network-interface/*"),
        ec2("spot-instances-request/*"),
      ],
      Condition: { StringEquals: { "ec2:CreateAction": "RunInstances" } },
    },
    {
      Sid: "PassOnlyJobRoles",
      Effect: "Allow",
      Action: "iam:PassRole",
      Resource: [...new Set(inputs.jobs.map((j) => j.instanceRoleArn))],
      Condition: { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } },
    },
    {
      // DescribeInstances supports no resource-level permissions.
      Sid: "FindRunsByTag",
      Effect: "Allow",
      Action: "ec2:DescribeInstances",
      Resource: "*",
    },
    {
      Sid: "ReplaceOnlyOwnRuns",
      Effect: "Allow",
      Action: "ec2:TerminateInstances",
      Resource: ec2("instance/*"),
      Condition: {
        StringEquals: {
          [`aws:ResourceTag/${TAGS.environment}`]: inputs.environment,
          [`aws:ResourceTag/${TAGS.job}`]: inputs.jobs.map((j) => j.job),
        },
      },
    },
    {
      Sid: "WriteOwnLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: `${inputs.logGroupArn}:*`,
    },
  ];
  if (inputs.topicArn) {
    statements.push({
      Sid: "NotifyRunOutcomes",
      Effect: "Allow",
      Action: "sns:Publish",
      Resource: inputs.topicArn,
    });
  }
  return document(statements);
}

/** Inputs of a job instance role's policy. */
export interface InstancePolicyInputs {
  repositoryArn: string;
  bucketArn: string;
  /** The job's key prefix, without trailing slash (e.g. `jobs/pi`). */
  resultsPrefix: string;
  logGroupArn: string;
  topicArn?: string;
}

/**
 * A job instance may pull its one repository, write (never read back or delete) under its job's
 * prefix, write its own log group, and publish its outcome.
 */
export function instancePolicy(inputs: InstancePolicyInputs): PolicyDocument {
  const statements: PolicyStatement[] = [
    {
      // GetAuthorizationToken supports no resource-level permissions.
      Sid: "EcrLogin",
      Effect: "Allow",
      Action: "ecr:GetAuthorizationToken",
      Resource: "*",
    },
    {
      Sid: "PullJobImage",
      Effect: "Allow",
      Action: [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
      ],
      Resource: inputs.repositoryArn,
    },
    {
      Sid: "WriteJobResults",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
      Resource: `${inputs.bucketArn}/${inputs.resultsPrefix}/*`,
    },
    {
      Sid: "WriteJobLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: `${inputs.logGroupArn}:*`,
    },
  ];
  if (inputs.topicArn) {
    statements.push({
      Sid: "NotifyRunOutcome",
      Effect: "Allow",
      Action: "sns:Publish",
      Resource: inputs.topicArn,
    });
  }
  return document(statements);
}

/** Denies every request to the bucket that does not use TLS. */
export function bucketPolicy(bucketArn: string): PolicyDocument {
  return document([
    {
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: [bucketArn, `${bucketArn}/*`],
      Condition: { Bool: { "aws:SecureTransport": false } },
    },
  ]);
}

/** Inputs of a schedule's execution role policy. */
export interface SchedulePolicyInputs {
  launcherArn: string;
  deadLetterQueueArn: string;
}

/** EventBridge Scheduler may invoke the launcher and dead-letter into the job's queue. */
export function schedulePolicy(inputs: SchedulePolicyInputs): PolicyDocument {
  return document([
    {
      Sid: "InvokeLauncher",
      Effect: "Allow",
      Action: "lambda:InvokeFunction",
      Resource: inputs.launcherArn,
    },
    {
      Sid: "DeadLetter",
      Effect: "Allow",
      Action: "sqs:SendMessage",
      Resource: inputs.deadLetterQueueArn,
    },
  ]);
}
