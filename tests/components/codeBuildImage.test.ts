/**
 * The image builders under mocks: prod's committed stack builds in CodeBuild (per region and
 * image: the uploaded context, the project, its role and the build), and the same jobs with
 * `imageBuilder: docker` build with awsx.ecr.Image as before. Either way the job runs its image
 * by digest.
 */
import * as assert from "node:assert/strict";
import { jobsForRegion } from "../../config";
import type { PolicyDocument } from "../../components/policies";
import { readBuildContext } from "../../lib/buildContext";
import {
  BUILD_TIMEOUT_MINUTES,
  buildEnvironment,
  IMAGE_BUILD_TYPE,
  renderBuildspec,
  sourceObjectKey,
  sourcePrefix,
} from "../../lib/codeBuild";
import { imageKey } from "../../lib/resourceNames";
import { loadStackConfig, RecordedResource } from "../../offline/engine";
import { evaluatedStack, evaluatedWith } from "../../testing/evaluations";

const T = {
  object: "aws:s3/bucketObjectv2:BucketObjectv2",
  project: "aws:codebuild/project:Project",
  role: "aws:iam/role:Role",
  policy: "aws:iam/rolePolicy:RolePolicy",
  logs: "aws:cloudwatch/logGroup:LogGroup",
  bucket: "aws:s3/bucket:Bucket",
  repository: "aws:ecr/repository:Repository",
  awsx: "awsx:ecr:Image",
};

function only(resources: RecordedResource[], type: string, name: string): RecordedResource {
  const found = resources.filter((r) => r.type === type && r.name === name);
  assert.equal(found.length, 1, `${type} ${name}: ${found.length} found`);
  return found[0];
}

type Exports = Record<string, { jobs: Record<string, { imageUri: string }> }>;

