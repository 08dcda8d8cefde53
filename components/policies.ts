/**
 * IAM policy documents as pure functions of plain ARNs. Every permission the program grants is
 * written here, so the whole set can be read in one place, simulated in tests, and kept to the
 * narrowest that works. No statement grants a `*` action.
 */
import { METRIC_NAMESPACE } from "../launcher/telemetry";
import { PROJECT_TAG_VALUE, RUN_RECORDS, TAGS } from "../launcher/contract";
import {
  parseSecretReference,
  secretRegion,
  secretResourceArn,
  type SecretScope,
} from "../lib/secretReferences";

/** An IAM policy statement (the subset of the grammar we use). */
export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: Record<string, string | string[]> | "*";
  Action: string | string[];
  /** Absent only in trust policies. */
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[] | boolean | number>>;
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
  /** The security group of the launch template; RunInstances with any other group is denied. */
  securityGroupId: string;
}

/** Inputs of the launcher role's policy. */
export interface LauncherPolicyInputs extends AccountScope {
  environment: string;
  jobs: LaunchableJob[];
  logGroupArn: string;
  /** The region's notification topic. */
  topicArn: string;
  /** CloudWatch namespace the launcher puts its launch metrics in, if any. */
  metricNamespace?: string;
  /** Results bucket: the launcher writes the records of runs it did not launch. */
  bucketArn: string;
  /** The launcher's on-failure destination. */
  failureQueueArn: string;
  /** True when a job may launch spot instances. */
  spot: boolean;
  /** Customer-managed key of the instances' volumes; absent for the AWS-managed `aws/ebs` key. */
  ebsKmsKeyArn?: string;
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
  const securityGroupArns = [...new Set(inputs.jobs.map((j) => j.securityGroupId))].map((id) =>
    ec2(`security-group/${id}`),
  );
  // A request may override launch template parameters: the image and security groups are pinned
  // by resource, and overriding IMDSv2 or volume encryption is denied (absent keys mean "as the
  // template says").
  const fromOurTemplates = {
    ArnEquals: { "ec2:LaunchTemplate": templateArns },
    StringEqualsIfExists: { "ec2:MetadataHttpTokens": "required" },
    BoolIfExists: { "ec2:Encrypted": "true" },
  };
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
        ...securityGroupArns,
        ...imageArns,
      ],
      Condition: fromOurTemplates,
    },
    {
      // The ec2:LaunchTemplate key does not apply to spot requests: under the statement above
      // every spot launch would be denied. A spot request alone launches nothing; the instance
      // it needs still must come from a job launch template.
      Sid: "RequestSpotForJobLaunches",
      Effect: "Allow",
      Action: "ec2:RunInstances",
      Resource: ec2("spot-instances-request/*"),
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
      // After RunInstances the launcher adds the launch times (launcher/launch.ts
      // launchTimeTags): only those keys, only on this stack's job instances.
      // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
      Sid: "TagLaunchTimes",
      Effect: "Allow",
      Action: "ec2:CreateTags",
      Resource: ec2("instance/*"),
      Condition: {
        StringEquals: {
          [`aws:ResourceTag/${TAGS.project}`]: PROJECT_TAG_VALUE,
          [`aws:ResourceTag/${TAGS.environment}`]: inputs.environment,
          [`aws:ResourceTag/${TAGS.job}`]: inputs.jobs.map((j) => j.job),
        },
        "ForAllValues:StringEquals": { "aws:TagKeys": [...LAUNCH_TIME_TAG_KEYS] },
      },
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
          [`aws:ResourceTag/${TAGS.project}`]: PROJECT_TAG_VALUE,
          [`aws:ResourceTag/${TAGS.environment}`]: inputs.environment,
          [`aws:ResourceTag/${TAGS.job}`]: inputs.jobs.map((j) => j.job),
        },
      },
    },
    writeLogsStatement("WriteOwnLogs", inputs.logGroupArn),
    {
      // Runs that were not launched (failed, skipped) leave a run record; never read or delete.
      Sid: "WriteNotLaunchedRunRecords",
      Effect: "Allow",
      Action: "s3:PutObject",
      Resource: runRecordsArn(inputs.bucketArn),
    },
    {
      // Lambda sends a failed event to the on-failure destination with the function's role.
      Sid: "SendToFailureQueue",
      Effect: "Allow",
      Action: "sqs:SendMessage",
      Resource: inputs.failureQueueArn,
    },
  ];
  if (inputs.spot) {
    // The spot price of a run's estimate, read at launch (launcher/launch.ts). The action has no
    // resource types: only "*" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html).
    statements.push({
      Sid: "ReadSpotPrices",
      Effect: "Allow",
      Action: "ec2:DescribeSpotPriceHistory",
      Resource: "*",
    });
    // EC2 creates AWSServiceRoleForEC2Spot on an API caller's behalf only if the caller may
    // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/service-linked-roles-spot-instance-requests.html):
    // exactly that role, for exactly that service, and nothing else in IAM.
    statements.push({
      Sid: "CreateSpotServiceLinkedRole",
      Effect: "Allow",
      Action: "iam:CreateServiceLinkedRole",
      Resource: `arn:${partition}:iam::${accountId}:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot`,
      Condition: { StringEquals: { "iam:AWSServiceName": "spot.amazonaws.com" } },
    });
  }
  if (inputs.ebsKmsKeyArn) {
    // Launching with a customer-managed volume key needs these on the key, through EC2 only
    // (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html).
    statements.push({
      Sid: "EncryptVolumesWithConfiguredKey",
      Effect: "Allow",
      Action: [
        "kms:CreateGrant",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
      ],
      Resource: inputs.ebsKmsKeyArn,
      Condition: { StringEquals: { "kms:ViaService": `ec2.${region}.amazonaws.com` } },
    });
  }
  statements.push(publishStatement("NotifyRunOutcomes", inputs.topicArn));
  if (inputs.metricNamespace) {
    statements.push(putMetricsStatement("PublishLaunchMetrics", inputs.metricNamespace));
  }
  return document(statements);
}

