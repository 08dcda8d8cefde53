import * as assert from "node:assert/strict";
import { buildEnvironment, IMAGE_BUILD_TYPE } from "../../lib/codeBuild";
import { buildResourceProblems } from "../../offline/engine";

const PROJECT = "aws:codebuild/project:Project";
const project = (overrides: Record<string, unknown> = {}) => ({
  serviceRole: "arn:aws:iam::123456789012:role/tj-dev-eu-west-1-job-image-amd64-build-abc1234",
  environment: { ...buildEnvironment("x86_64"), privilegedMode: true },
  source: { type: "S3", location: "bucket/sources/job-image-amd64/" },
  buildTimeout: 30,
  queuedTimeout: 30,
  ...overrides,
});
const build = (overrides: Record<string, unknown> = {}) => ({
  projectName: "tj-dev-eu-west-1-job-image-amd64-build-abc1234",
  sourceLocation: `bucket/sources/job-image-amd64/${"a".repeat(64)}.zip`,
  imageTag: "a".repeat(64),
  timeoutMinutes: 30,
  ...overrides,
});

describe("offline engine: build resources CodeBuild would refuse", () => {
  it("accepts what the program declares", () => {
    assert.deepEqual(buildResourceProblems(PROJECT, project()), []);
    assert.deepEqual(
      buildResourceProblems(PROJECT, project({ environment: buildEnvironment("arm64") })),
      [],
    );
    assert.deepEqual(buildResourceProblems(IMAGE_BUILD_TYPE, build()), []);
  });

  const refused: [string, string, Record<string, unknown>, RegExp][] = [
    [
      "an aarch64 image on an x86 machine",
      PROJECT,
      project({
        environment: { ...buildEnvironment("x86_64"), image: buildEnvironment("arm64").image },
      }),
      /does not run in a LINUX_CONTAINER \(it needs ARM_CONTAINER/,
    ],
    [
      "a medium ARM machine",
      PROJECT,
      project({
        environment: { ...buildEnvironment("arm64"), computeType: "BUILD_GENERAL1_MEDIUM" },
      }),
      /not available for ARM_CONTAINER/,
    ],
    [
      "a build timeout over 36 hours",
      PROJECT,
      project({ buildTimeout: 2161 }),
      /buildTimeout 2161/,
    ],
    ["a queue timeout over 8 hours", PROJECT, project({ queuedTimeout: 481 }), /queuedTimeout 481/],
    [
      "a service role that is no role",
      PROJECT,
      project({ serviceRole: "tj-role" }),
      /not an IAM role ARN/,
    ],
    [
      "a source that is no zip",
      IMAGE_BUILD_TYPE,
      build({ sourceLocation: "bucket/ctx.tar" }),
      /\.zip/,
    ],
    [
      "a project name with a dot",
      IMAGE_BUILD_TYPE,
      build({ projectName: "tj.dev" }),
      /CodeBuild project name/,
    ],
    ["a tag ECR refuses", IMAGE_BUILD_TYPE, build({ imageTag: "-x" }), /not a valid ECR tag/],
    [
      "a 4-minute build",
      IMAGE_BUILD_TYPE,
      build({ timeoutMinutes: 4 }),
      /timeoutInMinutesOverride 4/,
    ],
  ];
  for (const [what, type, inputs, problem] of refused) {
    it(`refuses ${what}`, () => {
      const problems = buildResourceProblems(type, inputs);
      assert.equal(problems.length, 1, problems.join("; "));
      assert.match(problems[0], problem);
    });
  }
});