describe("image builds: codebuild (prod) and docker", function () {
  this.timeout(180_000);

  describe("imageBuilder: codebuild (the committed prod stack)", () => {
    let resources: RecordedResource[];
    let exports: Exports;
    let config: Awaited<ReturnType<typeof evaluatedStack>>["config"];
    before(async () => {
      ({
        config,
        evaluation: {
          resources,
          outputs: { regions: exports },
        },
      } = (await evaluatedStack("prod")) as unknown as {
        config: typeof config;
        evaluation: { resources: RecordedResource[]; outputs: { regions: Exports } };
      });
    });

    it("declares no awsx:ecr:Image: nothing needs a Docker daemon where pulumi up runs", () => {
      assert.equal(config.imageBuilder, "codebuild");
      assert.deepEqual(
        resources.filter((r) => r.type === T.awsx),
        [],
      );
    });

    it("uploads each region's build context per image, content-addressed, as docker build sends it", () => {
      for (const region of config.regions) {
        for (const job of jobsForRegion(config, region)) {
          const key = imageKey(job.image, job.architecture);
          const name = `tj-prod-${region.name}-${key}`;
          const object = only(resources, T.object, `${name}-context`);
          const packed = readBuildContext(job.image);
          assert.equal(object.inputs.key, sourceObjectKey(key, packed.sha256));
          assert.equal(object.providerRegion, region.name);
          const bucket = only(resources, T.bucket, `${name}-src`);
          assert.equal(object.inputs.bucket, bucket.state.bucket);
          assert.ok(!packed.files.includes("README.md"), ".dockerignore leaves README.md out");
        }
      }
    });

    it("builds natively per architecture in a privileged project with no credentials in its environment", () => {
      for (const region of config.regions) {
        for (const job of jobsForRegion(config, region)) {
          const name = `tj-prod-${region.name}-${imageKey(job.image, job.architecture)}`;
          const project = only(resources, T.project, `${name}-build`);
          const repository = only(resources, T.repository, `${name}-repo`);
          const environment = project.inputs.environment as Record<string, unknown>;
          const expected = buildEnvironment(job.architecture);
          assert.equal(
            environment.type,
            job.architecture === "arm64" ? "ARM_CONTAINER" : "LINUX_CONTAINER",
          );
          assert.equal(environment.image, expected.image);
          assert.equal(environment.computeType, expected.computeType);
          assert.equal(environment.privilegedMode, true);
          assert.deepEqual(environment.environmentVariables, [
            { name: "REPOSITORY_URI", value: repository.state.repositoryUrl, type: "PLAINTEXT" },
          ]);
          const source = project.inputs.source as Record<string, unknown>;
          assert.equal(source.type, "S3");
          assert.equal(source.buildspec, renderBuildspec(job.architecture));
          assert.equal(
            source.location,
            `${only(resources, T.bucket, `${name}-src`).state.bucket}/${sourcePrefix(imageKey(job.image, job.architecture))}`,
          );
          assert.equal(project.inputs.buildTimeout, BUILD_TIMEOUT_MINUTES);
          const role = only(resources, T.role, `${name}-build`);
          assert.equal(project.inputs.serviceRole, role.state.arn);
          const trust = JSON.parse(String(role.inputs.assumeRolePolicy)) as PolicyDocument;
          assert.deepEqual(trust.Statement[0].Principal, { Service: "codebuild.amazonaws.com" });
          const logs = only(resources, T.logs, `${name}-build-logs`);
          assert.deepEqual(project.inputs.logsConfig, {
            cloudwatchLogs: { status: "ENABLED", groupName: logs.state.name },
            s3Logs: { status: "DISABLED" },
          });
        }
      }
    });

    it("starts each build of exactly the uploaded object, once the object, role and project exist", () => {
      for (const region of config.regions) {
        for (const key of new Set(
          jobsForRegion(config, region).map((j) => imageKey(j.image, j.architecture)),
        )) {
          const name = `tj-prod-${region.name}-${key}`;
          const build = only(resources, IMAGE_BUILD_TYPE, `${name}-image`);
          const object = only(resources, T.object, `${name}-context`);
          const project = only(resources, T.project, `${name}-build`);
          assert.equal(build.inputs.region, region.name);
          assert.equal(build.inputs.sourceLocation, `${object.inputs.bucket}/${object.inputs.key}`);
          assert.equal(build.inputs.projectName, project.state.name);
          assert.equal(
            build.inputs.imageTag,
            String(object.inputs.key)
              .split("/")
              .pop()!
              .replace(/\.zip$/, ""),
          );
          assert.equal(
            build.inputs.repositoryUrl,
            only(resources, T.repository, `${name}-repo`).state.repositoryUrl,
          );
          for (const before of [object, project, only(resources, T.policy, `${name}-build`)]) {
            assert.ok(
              build.dependencies?.includes(before.urn),
              `${build.name} does not wait for ${before.name}`,
            );
          }
          // Serialized with the program: create/update call CodeBuild through the SDK.
          const provider = String(build.inputs.__provider);
          assert.match(provider, /require\("@aws-sdk\/client-codebuild/);
          assert.match(provider, /StartBuildCommand/);
        }
      }
    });

    it("runs every job's image by the digest its build pushed", () => {
      for (const region of config.regions) {
        for (const job of jobsForRegion(config, region)) {
          const build = only(
            resources,
            IMAGE_BUILD_TYPE,
            `tj-prod-${region.name}-${imageKey(job.image, job.architecture)}-image`,
          );
          const uri = exports[region.name].jobs[job.name].imageUri;
          assert.equal(uri, build.state.imageUri);
          assert.match(
            uri,
            /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/[a-z0-9-]+@sha256:[0-9a-f]{64}$/,
          );
        }
      }
    });
  });

  describe("imageBuilder: docker (prod's jobs in one region)", () => {
    let resources: RecordedResource[];
    let exports: Exports;
    before(async () => {
      const committed = loadStackConfig("prod");
      // The builder changes no Lambda's code, which is not read here: it is not serialized.
      const evaluated = await evaluatedWith(
        "prod",
        {
          ...committed,
          "transient-jobs:regions": JSON.stringify(["eu-west-1"]),
          "transient-jobs:imageBuilder": "docker",
        },
        { closures: "placeholder" },
      );
      assert.equal(evaluated.config.imageBuilder, "docker");
      resources = evaluated.evaluation.resources;
      exports = (evaluated.evaluation.outputs as { regions: Exports }).regions;
    });

    it("builds each image with awsx.ecr.Image for its platform, and declares no CodeBuild resource", () => {
      const images = resources.filter((r) => r.type === T.awsx);
      assert.deepEqual(images.map((r) => [r.name, r.inputs.platform, r.inputs.context]).sort(), [
        ["tj-prod-eu-west-1-job-image-amd64-image", "linux/amd64", "job-image"],
        ["tj-prod-eu-west-1-job-image-arm64-image", "linux/arm64", "job-image"],
      ]);
      for (const type of [
        T.object,
        T.project,
        IMAGE_BUILD_TYPE,
        "transient-jobs:index:CodeBuildImage",
      ]) {
        assert.deepEqual(
          resources.filter((r) => r.type === type),
          [],
          type,
        );
      }
      assert.deepEqual(
        resources.filter((r) => r.type === T.bucket).map((r) => r.name),
        ["tj-prod-eu-west-1-results"],
      );
    });

    it("runs every job's image by the digest awsx pushed", () => {
      for (const [job, { imageUri }] of Object.entries(exports["eu-west-1"].jobs)) {
        const image = resources.find((r) => r.type === T.awsx && r.state.imageUri === imageUri);
        assert.ok(image, `${job}: ${imageUri} is no pushed image`);
        assert.match(imageUri, /@sha256:[0-9a-f]{64}$/);
      }
    });
  });
});
