/**
 * The deploy role's permissions: least privilege checked statement by statement, then simulated
 * against every resource and lookup the job program really declares (under mocks), with the
 * names Pulumi gives them.
 */
import * as assert from "node:assert/strict";
import { IMAGE_BUILD_TYPE } from "../../lib/codeBuild";
import * as path from "node:path";
import { isWildcardOnlyAction } from "../../testing/iamSimulator";
import { PolicyDocument } from "../../components/policies";
import { deployConfigFromPulumi, parseDeployConfig } from "../../deploy/config";
import { deployPermissionPolicy, resourceNamePrefix } from "../../deploy/permissionPolicy";
import { TAGS } from "../../launcher/contract";
import {
  loadConfigFile,
  loadStackConfig,
  MOCK_ACCOUNT_ID,
  PROJECT_ROOT,
  RecordedCall,
  RecordedResource,
} from "../../offline/engine";
import { evaluatedStack, evaluatedWith } from "../../testing/evaluations";
import { decide } from "./simulate";

const ACCOUNT = MOCK_ACCOUNT_ID;
const policyFor = (environment: string, retainData: boolean) =>
  deployPermissionPolicy({ partition: "aws", accountId: ACCOUNT, environment, retainData });
const asList = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/**
 * A concrete ARN matching a policy's resource pattern. (iam-simulate validates ARNs against
 * patterns that require an account, so AWS's account-less public SSM parameters are simulated
 * with one; the policy's `*` account matches both.)
 */
function instance(pattern: string): string {
  if (pattern === "*") return "*";
  const [arn, partition, service, region, account, ...resource] = pattern.split(":");
  return [
    arn,
    partition,
    service,
    region === "*" ? "eu-west-1" : region,
    account === "*" ? ACCOUNT : account,
    resource.join(":").replace(/\*/g, "example"),
  ].join(":");
}

/** The usual key policy: the account's IAM policies decide who may use the key. */
const KEY_POLICY_DEFERRING_TO_IAM: PolicyDocument = {
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: "kms:*",
      Resource: "*",
    },
  ],
};

/** The request context a statement's conditions expect (first value of each). */
function contextOf(condition: Record<string, Record<string, unknown>> = {}) {
  const context: Record<string, string> = {};
  for (const [operator, entries] of Object.entries(condition)) {
    assert.match(
      operator,
      /^(String(Equals|Like)|ArnNotLike|Null)$/,
      `unexpected condition operator ${operator}`,
    );
    for (const [key, value] of Object.entries(entries)) {
      // Null "false" asks for the key to be present: the ArnNotLike entry gives it a value.
      if (operator === "Null") continue;
      context[key] =
        operator === "ArnNotLike"
          ? `arn:aws:iam::${ACCOUNT}:policy/a-job-policy`
          : asList(value as string)[0];
    }
  }
  return context;
}

