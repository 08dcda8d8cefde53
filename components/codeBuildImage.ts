import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CodeBuildClient } from "@aws-sdk/client-codebuild";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_TAG_VALUE, TAGS } from "../launcher/contract";
import { readBuildContext, sha256Hex } from "../lib/buildContext";
import {
  BUILD_TIMEOUT_MINUTES,
  BUILD_VARIABLES,
  BuildArchitecture,
  buildEnvironment,
  IMAGE_BUILD_RESOURCE,
  QUEUED_TIMEOUT_MINUTES,
  renderBuildspec,
  s3SourceLocation,
  sourceObjectKey,
  sourcePrefix,
} from "../lib/codeBuild";
import { codeBuildImageNames } from "../lib/resourceNames";
import {
  changedBuildInputs,
  ImageBuildClients,
  ImageBuildInputs,
  ImageBuildOutputs,
  runImageBuild,
} from "./imageBuildRun";
import { codeBuildRolePolicy, serviceTrustPolicy } from "./policies";
import { policyJson } from "./policyJson";
import type { RegionContext } from "./regionContext";
import { ResultsBucket } from "./resultsBucket";

/** Arguments of {@link CodeBuildImage}. */
export interface CodeBuildImageArgs {
  /** Docker build context (a folder holding a `Dockerfile`), relative to the project root. */
  context: string;
  /** CPU architecture to build for: the build runs on a machine of this architecture. */
  architecture: BuildArchitecture;
  /** The image's key (context and architecture): names its objects in the source bucket. */
  imageKey: string;
  /** The repository the build pushes to. */
  repositoryUrl: pulumi.Input<string>;
  repositoryArn: pulumi.Input<string>;
  /** The region: its log retention and key for the build's logs, and the account for ARNs. */
  region: Pick<
    RegionContext,
    "region" | "environment" | "accountId" | "logRetentionDays" | "logsKmsKeyArn"
  >;
  /** Resources that must be up to date before the build starts (the region rollout). */
  buildAfter?: pulumi.Resource[];
}

/** SDK clients of `region`, with the credentials of the process (the deployment's session). */
function buildClients(region: string): ImageBuildClients {
  return { codebuild: new CodeBuildClient({ region }), logs: new CloudWatchLogsClient({ region }) };
}

/**
 * The dynamic provider of {@link ImageBuild}. Pulumi calls `diff` on preview and up, but
 * `create`/`update` only on `pulumi up` (https://www.pulumi.com/docs/iac/concepts/providers/dynamic-providers/):
 * a preview starts no build, and neither does an up whose inputs are unchanged (the digest in the
 * state stays). It runs in the Pulumi program's Node.js with the deployment's AWS credentials from
 * the environment (the OIDC session of Pulumi Deployments), so the runner needs no AWS CLI and no
 * Docker. Declared once: the serialized provider is cached per object.
 */
export const imageBuildProvider: pulumi.dynamic.ResourceProvider<
  ImageBuildInputs,
  ImageBuildOutputs
> = {
  async diff(_id, olds, news) {
    const changed = changedBuildInputs(olds, news);
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs) {
    const result = await runImageBuild(buildClients(inputs.region), inputs);
    return { id: result.buildId, outs: { ...inputs, ...result } };
  },
  async update(_id, _olds, news) {
    return { outs: { ...news, ...(await runImageBuild(buildClients(news.region), news)) } };
  },
  // A pushed image stays in its repository until the repository's lifecycle policy expires it.
  async delete() {},
};

/** One CodeBuild build of an image, run by `pulumi up` when its inputs change. */
class ImageBuild extends pulumi.dynamic.Resource {
  declare readonly imageUri: pulumi.Output<string>;
  declare readonly imageDigest: pulumi.Output<string>;

  constructor(
    name: string,
    inputs: { [K in keyof ImageBuildInputs]: pulumi.Input<ImageBuildInputs[K]> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      imageBuildProvider,
      name,
      { ...inputs, imageUri: undefined, imageDigest: undefined, buildId: undefined },
      opts,
      IMAGE_BUILD_RESOURCE.module,
      IMAGE_BUILD_RESOURCE.type,
    );
  }
}

/** Where the zipped contexts are written before upload: the object's source file. */
function stagedArchive(sha256: string, archive: Buffer): string {
  const folder = path.join(os.tmpdir(), "transient-jobs-build-contexts");
  const file = path.join(folder, `${sha256}.zip`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(file, archive);
  }
  return file;
}

