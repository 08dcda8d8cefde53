/**
 * What a deployment of one job stack may do in AWS: create, read, update and delete exactly the
 * kinds of resources the `transient-jobs` program declares, under the names it gives them, and
 * start and watch its image builds (CodeBuild). Pure,
 * so tests can simulate it against the program's real resource names.
 *
 * Pulumi auto-names every resource `<logical name>-<random suffix>`, and every logical name of a
 * job stack starts with `tj-<stack>-<region>-`: IAM, S3, ECR, Lambda, Scheduler, SQS, SNS, logs,
 * alarms and KMS aliases are scoped by that prefix, the stack's one dashboard by its name. EC2 and
 * KMS ids are generated, so security groups, launch templates and keys are scoped by the
 * `transient-jobs:environment` tag the program's providers put on everything (`index.ts`). Reads
 * that support no resource-level permissions are on `*`.
 *
 * Residual risks: it can write the inline policies of the roles it creates (`tj-<stack>-*`) and
 * pass them to Lambda, Scheduler and EC2, as any role deploying this program must (a permissions
 * boundary on those roles would cap that); and KMS, which has no "only when creating" condition,
 * lets it tag any key whose key policy defers to IAM with the stack's tag, and so manage it. See
 * "Deploying" in README.md.
 */
import { dashboardName } from "../components/jobsDashboard";
import { ECR_PUSH_ACTIONS, PolicyDocument, PolicyStatement } from "../components/policies";
import { TAGS } from "../launcher/contract";

/** Inputs of {@link deployPermissionPolicy}. */
export interface DeployPermissionInputs {
  partition: string;
  accountId: string;
  /** The job stack (its resources are named `tj-<stack>-…`). */
  environment: string;
  /**
   * The job stack retains its results buckets and image repositories: grant no deletion of
   * buckets, objects, repositories, images or lifecycle policies.
   */
  retainData: boolean;
}

/** Prefix of the physical name of every named resource of a job stack. */
export function resourceNamePrefix(environment: string): string {
  return `tj-${environment}-`;
}

/** Actions the program's data sources and refreshes need, which AWS grants only on `*`. */
const DISCOVERY_ACTIONS = [
  "ec2:DescribeVpcs",
  "ec2:DescribeRouteTables",
  "ec2:DescribeSubnets",
  "ec2:DescribeSecurityGroups",
  "ec2:DescribeSecurityGroupRules",
  "ec2:DescribeLaunchTemplates",
  "ec2:DescribeLaunchTemplateVersions",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeTags",
  // Where EC2 offers the jobs' instance types (components/instanceOfferings.ts).
  "ec2:DescribeInstanceTypeOfferings",
  // The jobs' GPUs and instance stores (components/instanceTypeFacts.ts).
  "ec2:DescribeInstanceTypes",
  // The jobs' on-demand prices from the Price List (components/instancePrices.ts); GetProducts
  // has no resource types (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awspricelist.html).
  "pricing:GetProducts",
  "ecr:GetAuthorizationToken",
  "logs:DescribeLogGroups",
  "kms:ListAliases",
];

/**
 * The deploy role's permissions for one job stack: no `*` action, every write scoped to the
 * stack's names or tag.
 */