describe("deploy role permissions", () => {
  for (const retainData of [true, false]) {
    describe(`with retainData ${retainData}`, () => {
      const policy = policyFor("prod", retainData);

      it("grants no '*' action, and '*' resources only for actions AWS grants on '*' alone", async () => {
        for (const statement of policy.Statement) {
          assert.equal(statement.Effect, "Allow");
          for (const action of asList(statement.Action)) {
            assert.ok(!action.includes("*"), `${statement.Sid} allows ${action}`);
            if (asList(statement.Resource).includes("*")) {
              const [service, name] = action.split(":");
              assert.ok(
                await isWildcardOnlyAction(service, name),
                `${statement.Sid}: ${action} supports resource-level permissions but is granted on *`,
              );
            }
          }
        }
      });

      it("fits in a role's inline policies (10,240 characters)", () => {
        const size = JSON.stringify(policy).length;
        assert.ok(size < 10_240, `${size} characters`);
      });

      it("allows each of its actions on a resource of its statement (actions and ARNs are real)", async () => {
        for (const statement of policy.Statement) {
          const context = contextOf(statement.Condition);
          for (const action of asList(statement.Action)) {
            const outcomes: string[] = [];
            for (const resource of asList(statement.Resource)) {
              const arn = instance(resource);
              const keyPolicy = /:kms:.*:key\//.test(arn) ? KEY_POLICY_DEFERRING_TO_IAM : undefined;
              try {
                outcomes.push(await decide(policy, action, arn, context, keyPolicy));
              } catch (error) {
                // A resource of another type in a multi-type statement, or a real mistake.
                outcomes.push((error as Error).message);
              }
            }
            assert.ok(
              outcomes.includes("Allowed"),
              `${statement.Sid}: ${action} is allowed on none of its resources:\n  ${outcomes.join("\n  ")}`,
            );
          }
        }
      });
    });
  }

  describe("what a prod deployment cannot do", () => {
    const prod = policyFor("prod", true);
    const dev = policyFor("dev", false);
    const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
    const bucket = "arn:aws:s3:::tj-prod-eu-west-1-results-1a2b3c4";
    const repository = `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/tj-prod-eu-west-1-job-image-amd64-repo-1a2b3c4`;
    const sg = `arn:aws:ec2:eu-west-1:${ACCOUNT}:security-group/sg-0123456789abcdef0`;
    const envTag = `aws:ResourceTag/${TAGS.environment}`;
    const cases: Array<[string, PolicyDocument, string, string, Record<string, string>, string]> = [
      [
        "create its own role",
        prod,
        "iam:CreateRole",
        role("tj-prod-x-role-1a2b3c4"),
        {},
        "Allowed",
      ],
      [
        "create a role of dev",
        prod,
        "iam:CreateRole",
        role("tj-dev-x-role-1a2b3c4"),
        {},
        "ImplicitlyDenied",
      ],
      ["create any other role", prod, "iam:CreateRole", role("admin"), {}, "ImplicitlyDenied"],
      [
        "edit its own deploy role",
        prod,
        "iam:PutRolePolicy",
        role("transient-jobs-deploy-prod-1a2b3c4"),
        {},
        "ImplicitlyDenied",
      ],
      [
        "attach a managed policy",
        prod,
        "iam:AttachRolePolicy",
        role("tj-prod-x-role-1a2b3c4"),
        {},
        "ImplicitlyDenied",
      ],
      [
        "attach a job's managed policy to its instance role",
        prod,
        "iam:AttachRolePolicy",
        role("tj-prod-eu-west-1-backup-instance-role-1a2b3c4"),
        { "iam:PolicyARN": `arn:aws:iam::${ACCOUNT}:policy/backup-kms-use` },
        "Allowed",
      ],
      [
        "attach AdministratorAccess to a job's instance role",
        prod,
        "iam:AttachRolePolicy",
        role("tj-prod-eu-west-1-backup-instance-role-1a2b3c4"),
        { "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess" },
        "ImplicitlyDenied",
      ],
      [
        "attach an AWS *FullAccess policy to a job's instance role",
        prod,
        "iam:AttachRolePolicy",
        role("tj-prod-eu-west-1-backup-instance-role-1a2b3c4"),
        { "iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonS3FullAccess" },
        "ImplicitlyDenied",
      ],
      [
        "attach a managed policy to the launcher's role",
        prod,
        "iam:AttachRolePolicy",
        role("tj-prod-eu-west-1-launcher-role-1a2b3c4"),
        { "iam:PolicyARN": `arn:aws:iam::${ACCOUNT}:policy/backup-kms-use` },
        "ImplicitlyDenied",
      ],
      [
        "create a user",
        prod,
        "iam:CreateUser",
        `arn:aws:iam::${ACCOUNT}:user/tj-prod-x`,
        {},
        "ImplicitlyDenied",
      ],
      [
        "pass its roles to Lambda",
        prod,
        "iam:PassRole",
        role("tj-prod-x-role-1a2b3c4"),
        { "iam:PassedToService": "lambda.amazonaws.com" },
        "Allowed",
      ],
      [
        "pass its roles to another service",
        prod,
        "iam:PassRole",
        role("tj-prod-x-role-1a2b3c4"),
        { "iam:PassedToService": "glue.amazonaws.com" },
        "ImplicitlyDenied",
      ],
      [
        "read results",
        prod,
        "s3:GetObject",
        `${bucket}/jobs/pi/runs/x.json`,
        {},
        "ImplicitlyDenied",
      ],
      [
        "upload a build context",
        prod,
        "s3:PutObject",
        `arn:aws:s3:::tj-prod-eu-west-1-job-image-amd64-src-1a2b3c4/sources/job-image-amd64/${"a".repeat(64)}.zip`,
        {},
        "Allowed",
      ],
      [
        "write into the results bucket",
        prod,
        "s3:PutObject",
        `${bucket}/jobs/pi/runs/x.json`,
        {},
        "ImplicitlyDenied",
      ],
      [
        "start its own image build",
        prod,
        "codebuild:StartBuild",
        `arn:aws:codebuild:eu-west-1:${ACCOUNT}:project/tj-prod-eu-west-1-job-image-amd64-build-1a2b3c4`,
        {},
        "Allowed",
      ],
      [
        "start another project's build",
        prod,
        "codebuild:StartBuild",
        `arn:aws:codebuild:eu-west-1:${ACCOUNT}:project/release-pipeline`,
        {},
        "ImplicitlyDenied",
      ],
      [
        "pass its roles to CodeBuild",
        prod,
        "iam:PassRole",
        role("tj-prod-x-build-1a2b3c4"),
        { "iam:PassedToService": "codebuild.amazonaws.com" },
        "Allowed",
      ],
      ["delete a retained bucket", prod, "s3:DeleteBucket", bucket, {}, "ImplicitlyDenied"],
      [
        "delete retained results",
        prod,
        "s3:DeleteObjectVersion",
        `${bucket}/jobs/pi/x`,
        {},
        "ImplicitlyDenied",
      ],
      [
        "delete a retained repository",
        prod,
        "ecr:DeleteRepository",
        repository,
        {},
        "ImplicitlyDenied",
      ],
      ["delete retained images", prod, "ecr:BatchDeleteImage", repository, {}, "ImplicitlyDenied"],
      [
        "(dev, not retained) delete its bucket",
        dev,
        "s3:DeleteBucket",
        "arn:aws:s3:::tj-dev-eu-west-1-results-1a2b3c4",
        {},
        "Allowed",
      ],
      ["(dev) delete a prod bucket", dev, "s3:DeleteBucket", bucket, {}, "ImplicitlyDenied"],
      [
        "touch another bucket",
        prod,
        "s3:PutBucketPolicy",
        "arn:aws:s3:::company-data",
        {},
        "ImplicitlyDenied",
      ],
      [
        "delete its own security group",
        prod,
        "ec2:DeleteSecurityGroup",
        sg,
        { [envTag]: "prod" },
        "Allowed",
      ],
      [
        "delete dev's security group",
        prod,
        "ec2:DeleteSecurityGroup",
        sg,
        { [envTag]: "dev" },
        "ImplicitlyDenied",
      ],
      [
        "delete an untagged security group",
        prod,
        "ec2:DeleteSecurityGroup",
        sg,
        {},
        "ImplicitlyDenied",
      ],
      [
        "create a security group tagged dev",
        prod,
        "ec2:CreateSecurityGroup",
        sg,
        { [`aws:RequestTag/${TAGS.environment}`]: "dev" },
        "ImplicitlyDenied",
      ],
      [
        "tag another group after creation",
        prod,
        "ec2:CreateTags",
        sg,
        { "ec2:CreateAction": "CreateVolume" },
        "ImplicitlyDenied",
      ],
      [
        "launch instances",
        prod,
        "ec2:RunInstances",
        `arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/i-0123456789abcdef0`,
        {},
        "ImplicitlyDenied",
      ],
      [
        "invoke the launcher",
        prod,
        "lambda:InvokeFunction",
        `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:tj-prod-eu-west-1-launcher-fn-1a2b3c4`,
        {},
        "ImplicitlyDenied",
      ],
      [
        "create another function",
        prod,
        "lambda:CreateFunction",
        `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:other`,
        {},
        "ImplicitlyDenied",
      ],
      [
        "delete another log group",
        prod,
        "logs:DeleteLogGroup",
        `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:/aws/lambda/other`,
        {},
        "ImplicitlyDenied",
      ],
      [
        "read the account's own parameters",
        prod,
        "ssm:GetParameter",
        `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/prod/db-password`,
        {},
        "ImplicitlyDenied",
      ],
    ];
    for (const [title, policy, action, resource, context, expected] of cases) {
      it(`${expected === "Allowed" ? "can" : "cannot"} ${title}`, async () =>
        assert.equal(await decide(policy, action, resource, context), expected));
    }

    const key = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const keyCases: Array<[string, string, string, Record<string, string>, string]> = [
      [
        "create a key tagged for its stack",
        "kms:CreateKey",
        "*",
        { [`aws:RequestTag/${TAGS.environment}`]: "prod" },
        "Allowed",
      ],
      ["create an untagged key", "kms:CreateKey", "*", {}, "ImplicitlyDenied"],
      [
        "change the policy of its stack's key",
        "kms:PutKeyPolicy",
        key,
        { [envTag]: "prod" },
        "Allowed",
      ],
      [
        "change the policy of dev's key",
        "kms:PutKeyPolicy",
        key,
        { [envTag]: "dev" },
        "ImplicitlyDenied",
      ],
      [
        "schedule an untagged key's deletion",
        "kms:ScheduleKeyDeletion",
        key,
        {},
        "ImplicitlyDenied",
      ],
      [
        "decrypt with its stack's key",
        "kms:Decrypt",
        key,
        { [envTag]: "prod" },
        "ImplicitlyDenied",
      ],
    ];
    for (const [title, action, resource, context, expected] of keyCases) {
      it(`${expected === "Allowed" ? "can" : "cannot"} ${title}`, async () =>
        assert.equal(
          await decide(prod, action, resource, context, KEY_POLICY_DEFERRING_TO_IAM),
          expected,
        ));
    }
  });

  // The example of real jobs (examples/real-jobs.yaml) is deployed as stack dev.
  for (const label of ["dev", "prod", "real-jobs"]) {
    const stack = label === "real-jobs" ? "dev" : label;
    describe(`against the ${label} job program's resources`, function () {
      this.timeout(120_000);
      let resources: RecordedResource[];
      let calls: RecordedCall[];
      let policy: PolicyDocument;

      before(async () => {
        const { config, evaluation } =
          label === "real-jobs"
            ? await evaluatedWith(
                stack,
                loadConfigFile(path.join(PROJECT_ROOT, "examples", "real-jobs.yaml")),
              )
            : await evaluatedStack(stack);
        resources = evaluation.resources;
        calls = evaluation.calls;
        const deployConfig = parseDeployConfig(
          deployConfigFromPulumi(loadStackConfig(stack, path.join(PROJECT_ROOT, "deploy"))),
          stack,
        );
        assert.equal(
          deployConfig.retainData,
          config.retainResources,
          `deploy/Pulumi.${stack}.yaml retainData must match the job stack's retainResources`,
        );
        policy = policyFor(stack, deployConfig.retainData);
      });

      it("names every resource with the stack's prefix", () => {
        for (const r of resources.filter((r) => r.custom)) {
          assert.ok(r.name.startsWith(resourceNamePrefix(stack)), `${r.type} ${r.name}`);
        }
      });

      it("allows creating, reading, updating and deleting every resource it declares", async () => {
        const needs = new Map<string, Need>();
        const unknown = new Set<string>();
        for (const r of resources) {
          if (!r.custom && !r.type.startsWith("awsx:")) continue;
          const rule = RULES[r.type];
          if (!rule) unknown.add(r.type);
          for (const need of rule?.(r, resources, stack) ?? []) {
            for (const action of need.actions) {
              const key = JSON.stringify([
                action,
                need.resource,
                need.context ?? {},
                need.resourcePolicy ?? null,
              ]);
              needs.set(key, { ...need, actions: [action], source: `${r.type} ${r.name}` });
            }
          }
        }
        for (const call of calls) {
          const rule = CALLS[call.token];
          if (!rule) unknown.add(call.token);
          for (const need of rule?.(call) ?? []) {
            for (const action of need.actions) {
              needs.set(JSON.stringify([action, need.resource]), {
                ...need,
                actions: [action],
                source: call.token,
              });
            }
          }
        }
        assert.deepEqual(
          [...unknown],
          [],
          "the program declares resources or lookups this test does not know: add their permissions to deploy/permissionPolicy.ts and a rule here",
        );
        assert.ok(needs.size > 100, `only ${needs.size} requests`);
        const denied: string[] = [];
        for (const need of needs.values()) {
          const decision = await decide(
            policy,
            need.actions[0],
            need.resource,
            need.context,
            need.resourcePolicy,
          );
          if (decision !== "Allowed") {
            denied.push(`${need.source}: ${need.actions[0]} on ${need.resource} is ${decision}`);
          }
        }
        assert.deepEqual(denied, []);
      });
    });
  }
});

