import * as assert from "node:assert/strict";
import { parse } from "yaml";
import {
  BUILD_VARIABLES,
  buildEnvironment,
  buildEnvironmentProblem,
  DIGEST_VARIABLE,
  renderBuildspec,
  s3SourceLocationProblem,
  sourceObjectKey,
  sourcePrefix,
} from "../../lib/codeBuild";

interface Buildspec {
  version: number;
  env: { variables: Record<string, string>; "exported-variables": string[] };
  phases: Record<string, { "on-failure": string; commands: string[] }>;
}

describe("CodeBuild buildspec and environment", () => {
  for (const [architecture, platform, type] of [
    ["x86_64", "linux/amd64", "LINUX_CONTAINER"],
    ["arm64", "linux/arm64", "ARM_CONTAINER"],
  ] as const) {
    describe(architecture, () => {
      const spec = parse(renderBuildspec(architecture)) as Buildspec;

      it("is buildspec 0.2, exports the digest and aborts a phase on the first failure", () => {
        assert.equal(spec.version, 0.2);
        assert.deepEqual(spec.env["exported-variables"], [DIGEST_VARIABLE]);
        assert.deepEqual(Object.keys(spec.phases), ["pre_build", "build"]);
        for (const phase of Object.values(spec.phases)) assert.equal(phase["on-failure"], "ABORT");
      });

      it(`builds natively for ${platform} (${type}), pushes, then reads the pushed digest`, () => {
        assert.equal(buildEnvironment(architecture).type, type);
        assert.equal(buildEnvironmentProblem(buildEnvironment(architecture)), undefined);
        const image = `"$${BUILD_VARIABLES.repositoryUri}:$${BUILD_VARIABLES.imageTag}"`;
        assert.deepEqual(spec.phases.build.commands.slice(0, 3), [
          `docker build --platform ${platform} --tag ${image} .`,
          `docker push ${image}`,
          `${DIGEST_VARIABLE}=$(docker inspect --format '{{index .RepoDigests 0}}' ${image} | cut -d@ -f2)`,
        ]);
        assert.equal(spec.phases.build.commands.at(-1), `test -n "$${DIGEST_VARIABLE}"`);
      });

      it("logs in with the build role's session: no credential in the buildspec", () => {
        assert.match(
          spec.phases.pre_build.commands[0],
          /^aws ecr get-login-password --region "\$AWS_REGION" \| docker login --username AWS --password-stdin/,
        );
        assert.deepEqual(Object.keys(spec.env.variables), ["DOCKER_BUILDKIT"]);
        assert.doesNotMatch(
          renderBuildspec(architecture),
          /AWS_SECRET|AWS_ACCESS_KEY|AWS_SESSION_TOKEN|--password[ =]/i,
        );
      });
    });
  }

  it("refuses what CodeBuild refuses: an image on the wrong machine, a compute type ARM lacks", () => {
    const arm = buildEnvironment("arm64");
    const x86 = buildEnvironment("x86_64");
    assert.match(
      buildEnvironmentProblem({ ...x86, image: arm.image })!,
      /does not run in a LINUX_CONTAINER \(it needs ARM_CONTAINER/,
    );
    assert.match(
      buildEnvironmentProblem({ ...arm, computeType: "BUILD_GENERAL1_MEDIUM" })!,
      /compute type "BUILD_GENERAL1_MEDIUM" is not available for ARM_CONTAINER/,
    );
    assert.match(buildEnvironmentProblem({ ...arm, type: "WINDOWS" })!, /environment type/);
  });

  it("names sources by content under the image's prefix, as a zip CodeBuild accepts", () => {
    const key = sourceObjectKey("job-image-arm64", "ab".repeat(32));
    assert.equal(key, `sources/job-image-arm64/${"ab".repeat(32)}.zip`);
    assert.ok(key.startsWith(sourcePrefix("job-image-arm64")));
    assert.equal(s3SourceLocationProblem(`bucket/${key}`), undefined);
    assert.match(s3SourceLocationProblem("bucket")!, /must be <bucket>\/<key>/);
    assert.match(s3SourceLocationProblem("bucket/context.tar")!, /\.zip/);
  });
});