export function deployPermissionPolicy(inputs: DeployPermissionInputs): PolicyDocument {
  const { partition, accountId, environment, retainData } = inputs;
  const prefix = resourceNamePrefix(environment);
  const regional = (service: string, resource: string) =>
    `arn:${partition}:${service}:*:${accountId}:${resource}`;
  const ec2Owned = [regional("ec2", "security-group/*"), regional("ec2", "launch-template/*")];
  const requestTagged = { StringEquals: { [`aws:RequestTag/${TAGS.environment}`]: environment } };
  const tagged = { StringEquals: { [`aws:ResourceTag/${TAGS.environment}`]: environment } };
  const unlessRetained = (actions: string[]) => (retainData ? [] : actions);

  const statements: PolicyStatement[] = [
    {
      Sid: "Discover",
      Effect: "Allow",
      Action: DISCOVERY_ACTIONS,
      Resource: "*",
    },
    {
      Sid: "ReadVpcAttributes",
      Effect: "Allow",
      Action: "ec2:DescribeVpcAttribute",
      Resource: regional("ec2", "vpc/*"),
    },
    {
      Sid: "CreateTaggedSecurityGroupsAndLaunchTemplates",
      Effect: "Allow",
      Action: ["ec2:CreateSecurityGroup", "ec2:CreateLaunchTemplate"],
      Resource: ec2Owned,
      Condition: requestTagged,
    },
    {
      // The group itself must carry the tag (above); the VPC is only where it is created.
      Sid: "CreateSecurityGroupsInVpcs",
      Effect: "Allow",
      Action: "ec2:CreateSecurityGroup",
      Resource: regional("ec2", "vpc/*"),
    },
    {
      Sid: "TagOnCreate",
      Effect: "Allow",
      Action: "ec2:CreateTags",
      Resource: ec2Owned,
      Condition: {
        StringEquals: { "ec2:CreateAction": ["CreateSecurityGroup", "CreateLaunchTemplate"] },
      },
    },
    {
      Sid: "ManageOwnSecurityGroupsAndLaunchTemplates",
      Effect: "Allow",
      Action: [
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
        "ec2:DeleteSecurityGroup",
        "ec2:CreateLaunchTemplateVersion",
        "ec2:ModifyLaunchTemplate",
        "ec2:DeleteLaunchTemplateVersions",
        "ec2:DeleteLaunchTemplate",
        "ec2:CreateTags",
        "ec2:DeleteTags",
      ],
      Resource: ec2Owned,
      Condition: tagged,
    },
    {
      Sid: "ManageOwnRoles",
      Effect: "Allow",
      Action: [
        "iam:CreateRole",
        "iam:GetRole",
        "iam:UpdateRole",
        "iam:UpdateRoleDescription",
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteRole",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:ListRoleTags",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:ListInstanceProfilesForRole",
        "iam:PutRolePolicy",
        "iam:GetRolePolicy",
        "iam:DeleteRolePolicy",
      ],
      Resource: `arn:${partition}:iam::${accountId}:role/${prefix}*`,
    },
    {
      // A job's `policies.managed` on its instance role, and on no other role: never without a
      // named policy (Null), never an administrator-like AWS policy (the policy pack's rule).
      // The role may already write any inline policy on its roles, so this grants no more.
      Sid: "AttachJobsManagedPolicies",
      Effect: "Allow",
      Action: ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
      Resource: `arn:${partition}:iam::${accountId}:role/${prefix}*-instance-role-*`,
      Condition: {
        Null: { "iam:PolicyARN": "false" },
        ArnNotLike: {
          "iam:PolicyARN": [
            `arn:${partition}:iam::aws:policy/*AdministratorAccess`,
            `arn:${partition}:iam::aws:policy/*PowerUserAccess`,
            `arn:${partition}:iam::aws:policy/*FullAccess*`,
          ],
        },
      },
    },
    {
      Sid: "ManageOwnInstanceProfiles",
      Effect: "Allow",
      Action: [
        "iam:CreateInstanceProfile",
        "iam:GetInstanceProfile",
        "iam:DeleteInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "iam:RemoveRoleFromInstanceProfile",
        "iam:TagInstanceProfile",
        "iam:UntagInstanceProfile",
        "iam:ListInstanceProfileTags",
      ],
      Resource: `arn:${partition}:iam::${accountId}:instance-profile/${prefix}*`,
    },
    {
      Sid: "PassOwnRolesToTheirServices",
      Effect: "Allow",
      Action: "iam:PassRole",
      Resource: `arn:${partition}:iam::${accountId}:role/${prefix}*`,
      Condition: {
        StringEquals: {
          "iam:PassedToService": [
            "ec2.amazonaws.com",
            "lambda.amazonaws.com",
            "scheduler.amazonaws.com",
            // The image build projects' roles (components/codeBuildImage.ts).
            "codebuild.amazonaws.com",
          ],
        },
      },
    },
    {
      Sid: "ManageOwnBuckets",
      Effect: "Allow",
      Action: [
        "s3:CreateBucket",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "s3:GetBucketAcl",
        "s3:GetBucketCORS",
        "s3:GetBucketWebsite",
        "s3:GetAccelerateConfiguration",
        "s3:GetBucketRequestPayment",
        "s3:GetBucketLogging",
        "s3:GetReplicationConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetBucketTagging",
        "s3:PutBucketTagging",
        "s3:GetBucketVersioning",
        "s3:PutBucketVersioning",
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        ...unlessRetained(["s3:ListBucketVersions", "s3:DeleteBucket"]),
      ],
      Resource: `arn:${partition}:s3:::${prefix}*`,
    },
    ...(retainData
      ? []
      : [
          {
            // A removed bucket is emptied first (forceDestroy) when the stack does not retain it.
            Sid: "EmptyOwnBucketsOnDelete",
            Effect: "Allow" as const,
            Action: ["s3:DeleteObject", "s3:DeleteObjectVersion"],
            Resource: `arn:${partition}:s3:::${prefix}*/*`,
          },
        ]),
    {
      // The build contexts CodeBuild builds from (imageBuilder: codebuild): uploaded, replaced
      // and deleted by every deployment. Only the image source buckets (`-src-`), never results.
      Sid: "UploadBuildContexts",
      Effect: "Allow",
      Action: [
        "s3:PutObject",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
      ],
      Resource: `arn:${partition}:s3:::${prefix}*-src-*/*`,
    },
    {
      // Source buckets hold no data: even a stack that retains its data deletes them.
      Sid: "DeleteBuildContextBuckets",
      Effect: "Allow",
      Action: ["s3:ListBucketVersions", "s3:DeleteBucket"],
      Resource: `arn:${partition}:s3:::${prefix}*-src-*`,
    },
    {
      // Image build projects, and the builds `pulumi up` starts and waits for
      // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodebuild.html).
      Sid: "ManageOwnBuildProjectsAndBuilds",
      Effect: "Allow",
      Action: [
        "codebuild:CreateProject",
        "codebuild:UpdateProject",
        "codebuild:DeleteProject",
        "codebuild:BatchGetProjects",
        "codebuild:StartBuild",
        "codebuild:BatchGetBuilds",
        "codebuild:StopBuild",
      ],
      Resource: regional("codebuild", `project/${prefix}*`),
    },
    {
      // The last lines of a failed build, for the error `pulumi up` reports.
      Sid: "ReadOwnBuildLogs",
      Effect: "Allow",
      Action: "logs:GetLogEvents",
      Resource: regional("logs", `log-group:${prefix}*-build-logs-*:log-stream:*`),
    },
    {
      Sid: "ManageOwnRepositoriesAndPushImages",
      Effect: "Allow",
      Action: [
        "ecr:CreateRepository",
        "ecr:DescribeRepositories",
        "ecr:ListTagsForResource",
        "ecr:TagResource",
        "ecr:UntagResource",
        "ecr:PutImageScanningConfiguration",
        "ecr:PutImageTagMutability",
        "ecr:GetLifecyclePolicy",
        "ecr:PutLifecyclePolicy",
        ...ECR_PUSH_ACTIONS,
        "ecr:GetDownloadUrlForLayer",
        "ecr:DescribeImages",
        ...unlessRetained([
          "ecr:DeleteLifecyclePolicy",
          "ecr:BatchDeleteImage",
          "ecr:DeleteRepository",
        ]),
      ],
      Resource: regional("ecr", `repository/${prefix}*`),
    },
    {
      Sid: "ManageOwnFunctions",
      Effect: "Allow",
      Action: [
        "lambda:CreateFunction",
        "lambda:GetFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:GetFunctionConcurrency",
        "lambda:GetFunctionRecursionConfig",
        "lambda:GetRuntimeManagementConfig",
        "lambda:ListVersionsByFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:DeleteFunction",
        "lambda:ListTags",
        "lambda:TagResource",
        "lambda:UntagResource",
        // The launcher's asynchronous retries and on-failure destination.
        "lambda:PutFunctionEventInvokeConfig",
        "lambda:GetFunctionEventInvokeConfig",
        "lambda:UpdateFunctionEventInvokeConfig",
        "lambda:DeleteFunctionEventInvokeConfig",
        // The run supervisor's resource policy: its EventBridge rules may invoke it.
        "lambda:AddPermission",
        "lambda:RemovePermission",
        "lambda:GetPolicy",
      ],
      Resource: regional("lambda", `function:${prefix}*`),
    },
    {
      Sid: "ManageOwnSchedules",
      Effect: "Allow",
      Action: [
        "scheduler:CreateSchedule",
        "scheduler:GetSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
        // The group of the run supervisor's one-time schedules (next attempts).
        "scheduler:CreateScheduleGroup",
        "scheduler:GetScheduleGroup",
        "scheduler:DeleteScheduleGroup",
        "scheduler:ListTagsForResource",
        // The run supervisor's rules for EC2's interruption warnings and state changes (one
        // statement with the schedules': the role's inline policies are limited to 10,240 characters).
        "events:PutRule",
        "events:DescribeRule",
        "events:DeleteRule",
        "events:PutTargets",
        "events:RemoveTargets",
        "events:ListTargetsByRule",
        "events:ListTagsForResource",
      ],
      Resource: [
        regional("scheduler", `schedule/default/${prefix}*`),
        regional("scheduler", `schedule-group/${prefix}*`),
        regional("events", `rule/${prefix}*`),
      ],
    },
    {
      Sid: "ManageOwnQueues",
      Effect: "Allow",
      Action: [
        "sqs:CreateQueue",
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:ListQueueTags",
        "sqs:TagQueue",
        "sqs:UntagQueue",
        "sqs:DeleteQueue",
      ],
      Resource: regional("sqs", `${prefix}*`),
    },
    {
      Sid: "ManageOwnLogGroups",
      Effect: "Allow",
      Action: [
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DeleteRetentionPolicy",
        "logs:ListTagsForResource",
        "logs:ListTagsLogGroup",
        "logs:TagResource",
        "logs:UntagResource",
        "logs:TagLogGroup",
        "logs:UntagLogGroup",
        "logs:AssociateKmsKey",
        "logs:DisassociateKmsKey",
        "logs:DeleteLogGroup",
      ],
      Resource: regional("logs", `log-group:${prefix}*`),
    },
    {
      Sid: "ManageOwnTopics",
      Effect: "Allow",
      Action: [
        "sns:CreateTopic",
        "sns:GetTopicAttributes",
        "sns:SetTopicAttributes",
        "sns:Subscribe",
        "sns:Unsubscribe",
        "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes",
        "sns:ListSubscriptionsByTopic",
        "sns:ListTagsForResource",
        "sns:TagResource",
        "sns:UntagResource",
        "sns:DeleteTopic",
      ],
      Resource: regional("sns", `${prefix}*`),
    },
    {
      Sid: "ManageOwnAlarms",
      Effect: "Allow",
      Action: [
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListTagsForResource",
        "cloudwatch:TagResource",
        "cloudwatch:UntagResource",
        "cloudwatch:DeleteAlarms",
      ],
      Resource: regional("cloudwatch", `alarm:${prefix}*`),
    },
    {
      // Dashboards are global: no region in their ARN.
      Sid: "ManageOwnDashboard",
      Effect: "Allow",
      Action: ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
      Resource: `arn:${partition}:cloudwatch::${accountId}:dashboard/${dashboardName(environment)}`,
    },
    {
      // Key ids are generated: keys are the stack's by the tag they are created with.
      Sid: "CreateTaggedKeys",
      Effect: "Allow",
      Action: "kms:CreateKey",
      Resource: "*",
      Condition: requestTagged,
    },
    {
      Sid: "TagKeysWithTheStack",
      Effect: "Allow",
      Action: "kms:TagResource",
      Resource: regional("kms", "key/*"),
      Condition: requestTagged,
    },
    {
      Sid: "ManageOwnKeys",
      Effect: "Allow",
      Action: [
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:PutKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:EnableKeyRotation",
        "kms:ListKeyRotations",
        "kms:ListResourceTags",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:UpdateKeyDescription",
        "kms:CreateAlias",
        "kms:UpdateAlias",
        "kms:DeleteAlias",
        "kms:ScheduleKeyDeletion",
      ],
      Resource: regional("kms", "key/*"),
      Condition: tagged,
    },
    {
      // The launch templates pin the AWS-managed EBS key; its id differs per account and region.
      Sid: "LookUpAwsManagedEbsKey",
      Effect: "Allow",
      Action: "kms:DescribeKey",
      Resource: regional("kms", "key/*"),
      Condition: { StringEquals: { "kms:RequestAlias": "alias/aws/ebs" } },
    },
    {
      Sid: "ManageOwnAliases",
      Effect: "Allow",
      Action: ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
      Resource: regional("kms", `alias/${prefix}*`),
    },
    {
      // AWS's public parameters: the ECS-optimized AMI ids. Their ARN has no account; "*" also
      // matches an empty one, and no account can create parameters under the reserved "/aws".
      Sid: "ReadPublicAmiParameters",
      Effect: "Allow",
      Action: ["ssm:GetParameter", "ssm:GetParameters"],
      Resource: `arn:${partition}:ssm:*:*:parameter/aws/service/ecs/optimized-ami/*`,
    },
  ];
  return { Version: "2012-10-17", Statement: statements };
}
