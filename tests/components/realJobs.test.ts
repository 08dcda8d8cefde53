/**
 * examples/real-jobs.yaml under the mocks (one evaluation, shared with the IAM simulation): what
 * its jobs add to the program, and what they leave out.
 */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { loadConfigFile, PROJECT_ROOT, RecordedResource } from "../../offline/engine";
import { evaluatedWith } from "../../testing/evaluations";
import { secretStatements } from "../../components/policies";

const EXAMPLE = path.join(PROJECT_ROOT, "examples", "real-jobs.yaml");
const J = "tj-dev-eu-west-1";

describe("program: examples/real-jobs.yaml", function () {
  this.timeout(120000);
  let resources: RecordedResource[];
  let calls: { token: string; inputs: Record<string, unknown> }[];

  before(async () => {
    ({ resources, calls } = (await evaluatedWith("dev", loadConfigFile(EXAMPLE))).evaluation);
  });

  const named = (type: string, name: string) => {
    const found = resources.filter((r) => r.type === type && r.name === name);
    assert.equal(found.length, 1, `${type} ${name}`);
    return found[0];
  };

  it("builds only the image of the job with a build context", () => {
    // The example builds in CodeBuild: its build is a dynamic resource (components/codeBuildImage.ts).
    const builds = ["awsx:ecr:Image", "pulumi-nodejs:dynamic/codebuild:ImageBuild"];
    assert.deepEqual(
      resources
        .filter((r) => r.type === "aws:ecr/repository:Repository" || builds.includes(r.type))
        .map((r) => r.name)
        .sort(),
      [`${J}-job-image-amd64-image`, `${J}-job-image-amd64-repo`],
    );
  });

  it("attaches the job's managed policy and its statements, and nothing to the other jobs", () => {
    const attachments = resources.filter(
      (r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    );
    const role = named("aws:iam/role:Role", `${J}-nightly-backup-instance-role`);
    assert.deepEqual(
      attachments.map((r) => [r.name, r.inputs.policyArn, r.inputs.role]),
      [
        [
          `${J}-nightly-backup-instance-managed-0`,
          "arn:aws:iam::123456789012:policy/backup-kms-use",
          role.state.name,
        ],
      ],
    );
    const own = resources.filter((r) => r.name.endsWith("-instance-own-policy"));
    assert.deepEqual(
      own.map((r) => [r.name, JSON.parse(String(r.inputs.policy))]),
      [
        [
          `${J}-nightly-backup-instance-own-policy`,
          {
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "ReadPartnerDrop",
                Effect: "Allow",
                Action: ["s3:GetObject", "s3:ListBucket"],
                Resource: ["arn:aws:s3:::partner-drop", "arn:aws:s3:::partner-drop/*"],
              },
            ],
          },
        ],
      ],
    );
  });

  it("grants each job exactly its secrets, and kms:Decrypt only through their service as them", () => {
    const policy = (job: string) =>
      JSON.parse(
        String(named("aws:iam/rolePolicy:RolePolicy", `${J}-${job}-instance-policy`).inputs.policy),
      ).Statement as { Sid: string }[];
    const secretSids = (job: string) =>
      policy(job).filter((s) => /Job(Parameters|Secrets)$/.test(s.Sid));
    assert.deepEqual(secretSids("nightly-backup"), [
      ...secretStatements(
        [
          {
            kind: "secretsmanager",
            arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:backup/api-??????",
            region: "eu-west-1",
          },
          {
            kind: "ssm",
            arn: "arn:aws:ssm:eu-west-1:123456789012:parameter/backup/db-password",
            region: "eu-west-1",
          },
        ],
        "aws",
      ),
    ]);
    assert.deepEqual(secretSids("nightly-backup")[1], {
      Sid: "DecryptJobParameters",
      Effect: "Allow",
      Action: "kms:Decrypt",
      Resource: ["arn:aws:kms:eu-west-1:*:key/*"],
      Condition: {
        StringEquals: { "kms:ViaService": ["ssm.eu-west-1.amazonaws.com"] },
        StringLike: {
          "kms:EncryptionContext:PARAMETER_ARN": [
            "arn:aws:ssm:eu-west-1:123456789012:parameter/backup/db-password",
          ],
        },
      },
    });
    assert.deepEqual(secretSids("gpu-analysis"), []);
    assert.deepEqual(
      secretSids("daily-report").map((s) => JSON.stringify(s).includes("report/token-AbCdEf")),
      [true, true],
    );
  });

  it("pulls the other account's repository, and nothing for the public image", () => {
    const pull = (job: string) =>
      (
        JSON.parse(
          String(
            named("aws:iam/rolePolicy:RolePolicy", `${J}-${job}-instance-policy`).inputs.policy,
          ),
        ).Statement as { Sid: string; Resource: string }[]
      ).filter((s) => s.Sid === "PullJobImage" || s.Sid === "EcrLogin");
    assert.deepEqual(
      pull("gpu-analysis").map((s) => s.Resource),
      ["*", "arn:aws:ecr:eu-west-1:210987654321:repository/team/analysis"],
    );
    assert.deepEqual(pull("daily-report"), []);
  });

  it("boots the GPU job from the ECS GPU AMI and the others from the standard one", () => {
    const amis = calls
      .filter((c) => c.token === "aws:ssm/getParameter:getParameter")
      .map((c) => c.inputs.name)
      .sort();
    assert.deepEqual(amis, [
      "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
      "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
      "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    ]);
    assert.deepEqual(
      calls
        .filter((c) => c.token === "aws:ec2/getInstanceType:getInstanceType")
        .map((c) => c.inputs.instanceType)
        .sort(),
      ["g5.xlarge", "g6.xlarge", "m6id.large", "t3.medium"],
    );
  });
});