/**
 * The prefix of all of a job's checkpoints (`RUN_RECORDS.checkpointPrefix` without the run),
 * e.g. `jobs/pi/checkpoints/`.
 */
export function checkpointsPrefix(jobPrefix: string): string {
  return RUN_RECORDS.checkpointPrefix(jobPrefix, "").replace(/\/\/$/, "/");
}

/** The tags the launcher adds to an instance after launching it. */
export const LAUNCH_TIME_TAG_KEYS = [
  TAGS.launchRequestedAt,
  TAGS.launchAcceptedAt,
  TAGS.instanceLaunchTime,
] as const;

/** Every run record of a bucket (`RUN_RECORDS` in launcher/contract.ts). */
function runRecordsArn(bucketArn: string): string {
  return `${bucketArn}/${RUN_RECORDS.everyRecord}`;
}

/** PutMetricData supports no resource-level permissions; the namespace key narrows it. */
function putMetricsStatement(sid: string, namespace: string): PolicyStatement {
  return {
    Sid: sid,
    Effect: "Allow",
    Action: "cloudwatch:PutMetricData",
    Resource: "*",
    Condition: { StringEquals: { "cloudwatch:namespace": namespace } },
  };
}

/** Writing to one log group (the group's streams). */
function writeLogsStatement(sid: string, logGroupArn: string): PolicyStatement {
  return {
    Sid: sid,
    Effect: "Allow",
    Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
    Resource: `${logGroupArn}:*`,
  };
}

/** Publishing to the region's notification topic (every regional stack has one). */
function publishStatement(sid: string, topicArn: string): PolicyStatement {
  return { Sid: sid, Effect: "Allow", Action: "sns:Publish", Resource: topicArn };
}

/** A secret a job reads at run time: what IAM and KMS know it by. */
export interface SecretGrant {
  kind: "ssm" | "secretsmanager";
  /** The parameter's or secret's ARN (`-??????` for a secret named without its suffix). */
  arn: string;
  /** Where it is read: KMS is called through that region's service. */
  region: string;
}