/** One request a deployment makes. */
interface Need {
  actions: string[];
  resource: string;
  context?: Record<string, string>;
  /** The resource's own policy, where AWS requires it to allow too (KMS key policies). */
  resourcePolicy?: PolicyDocument;
  source?: string;
}

const region = (r: RecordedResource) => r.providerRegion ?? "eu-west-1";
/** Pulumi's auto-name: the logical name and a random suffix. */
const physical = (r: RecordedResource) => String(r.inputs.name ?? `${r.name}-1a2b3c4`);
const unlessRetained = (r: RecordedResource, actions: string[]) =>
  r.retainOnDelete ? [] : actions;
const arn = (service: string, r: RecordedResource, resource: string) =>
  `arn:aws:${service}:${region(r)}:${ACCOUNT}:${resource}`;

/** The bucket a bucket sub-resource configures (its sibling in the ResultsBucket component). */
function bucketOf(r: RecordedResource, all: RecordedResource[]): string {
  const bucket = all.find((b) => b.type === "aws:s3/bucket:Bucket" && b.parent === r.parent);
  assert.ok(bucket, `no bucket beside ${r.name}`);
  return `arn:aws:s3:::${physical(bucket)}`;
}

/** Tags a create request carries: the provider's default tag (index.ts) and the resource's own. */
function requestTags(r: RecordedResource, stack: string): Record<string, string> {
  const tags: Record<string, string> = {
    [`aws:RequestTag/${TAGS.environment}`]: stack,
  };
  for (const [key, value] of Object.entries((r.inputs.tags ?? {}) as Record<string, string>)) {
    tags[`aws:RequestTag/${key}`] = value;
  }
  return tags;
}