/**
 * A job image built in AWS, without a Docker daemon where `pulumi up` runs: the build context
 * (what `.dockerignore` leaves in) is uploaded as a content-addressed zip to a private bucket,
 * and a CodeBuild project of the image's architecture (an ARM machine for arm64) builds it and
 * pushes it to the repository; `pulumi up` waits for the build and the image is used by digest.
 */
export class CodeBuildImage extends pulumi.ComponentResource {
  /** The pushed image, pinned by digest. */
  readonly imageUri: pulumi.Output<string>;
  /** The CodeBuild project's name. */
  readonly projectName: pulumi.Output<string>;

  constructor(name: string, args: CodeBuildImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:CodeBuildImage", name, {}, opts);
    const names = codeBuildImageNames(name);
    const { region } = args;
    const tags = { [TAGS.project]: PROJECT_TAG_VALUE, [TAGS.environment]: region.environment };
    let packed;
    try {
      packed = readBuildContext(args.context);
    } catch (error) {
      throw new pulumi.ResourceError(`image ${args.imageKey}: ${(error as Error).message}`, this);
    }

    // Sources are not results: a replaced context's old version expires after a day.
    const sources = new ResultsBucket(
      names.sources,
      { noncurrentVersionDays: 1, tags },
      { parent: this },
    );
    const key = sourceObjectKey(args.imageKey, packed.sha256);
    const source = new aws.s3.BucketObjectv2(
      names.source,
      {
        bucket: sources.bucketName,
        key,
        source: new pulumi.asset.FileAsset(stagedArchive(packed.sha256, packed.archive)),
        contentType: "application/zip",
        tags,
      },
      { parent: this },
    );
    const logGroup = new aws.cloudwatch.LogGroup(
      names.logs,
      { retentionInDays: region.logRetentionDays, kmsKeyId: region.logsKmsKeyArn, tags },
      { parent: this },
    );
    const role = new aws.iam.Role(
      names.role,
      {
        description: "Image build: read its build contexts, push to its repository, write its logs",
        assumeRolePolicy: pulumi
          .output(region.accountId)
          .apply((account) =>
            JSON.stringify(serviceTrustPolicy("codebuild.amazonaws.com", account)),
          ),
        tags,
      },
      { parent: this },
    );
    const policy = new aws.iam.RolePolicy(
      names.policy,
      {
        role: role.id,
        policy: policyJson(codeBuildRolePolicy, {
          bucketArn: sources.bucketArn,
          sourcePrefix: sourcePrefix(args.imageKey),
          repositoryArn: args.repositoryArn,
          logGroupArn: logGroup.arn,
        }),
      },
      { parent: this },
    );
    const environment = buildEnvironment(args.architecture);
    const buildspec = renderBuildspec(args.architecture);
    const project = new aws.codebuild.Project(
      names.project,
      {
        description: `Builds ${args.context} for ${args.architecture} and pushes it to its repository`,
        serviceRole: role.arn,
        source: {
          type: "S3",
          // Each build names its own object (StartBuild's source location override).
          location: sources.bucketName.apply((bucket) =>
            s3SourceLocation(bucket, sourcePrefix(args.imageKey)),
          ),
          buildspec,
        },
        artifacts: { type: "NO_ARTIFACTS" },
        environment: {
          ...environment,
          // Docker needs it to run its daemon in the build container; nothing else does here.
          privilegedMode: true,
          imagePullCredentialsType: "CODEBUILD",
          environmentVariables: [
            { name: BUILD_VARIABLES.repositoryUri, value: args.repositoryUrl, type: "PLAINTEXT" },
          ],
        },
        logsConfig: {
          cloudwatchLogs: { status: "ENABLED", groupName: logGroup.name },
          s3Logs: { status: "DISABLED" },
        },
        buildTimeout: BUILD_TIMEOUT_MINUTES,
        queuedTimeout: QUEUED_TIMEOUT_MINUTES,
        tags,
      },
      // CodeBuild checks the role when the project is created.
      { parent: this, dependsOn: [policy] },
    );
    const build = new ImageBuild(
      names.build,
      {
        region: region.region,
        projectName: project.name,
        sourceLocation: pulumi.interpolate`${source.bucket}/${source.key}`,
        imageTag: packed.sha256,
        repositoryUrl: args.repositoryUrl,
        timeoutMinutes: BUILD_TIMEOUT_MINUTES,
        buildSettings: sha256Hex(JSON.stringify({ buildspec, environment })),
      },
      { parent: this, dependsOn: [source, policy, project, ...(args.buildAfter ?? [])] },
    );

    this.imageUri = build.imageUri;
    this.projectName = project.name;
    this.registerOutputs({ imageUri: this.imageUri, projectName: this.projectName });
  }
}