/**
 * Reading exactly these secrets, and decrypting them only through their service and only as
 * themselves: SSM decrypts a SecureString with the encryption context `PARAMETER_ARN`
 * (https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html), Secrets
 * Manager with `SecretARN` (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
 * The key itself may be any of the region's (the secret's owner chose it); with the AWS managed
 * keys `aws/ssm` and `aws/secretsmanager` the key policy already allows this.
 */
export function secretStatements(grants: SecretGrant[], partition: string): PolicyStatement[] {
  const services = [
    {
      kind: "ssm",
      sid: "JobParameters",
      action: "ssm:GetParameter",
      context: "kms:EncryptionContext:PARAMETER_ARN",
    },
    {
      kind: "secretsmanager",
      sid: "JobSecrets",
      action: "secretsmanager:GetSecretValue",
      context: "kms:EncryptionContext:SecretARN",
    },
  ] as const;
  return services.flatMap(({ kind, sid, action, context }) => {
    const own = grants.filter((g) => g.kind === kind);
    if (own.length === 0) return [];
    const regions = [...new Set(own.map((g) => g.region))].sort();
    const arns = [...new Set(own.map((g) => g.arn))].sort();
    return [
      { Sid: `Read${sid}`, Effect: "Allow", Action: action, Resource: arns },
      {
        Sid: `Decrypt${sid}`,
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: regions.map((r) => `arn:${partition}:kms:${r}:*:key/*`),
        Condition: {
          StringEquals: { "kms:ViaService": regions.map((r) => `${kind}.${r}.amazonaws.com`) },
          StringLike: { [context]: arns },
        },
      },
    ];
  });
}

/** The grants of a job's secrets (`name → reference`) for one region's runs. */
export function secretGrants(secrets: Record<string, string>, scope: SecretScope): SecretGrant[] {
  return Object.values(secrets).map((text) => {
    const reference = parseSecretReference(text);
    if (typeof reference === "string") throw new Error(`secret reference ${text}: ${reference}`);
    return {
      kind: reference.kind,
      arn: secretResourceArn(reference, scope),
      region: secretRegion(reference, scope.region),
    };
  });
}

/** A job's own inline policy: its `policies.statements`, as config validated them. */
export function jobOwnPolicy(statements: PolicyStatement[]): PolicyDocument {
  return document(statements);
}

/** Inputs of a job instance role's policy. */
export interface InstancePolicyInputs {
  /** The private ECR repository of the job's image; none for a public image. */
  repositoryArn?: string;
  bucketArn: string;
  /** The job's key prefix, without trailing slash (e.g. `jobs/pi`). */
  resultsPrefix: string;
  logGroupArn: string;
  /** CloudWatch namespace the init script puts the run's metrics in. Default `TransientJobs`. */
  metricNamespace?: string;
  /** The secrets the job reads at run time. */
  secrets?: SecretGrant[];
  /** ARN partition, for the secrets' key ARNs. Default `aws`. */
  partition?: string;
}

/**
 * A job instance may pull its one repository, write (never delete) under its job's prefix and
 * read back and list only its job's checkpoints, write its own log group and put its attempt's
 * metrics. It publishes nothing to the topic: the run supervisor notifies, once per run, when the
 * instance has ended.
 */