/** The services a role's trust policy lets assume it: where the role is passed. */
function trustedServices(r: RecordedResource): string[] {
  const trust = JSON.parse(String(r.inputs.assumeRolePolicy)) as PolicyDocument;
  return trust.Statement.flatMap((s) =>
    asList((s.Principal as Record<string, string | string[]>)?.Service),
  );
}

const passRole = (roleArn: string, service: string): Need => ({
  actions: ["iam:PassRole"],
  resource: roleArn,
  context: { "iam:PassedToService": service },
});

const s3Config =
  (read: string, write: string) =>
  (r: RecordedResource, all: RecordedResource[]): Need[] => [
    { actions: [read, write], resource: bucketOf(r, all) },
  ];

type Rule = (r: RecordedResource, all: RecordedResource[], stack: string) => Need[];

/** What `pulumi up`, `refresh` and `destroy` call for each resource type the program declares. */
const RULES: Record<string, Rule> = {
  "aws:ec2/securityGroup:SecurityGroup": (r, _, stack) => {
    const sg = arn("ec2", r, "security-group/sg-0123456789abcdef0");
    const owned = { [`aws:ResourceTag/${TAGS.environment}`]: stack };
    return [
      { actions: ["ec2:CreateSecurityGroup"], resource: sg, context: requestTags(r, stack) },
      { actions: ["ec2:CreateSecurityGroup"], resource: arn("ec2", r, "vpc/vpc-0123456789") },
      {
        actions: ["ec2:CreateTags"],
        resource: sg,
        context: { "ec2:CreateAction": "CreateSecurityGroup" },
      },
      {
        actions: [
          "ec2:RevokeSecurityGroupEgress",
          "ec2:AuthorizeSecurityGroupEgress",
          "ec2:DeleteSecurityGroup",
        ],
        resource: sg,
        context: owned,
      },
      { actions: ["ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"], resource: "*" },
    ];
  },
  "aws:ec2/launchTemplate:LaunchTemplate": (r, _, stack) => {
    const lt = arn("ec2", r, "launch-template/lt-0123456789abcdef0");
    return [
      { actions: ["ec2:CreateLaunchTemplate"], resource: lt, context: requestTags(r, stack) },
      {
        actions: ["ec2:CreateTags"],
        resource: lt,
        context: { "ec2:CreateAction": "CreateLaunchTemplate" },
      },
      {
        actions: [
          "ec2:CreateLaunchTemplateVersion",
          "ec2:ModifyLaunchTemplate",
          "ec2:DeleteLaunchTemplate",
        ],
        resource: lt,
        context: { [`aws:ResourceTag/${TAGS.environment}`]: stack },
      },
      { actions: ["ec2:DescribeLaunchTemplates"], resource: "*" },
    ];
  },
  "aws:iam/role:Role": (r) => {
    const role = `arn:aws:iam::${ACCOUNT}:role/${physical(r)}`;
    return [
      {
        actions: [
          "iam:CreateRole",
          "iam:GetRole",
          "iam:UpdateAssumeRolePolicy",
          "iam:ListRolePolicies",
          "iam:ListAttachedRolePolicies",
          "iam:ListInstanceProfilesForRole",
          "iam:DeleteRole",
        ],
        resource: role,
      },
      ...trustedServices(r).map((service) => passRole(role, service)),
    ];
  },
  "aws:iam/rolePolicy:RolePolicy": (r) => [
    {
      // `role` is the role's id, which is its name.
      actions: ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"],
      resource: `arn:aws:iam::${ACCOUNT}:role/${String(r.inputs.role)}`,
    },
  ],
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (r) => [
    {
      actions: ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
      resource: `arn:aws:iam::${ACCOUNT}:role/${String(r.inputs.role)}`,
      context: { "iam:PolicyARN": String(r.inputs.policyArn) },
    },
  ],
  "aws:iam/instanceProfile:InstanceProfile": (r) => [
    {
      actions: [
        "iam:CreateInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "iam:GetInstanceProfile",
        "iam:RemoveRoleFromInstanceProfile",
        "iam:DeleteInstanceProfile",
      ],
      resource: `arn:aws:iam::${ACCOUNT}:instance-profile/${physical(r)}`,
    },
    passRole(`arn:aws:iam::${ACCOUNT}:role/${String(r.inputs.role)}`, "ec2.amazonaws.com"),
  ],
  "aws:s3/bucket:Bucket": (r) => {
    const bucket = `arn:aws:s3:::${String(r.inputs.bucket ?? physical(r))}`;
    return [
      {
        actions: [
          "s3:CreateBucket",
          "s3:ListBucket",
          "s3:GetBucketTagging",
          "s3:GetBucketAcl",
          "s3:GetBucketCORS",
          "s3:GetBucketWebsite",
          "s3:GetAccelerateConfiguration",
          "s3:GetBucketRequestPayment",
          "s3:GetBucketLogging",
          "s3:GetReplicationConfiguration",
          "s3:GetBucketObjectLockConfiguration",
          ...unlessRetained(r, ["s3:ListBucketVersions", "s3:DeleteBucket"]),
        ],
        resource: bucket,
      },
      ...(r.retainOnDelete || !r.inputs.forceDestroy
        ? []
        : [
            {
              actions: ["s3:DeleteObject", "s3:DeleteObjectVersion"],
              resource: `${bucket}/jobs/pi/runs/x.json`,
            },
          ]),
    ];
  },
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": s3Config(
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
  ),
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls": s3Config(
    "s3:GetBucketOwnershipControls",
    "s3:PutBucketOwnershipControls",
  ),
  "aws:s3/bucketVersioning:BucketVersioning": s3Config(
    "s3:GetBucketVersioning",
    "s3:PutBucketVersioning",
  ),
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
    s3Config("s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"),
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": s3Config(
    "s3:GetLifecycleConfiguration",
    "s3:PutLifecycleConfiguration",
  ),
  "aws:s3/bucketPolicy:BucketPolicy": (r, all) => [
    {
      actions: [
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        ...unlessRetained(r, ["s3:DeleteBucketPolicy"]),
      ],
      resource: bucketOf(r, all),
    },
  ],
  "aws:ecr/repository:Repository": (r) => [
    {
      actions: [
        "ecr:CreateRepository",
        "ecr:DescribeRepositories",
        "ecr:ListTagsForResource",
        "ecr:PutImageScanningConfiguration",
        "ecr:PutImageTagMutability",
        ...unlessRetained(r, ["ecr:DeleteRepository", "ecr:BatchDeleteImage"]),
      ],
      resource: arn("ecr", r, `repository/${physical(r)}`),
    },
  ],
  "aws:ecr/lifecyclePolicy:LifecyclePolicy": (r) => [
    {
      actions: [
        "ecr:PutLifecyclePolicy",
        "ecr:GetLifecyclePolicy",
        ...unlessRetained(r, ["ecr:DeleteLifecyclePolicy"]),
      ],
      resource: arn("ecr", r, `repository/${String(r.inputs.repository)}`),
    },
  ],
  "aws:s3/bucketObjectv2:BucketObjectv2": (r) => [
    {
      actions: [
        "s3:PutObject",
        "s3:GetObject",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "s3:DeleteObject",
      ],
      resource: `arn:aws:s3:::${String(r.inputs.bucket)}/${String(r.inputs.key)}`,
    },
  ],
  "aws:codebuild/project:Project": (r) => [
    {
      actions: [
        "codebuild:CreateProject",
        "codebuild:BatchGetProjects",
        "codebuild:UpdateProject",
        "codebuild:DeleteProject",
      ],
      resource: arn("codebuild", r, `project/${physical(r)}`),
    },
    passRole(String(r.inputs.serviceRole), "codebuild.amazonaws.com"),
  ],
  // Starts a build, polls it, stops it when it outlasts its timeouts, reads its log's tail.
  [IMAGE_BUILD_TYPE]: (r, all) => {
    const project = all.find(
      (p) => p.type === "aws:codebuild/project:Project" && p.state.name === r.inputs.projectName,
    )!;
    const logs = (project.inputs.logsConfig as { cloudwatchLogs: { groupName: string } })
      .cloudwatchLogs.groupName;
    const where = String(r.inputs.region);
    return [
      {
        actions: ["codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild"],
        resource: `arn:aws:codebuild:${where}:${ACCOUNT}:project/${String(r.inputs.projectName)}`,
      },
      {
        actions: ["logs:GetLogEvents"],
        resource: `arn:aws:logs:${where}:${ACCOUNT}:log-group:${logs}:log-stream:0f0e0d0c`,
      },
    ];
  },
  "awsx:ecr:Image": (r) => {
    const [host, repository] = String(r.inputs.repositoryUrl).split("/");
    const imageRegion = host.split(".")[3];
    return [
      { actions: ["ecr:GetAuthorizationToken"], resource: "*" },
      {
        actions: [
          "ecr:BatchCheckLayerAvailability",
          "ecr:InitiateLayerUpload",
          "ecr:UploadLayerPart",
          "ecr:CompleteLayerUpload",
          "ecr:PutImage",
          "ecr:BatchGetImage",
        ],
        resource: `arn:aws:ecr:${imageRegion}:${ACCOUNT}:repository/${repository}`,
      },
    ];
  },
  "aws:lambda/function:Function": (r) => [
    {
      actions: [
        "lambda:CreateFunction",
        "lambda:GetFunction",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:ListVersionsByFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:DeleteFunction",
      ],
      resource: arn("lambda", r, `function:${physical(r)}`),
    },
    passRole(String(r.inputs.role), "lambda.amazonaws.com"),
  ],
  "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": (r) => [
    {
      actions: [
        "lambda:PutFunctionEventInvokeConfig",
        "lambda:GetFunctionEventInvokeConfig",
        "lambda:UpdateFunctionEventInvokeConfig",
        "lambda:DeleteFunctionEventInvokeConfig",
      ],
      resource: arn("lambda", r, `function:${String(r.inputs.functionName)}`),
    },
  ],
  "aws:cloudwatch/logGroup:LogGroup": (r) => [
    {
      actions: [
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:ListTagsForResource",
        "logs:TagResource",
        ...(r.inputs.kmsKeyId ? ["logs:AssociateKmsKey"] : []),
        "logs:DeleteLogGroup",
      ],
      resource: arn("logs", r, `log-group:${physical(r)}`),
    },
    { actions: ["logs:DescribeLogGroups"], resource: "*" },
  ],
  "aws:sqs/queue:Queue": (r) => [
    {
      actions: [
        "sqs:CreateQueue",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:ListQueueTags",
        "sqs:DeleteQueue",
      ],
      resource: arn("sqs", r, physical(r)),
    },
  ],
  "aws:scheduler/schedule:Schedule": (r) => [
    {
      actions: [
        "scheduler:CreateSchedule",
        "scheduler:GetSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
      ],
      resource: arn(
        "scheduler",
        r,
        `schedule/${String(r.inputs.groupName ?? "default")}/${physical(r)}`,
      ),
    },
    passRole(String((r.inputs.target as { roleArn: string }).roleArn), "scheduler.amazonaws.com"),
  ],
  "aws:sns/topic:Topic": (r) => [
    {
      actions: [
        "sns:CreateTopic",
        "sns:GetTopicAttributes",
        "sns:SetTopicAttributes",
        "sns:DeleteTopic",
      ],
      resource: arn("sns", r, physical(r)),
    },
  ],
  "aws:sns/topicSubscription:TopicSubscription": (r) => [
    {
      actions: ["sns:Subscribe", "sns:GetSubscriptionAttributes"],
      resource: String(r.inputs.topic),
    },
  ],
  "aws:cloudwatch/eventRule:EventRule": (r) => [
    {
      actions: ["events:PutRule", "events:DescribeRule", "events:DeleteRule"],
      resource: arn("events", r, `rule/${physical(r)}`),
    },
  ],
  "aws:cloudwatch/eventTarget:EventTarget": (r) => [
    {
      actions: ["events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule"],
      resource: arn("events", r, `rule/${String(r.inputs.rule)}`),
    },
  ],
  "aws:lambda/permission:Permission": (r) => [
    {
      actions: ["lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy"],
      resource: arn("lambda", r, `function:${String(r.inputs.function)}`),
    },
  ],
  "aws:scheduler/scheduleGroup:ScheduleGroup": (r) => [
    {
      actions: [
        "scheduler:CreateScheduleGroup",
        "scheduler:GetScheduleGroup",
        "scheduler:DeleteScheduleGroup",
      ],
      resource: arn("scheduler", r, `schedule-group/${physical(r)}`),
    },
  ],
  "aws:sqs/queuePolicy:QueuePolicy": (r) => [
    {
      actions: ["sqs:SetQueueAttributes", "sqs:GetQueueAttributes"],
      resource: arn("sqs", r, String(r.inputs.queueUrl).split("/").pop() ?? ""),
    },
  ],
  "aws:cloudwatch/metricAlarm:MetricAlarm": (r) => [
    {
      actions: [
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:DeleteAlarms",
      ],
      resource: arn("cloudwatch", r, `alarm:${physical(r)}`),
    },
  ],
};

/** The key policy the program gives a key: the key's own, or its sibling key's. */
function keyPolicyOf(r: RecordedResource, all: RecordedResource[]): PolicyDocument {
  const key =
    r.type === "aws:kms/key:Key"
      ? r
      : all.find((k) => k.type === "aws:kms/key:Key" && k.parent === r.parent);
  assert.ok(key, `no key beside ${r.name}`);
  return JSON.parse(String(key.inputs.policy)) as PolicyDocument;
}

/** A KMS key of the stack: created with the stack's tag, then managed through it. */
function keyRequests(r: RecordedResource, all: RecordedResource[], stack: string): Need[] {
  const key = arn("kms", r, "key/1234abcd-12ab-34cd-56ef-1234567890ab");
  const owned = { [`aws:ResourceTag/${TAGS.environment}`]: stack };
  const resourcePolicy = keyPolicyOf(r, all);
  return [
    { actions: ["kms:CreateKey"], resource: "*", context: requestTags(r, stack) },
    { actions: ["kms:TagResource"], resource: key, context: requestTags(r, stack), resourcePolicy },
    {
      actions: [
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:PutKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:EnableKeyRotation",
        "kms:ListResourceTags",
        "kms:ScheduleKeyDeletion",
      ],
      resource: key,
      context: owned,
      resourcePolicy,
    },
  ];
}