export function instancePolicy(inputs: InstancePolicyInputs): PolicyDocument {
  // A public image needs no login and no pull permission.
  const pull: PolicyStatement[] = inputs.repositoryArn
    ? [
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
      ]
    : [];
  const statements: PolicyStatement[] = [
    ...pull,
    {
      Sid: "WriteJobResults",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
      Resource: `${inputs.bucketArn}/${inputs.resultsPrefix}/*`,
    },
    {
      // The run's checkpoints (CHECKPOINT_URI), which a later attempt resumes from: this job's only.
      Sid: "ReadJobCheckpoints",
      Effect: "Allow",
      Action: "s3:GetObject",
      Resource: `${inputs.bucketArn}/${checkpointsPrefix(inputs.resultsPrefix)}*`,
    },
    {
      Sid: "ListJobCheckpoints",
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: inputs.bucketArn,
      Condition: { StringLike: { "s3:prefix": `${checkpointsPrefix(inputs.resultsPrefix)}*` } },
    },
    writeLogsStatement("WriteJobLogs", inputs.logGroupArn),
  ];
  statements.push(...secretStatements(inputs.secrets ?? [], inputs.partition ?? "aws"));
  // The init script always reports its attempt's figures.
  statements.push(
    putMetricsStatement("PublishRunMetrics", inputs.metricNamespace ?? METRIC_NAMESPACE),
  );
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

/** Inputs of the reaper role's policy. */
export interface ReaperPolicyInputs extends AccountScope {
  environment: string;
  /** Results bucket ARN; the reaper writes run records only. */
  bucketArn: string;
  logGroupArn: string;
  /** CloudWatch namespace the reaper publishes its metrics to. */
  metricNamespace: string;
  /** The region's notification topic. */
  topicArn: string;
}

/**
 * The reaper may list instances, terminate only instances carrying this project's and this
 * environment's tags, write run records (never read or delete), publish its metrics to its own
 * namespace, write its own log group, and notify.
 */
export function reaperPolicy(inputs: ReaperPolicyInputs): PolicyDocument {
  const { partition, accountId, region } = inputs;
  const statements: PolicyStatement[] = [
    {
      // DescribeInstances supports no resource-level permissions.
      Sid: "FindRuns",
      Effect: "Allow",
      Action: "ec2:DescribeInstances",
      Resource: "*",
    },
    {
      Sid: "TerminateOnlyOwnInstances",
      Effect: "Allow",
      Action: "ec2:TerminateInstances",
      Resource: `arn:${partition}:ec2:${region}:${accountId}:instance/*`,
      Condition: {
        StringEquals: {
          [`aws:ResourceTag/${TAGS.project}`]: PROJECT_TAG_VALUE,
          [`aws:ResourceTag/${TAGS.environment}`]: inputs.environment,
        },
      },
    },
    {
      Sid: "WriteRunRecords",
      Effect: "Allow",
      Action: "s3:PutObject",
      Resource: runRecordsArn(inputs.bucketArn),
    },
    putMetricsStatement("PublishReaperMetrics", inputs.metricNamespace),
    writeLogsStatement("WriteOwnLogs", inputs.logGroupArn),
  ];
  statements.push(publishStatement("NotifyReapedRuns", inputs.topicArn));
  return document(statements);
}

/** EventBridge Scheduler may invoke one function (a schedule without a dead-letter queue). */
export function invokeFunctionPolicy(functionArn: string): PolicyDocument {
  return document([
    {
      Sid: "InvokeFunction",
      Effect: "Allow",
      Action: "lambda:InvokeFunction",
      Resource: functionArn,
    },
  ]);
}

/** Inputs of the regional notification key's policy. */
export interface NotificationKeyPolicyInputs extends AccountScope {
  /**
   * Name prefix of this regional stack's IAM roles (launcher, job instances, reaper): Pulumi
   * names each `<component name>-<random>`, and every component name starts with it.
   */
  rolePrefix: string;
}

/** Key administration, delegated to the account's IAM policies; listed, never `kms:*`. */
export const KEY_ADMIN_ACTIONS: readonly string[] = [
  "kms:DescribeKey",
  "kms:GetKeyPolicy",
  "kms:PutKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:EnableKeyRotation",
  "kms:DisableKeyRotation",
  "kms:ListKeyPolicies",
  "kms:ListResourceTags",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateKeyDescription",
  "kms:EnableKey",
  "kms:DisableKey",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:UpdateAlias",
  "kms:DeleteAlias",
  "kms:ListAliases",
  "kms:ListGrants",
  "kms:RevokeGrant",
];

/**
 * The customer-managed key of a region's notification topic and log groups. The AWS-managed
 * `alias/aws/sns` key cannot be used: its policy cannot be changed, and CloudWatch alarms (a
 * service principal) cannot publish to a topic encrypted with it. So:
 * - the account administers the key through IAM (listed actions);
 * - CloudWatch alarms of this account and region may use it to publish;
 * - this stack's roles may use it only through SNS in this region (matched by role name prefix,
 *   so the key policy needs no role ARN and the roles, created later, need no KMS statement);
 * - CloudWatch Logs may use it for this account's log groups in this region.
 */
export function notificationKeyPolicy(inputs: NotificationKeyPolicyInputs): PolicyDocument {
  const { partition, accountId, region } = inputs;
  const useForSns = ["kms:GenerateDataKey", "kms:Decrypt"];
  return document([
    {
      Sid: "AccountAdministersKey",
      Effect: "Allow",
      Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
      Action: [...KEY_ADMIN_ACTIONS],
      Resource: "*",
    },
    {
      Sid: "AlarmsPublishToTopic",
      Effect: "Allow",
      Principal: { Service: "cloudwatch.amazonaws.com" },
      Action: useForSns,
      Resource: "*",
      Condition: {
        StringEquals: { "aws:SourceAccount": accountId },
        ArnLike: { "aws:SourceArn": `arn:${partition}:cloudwatch:${region}:${accountId}:alarm:*` },
      },
    },
    {
      Sid: "StackRolesPublishThroughSns",
      Effect: "Allow",
      Principal: { AWS: "*" },
      Action: useForSns,
      Resource: "*",
      Condition: {
        StringEquals: {
          "kms:CallerAccount": accountId,
          "kms:ViaService": `sns.${region}.amazonaws.com`,
        },
        ArnLike: {
          "aws:PrincipalArn": `arn:${partition}:iam::${accountId}:role/${inputs.rolePrefix}*`,
        },
      },
    },
    {
      Sid: "LogsEncryptOwnLogGroups",
      Effect: "Allow",
      Principal: { Service: `logs.${region}.amazonaws.com` },
      Action: [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:DescribeKey",
      ],
      Resource: "*",
      Condition: {
        ArnLike: {
          "kms:EncryptionContext:aws:logs:arn": `arn:${partition}:logs:${region}:${accountId}:log-group:*`,
        },
      },
    },
  ]);
}

/**
 * The notification topic's policy: CloudWatch alarms of this account and region may publish;
 * nothing may publish without TLS. The stack's roles publish through their IAM policies.
 */
export function notificationTopicPolicy(
  inputs: AccountScope & { topicArn: string },
): PolicyDocument {
  const { partition, accountId, region, topicArn } = inputs;
  return document([
    {
      Sid: "AlarmsPublish",
      Effect: "Allow",
      Principal: { Service: "cloudwatch.amazonaws.com" },
      Action: "sns:Publish",
      Resource: topicArn,
      Condition: {
        StringEquals: { "aws:SourceAccount": accountId },
        ArnLike: { "aws:SourceArn": `arn:${partition}:cloudwatch:${region}:${accountId}:alarm:*` },
      },
    },
    {
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "sns:Publish",
      Resource: topicArn,
      Condition: { Bool: { "aws:SecureTransport": false } },
    },
  ]);
}

/** What pushing an image to an ECR repository takes (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html). */
export const ECR_PUSH_ACTIONS = [
  "ecr:BatchCheckLayerAvailability",
  "ecr:InitiateLayerUpload",
  "ecr:UploadLayerPart",
  "ecr:CompleteLayerUpload",
  "ecr:PutImage",
  "ecr:BatchGetImage",
] as const;

/** Inputs of an image build role's policy. */
export interface CodeBuildRolePolicyInputs {
  /** The image's source bucket. */
  bucketArn: string;
  /** Key prefix of the image's build contexts in it (ends with `/`). */
  sourcePrefix: string;
  /** The one repository the build pushes to. */
  repositoryArn: string;
  /** The build's log group. */
  logGroupArn: string;
}

/**
 * An image build may read only its build contexts, push only to its repository and write only
 * its log group. `ecr:GetAuthorizationToken` has no resource type, so it is on `*`; the token
 * it returns admits only what the other statements allow
 * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html).
 */
export function codeBuildRolePolicy(inputs: CodeBuildRolePolicyInputs): PolicyDocument {
  return document([
    {
      Sid: "ReadOwnBuildContexts",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:GetObjectVersion"],
      Resource: `${inputs.bucketArn}/${inputs.sourcePrefix}*`,
    },
    {
      // CodeBuild checks the source bucket's owner and region before it downloads
      // (https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html).
      Sid: "IdentifyOwnSourceBucket",
      Effect: "Allow",
      Action: ["s3:GetBucketAcl", "s3:GetBucketLocation"],
      Resource: inputs.bucketArn,
    },
    { Sid: "LogInToEcr", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
    {
      Sid: "PushToOwnRepository",
      Effect: "Allow",
      Action: [...ECR_PUSH_ACTIONS],
      Resource: inputs.repositoryArn,
    },
    writeLogsStatement("WriteOwnBuildLogs", inputs.logGroupArn),
  ]);
}

/** Inputs of the run supervisor role's policy. */
export interface SupervisorPolicyInputs extends AccountScope {
  /** Results bucket ARN: the supervisor reads and writes run and attempt records only. */
  bucketArn: string;
  logGroupArn: string;
  metricNamespace: string;
  /** The region's notification topic. */
  topicArn: string;
  /** The group of the next attempts' one-time schedules. */
  scheduleGroupName: string;
  /** The role Scheduler invokes the launcher with; the only role the supervisor may pass. */
  invokeRoleArn: string;
}

/**
 * The run supervisor may describe instances, read and write run and attempt records (and list
 * their prefixes, so that a missing record is a 404, not a 403:
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html), create one-time schedules
 * in its own group only, passing only its invoke role, which may invoke only the launcher; it
 * cannot launch, tag or terminate anything itself. So the only attempts it can start are the
 * launcher's, from this stack's launch templates with this stack's tags.
 */
export function supervisorPolicy(inputs: SupervisorPolicyInputs): PolicyDocument {
  const { partition, accountId, region } = inputs;
  const statements: PolicyStatement[] = [
    {
      // DescribeInstances supports no resource-level permissions.
      Sid: "LookUpEndedInstances",
      Effect: "Allow",
      Action: "ec2:DescribeInstances",
      Resource: "*",
    },
    {
      Sid: "ReadWriteRunRecords",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject"],
      Resource: runRecordsArn(inputs.bucketArn),
    },
    {
      Sid: "ListRunRecords",
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: inputs.bucketArn,
      Condition: { StringLike: { "s3:prefix": RUN_RECORDS.everyRecord } },
    },
    {
      // https://docs.aws.amazon.com/scheduler/latest/UserGuide/security_iam_id-based-policy-examples.html
      Sid: "ScheduleNextAttempts",
      Effect: "Allow",
      Action: "scheduler:CreateSchedule",
      Resource: `arn:${partition}:scheduler:${region}:${accountId}:schedule/${inputs.scheduleGroupName}/*`,
    },
    {
      Sid: "PassOnlyInvokeRole",
      Effect: "Allow",
      Action: "iam:PassRole",
      Resource: inputs.invokeRoleArn,
      Condition: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } },
    },
    putMetricsStatement("PublishAttemptMetrics", inputs.metricNamespace),
    writeLogsStatement("WriteOwnLogs", inputs.logGroupArn),
  ];
  statements.push(publishStatement("NotifyRunOutcomes", inputs.topicArn));
  return document(statements);
}

/**
 * A rule's dead-letter queue: EventBridge may send to it only for the given rules
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
 */
export function eventDeadLetterQueuePolicy(queueArn: string, ruleArns: string[]): PolicyDocument {
  return document([
    {
      Sid: "RulesDeadLetter",
      Effect: "Allow",
      Principal: { Service: "events.amazonaws.com" },
      Action: "sqs:SendMessage",
      Resource: queueArn,
      Condition: { ArnEquals: { "aws:SourceArn": ruleArns } },
    },
  ]);
}