Object.assign(RULES, {
  "aws:kms/key:Key": (r: RecordedResource, all: RecordedResource[], stack: string) =>
    keyRequests(r, all, stack),
  "aws:kms/alias:Alias": (r: RecordedResource, all: RecordedResource[], stack: string): Need[] => [
    {
      actions: ["kms:CreateAlias", "kms:DeleteAlias"],
      resource: arn("kms", r, String(r.inputs.name)),
    },
    {
      // Creating and deleting an alias also needs the key.
      actions: ["kms:CreateAlias", "kms:DeleteAlias"],
      resource: arn("kms", r, "key/1234abcd-12ab-34cd-56ef-1234567890ab"),
      context: { [`aws:ResourceTag/${TAGS.environment}`]: stack },
      resourcePolicy: keyPolicyOf(r, all),
    },
    { actions: ["kms:ListAliases"], resource: "*" },
  ],
  "aws:sns/topicPolicy:TopicPolicy": (r: RecordedResource): Need[] => [
    {
      actions: ["sns:SetTopicAttributes", "sns:GetTopicAttributes"],
      resource: String(r.inputs.arn),
    },
  ],
  "aws:cloudwatch/dashboard:Dashboard": (r: RecordedResource): Need[] => [
    {
      actions: [
        "cloudwatch:PutDashboard",
        "cloudwatch:GetDashboard",
        "cloudwatch:DeleteDashboards",
      ],
      resource: `arn:aws:cloudwatch::${ACCOUNT}:dashboard/${String(r.inputs.dashboardName)}`,
    },
  ],
});

/** What each lookup of the program calls. */
const CALLS: Record<string, (call: RecordedCall) => Need[]> = {
  "aws:index/getPartition:getPartition": () => [],
  "aws:index/getCallerIdentity:getCallerIdentity": () => [],
  "aws:index/getRegion:getRegion": () => [],
  "aws:ec2/getVpc:getVpc": () => [
    { actions: ["ec2:DescribeVpcs", "ec2:DescribeRouteTables"], resource: "*" },
  ],
  "aws:ec2/getSubnets:getSubnets": () => [{ actions: ["ec2:DescribeSubnets"], resource: "*" }],
  "aws:ec2/getSubnet:getSubnet": () => [{ actions: ["ec2:DescribeSubnets"], resource: "*" }],
  "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": () => [
    { actions: ["ec2:DescribeInstanceTypeOfferings"], resource: "*" },
  ],
  "aws:ec2/getInstanceType:getInstanceType": () => [
    { actions: ["ec2:DescribeInstanceTypes"], resource: "*" },
  ],
  "aws:pricing/getProduct:getProduct": () => [{ actions: ["pricing:GetProducts"], resource: "*" }],
  "aws:kms/getKey:getKey": (call) => [
    {
      actions: ["kms:DescribeKey"],
      resource: `arn:aws:kms:${call.providerRegion}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
      context: { "kms:RequestAlias": String(call.inputs.keyId) },
      // AWS-managed keys' policies give the account's principals the key's metadata.
      resourcePolicy: KEY_POLICY_DEFERRING_TO_IAM,
    },
  ],
  "aws:ssm/getParameter:getParameter": (call) => [
    {
      // AWS's public parameters have no account in their ARN; iam-simulate needs one (above).
      actions: ["ssm:GetParameter"],
      resource: `arn:aws:ssm:${call.providerRegion}:${ACCOUNT}:parameter${String(call.inputs.name)}`,
    },
  ],
};
