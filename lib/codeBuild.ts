/**
 * How the CodeBuild builder builds a job image: the build environment per architecture, the
 * buildspec, the timeouts, and what a finished build reports. Pure: the component declares the
 * project from these, the build runner (components/imageBuildRun.ts) reads a build with them,
 * and the offline engine refuses the combinations CodeBuild refuses.
 */

/** Module and type of the image build dynamic resource (components/codeBuildImage.ts). */
export const IMAGE_BUILD_RESOURCE = { module: "codebuild", type: "ImageBuild" } as const;
/** Its type token: Pulumi names a dynamic resource `pulumi-nodejs:dynamic/<module>:<type>`. */
export const IMAGE_BUILD_TYPE = `pulumi-nodejs:dynamic/${IMAGE_BUILD_RESOURCE.module}:${IMAGE_BUILD_RESOURCE.type}`;

/** CPU architecture of a job, as config names it. */
export type BuildArchitecture = "x86_64" | "arm64";

/** A CodeBuild build environment: its type, curated image and compute type. */
export interface BuildEnvironment {
  type: "LINUX_CONTAINER" | "ARM_CONTAINER";
  image: string;
  computeType: string;
}

/** Where AWS lists the curated images and which environment type runs each. */
export const CODEBUILD_IMAGES_DOC =
  "https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-available.html";

/**
 * The curated Amazon Linux images per environment type: an `aarch64` image runs only in an
 * `ARM_CONTAINER`, an `x86_64` one only in a `LINUX_CONTAINER` ({@link CODEBUILD_IMAGES_DOC};
 * the names as the CDK lists them:
 * https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_codebuild.LinuxArmBuildImage.html).
 */
export const CURATED_IMAGES: Readonly<Record<BuildEnvironment["type"], readonly string[]>> = {
  LINUX_CONTAINER: ["aws/codebuild/amazonlinux2-x86_64-standard:5.0"],
  ARM_CONTAINER: ["aws/codebuild/amazonlinux2-aarch64-standard:3.0"],
};

/**
 * Compute types each container type runs on. ARM containers take only the small and large
 * general-purpose types (the CDK refuses the others for aarch64 images:
 * https://docs.aws.amazon.com/cdk/api/v1/python/aws_cdk.aws_codebuild/LinuxArmBuildImage.html).
 */
export const COMPUTE_TYPES: Readonly<Record<BuildEnvironment["type"], readonly string[]>> = {
  LINUX_CONTAINER: [
    "BUILD_GENERAL1_SMALL",
    "BUILD_GENERAL1_MEDIUM",
    "BUILD_GENERAL1_LARGE",
    "BUILD_GENERAL1_XLARGE",
    "BUILD_GENERAL1_2XLARGE",
  ],
  ARM_CONTAINER: ["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_LARGE"],
};

/**
 * The environment that builds an image natively for `architecture`: an ARM container for arm64,
 * so the image is never built under emulation.
 */
export function buildEnvironment(architecture: BuildArchitecture): BuildEnvironment {
  const type = architecture === "arm64" ? "ARM_CONTAINER" : "LINUX_CONTAINER";
  return { type, image: CURATED_IMAGES[type][0], computeType: "BUILD_GENERAL1_SMALL" };
}

/** Why CodeBuild would refuse this environment, or `undefined` if it accepts it. */
export function buildEnvironmentProblem(environment: {
  type?: string;
  image?: string;
  computeType?: string;
}): string | undefined {
  const type = environment.type as BuildEnvironment["type"];
  if (!(type in CURATED_IMAGES)) {
    return `environment type "${environment.type}" is not one this program builds in (${Object.keys(CURATED_IMAGES).join(", ")})`;
  }
  const otherType = (Object.keys(CURATED_IMAGES) as BuildEnvironment["type"][]).find((t) =>
    CURATED_IMAGES[t].includes(String(environment.image)),
  );
  if (otherType !== type) {
    return `image "${environment.image}" does not run in a ${type} (${otherType ? `it needs ${otherType}` : "not a curated image"}; ${CODEBUILD_IMAGES_DOC})`;
  }
  if (!COMPUTE_TYPES[type].includes(String(environment.computeType))) {
    return `compute type "${environment.computeType}" is not available for ${type}; use one of ${COMPUTE_TYPES[type].join(", ")}`;
  }
  return undefined;
}

/** Docker platform for an EC2 architecture. */
export function dockerPlatform(architecture: BuildArchitecture): string {
  return architecture === "arm64" ? "linux/arm64" : "linux/amd64";
}

/** Minutes one build may run before CodeBuild stops it as `TIMED_OUT`. */
export const BUILD_TIMEOUT_MINUTES = 30;
/** Minutes a build may wait in CodeBuild's queue before it fails. */
export const QUEUED_TIMEOUT_MINUTES = 30;
/** CodeBuild's range for both timeouts, in minutes (CreateProject `timeoutInMinutes`). */
export const TIMEOUT_RANGE = { min: 5, max: 2160 } as const;

/** The environment variable the build exports with the pushed image's digest. */
export const DIGEST_VARIABLE = "IMAGE_DIGEST";
/** The environment variables the buildspec reads: set by the project and by each build. */
export const BUILD_VARIABLES = { repositoryUri: "REPOSITORY_URI", imageTag: "IMAGE_TAG" } as const;

/** A digest as ECR reports it. */
export const IMAGE_DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/**
 * The buildspec of an image's project. Version 0.2 runs a phase's commands in one shell, so a
 * variable set by one command is seen by the next
 * (https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-cmd.html); a failing
 * command aborts the phase (`on-failure: ABORT`), so nothing is pushed after a failed build; the
 * digest is exported (`exported-variables`), so BatchGetBuilds returns it once the build ends
 * (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ExportedEnvironmentVariable.html).
 * The registry login uses the build role's own session: no credential is in the environment.
 */
export function renderBuildspec(architecture: BuildArchitecture): string {
  const { repositoryUri, imageTag } = BUILD_VARIABLES;
  const image = `"$${repositoryUri}:$${imageTag}"`;
  const commands = {
    pre_build: [
      `aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "\${${repositoryUri}%%/*}"`,
    ],
    build: [
      `docker build --platform ${dockerPlatform(architecture)} --tag ${image} .`,
      `docker push ${image}`,
      `${DIGEST_VARIABLE}=$(docker inspect --format '{{index .RepoDigests 0}}' ${image} | cut -d@ -f2)`,
      `echo "pushed $${repositoryUri}@$${DIGEST_VARIABLE}"`,
      `test -n "$${DIGEST_VARIABLE}"`,
    ],
  };
  // Each command is a JSON string, which YAML reads as the same double-quoted scalar.
  const phase = (name: keyof typeof commands) => [
    `  ${name}:`,
    "    on-failure: ABORT",
    "    commands:",
    ...commands[name].map((command) => `      - ${JSON.stringify(command)}`),
  ];
  return [
    "version: 0.2",
    "env:",
    "  variables:",
    '    DOCKER_BUILDKIT: "1"',
    "  exported-variables:",
    `    - ${DIGEST_VARIABLE}`,
    "phases:",
    ...phase("pre_build"),
    ...phase("build"),
    "",
  ].join("\n");
}

/** `bucket/key`, the form CodeBuild takes as an S3 source location. */
export function s3SourceLocation(bucket: string, key: string): string {
  return `${bucket}/${key}`;
}

/**
 * Why CodeBuild would refuse `location` as an S3 source of a zip file, or `undefined`: it is
 * `bucket/key` with a key ending in `.zip`
 * (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectSource.html).
 */
export function s3SourceLocationProblem(location: string): string | undefined {
  const slash = location.indexOf("/");
  if (slash <= 0 || slash === location.length - 1) {
    return `S3 source location "${location}" must be <bucket>/<key>`;
  }
  if (!location.endsWith(".zip")) {
    return `S3 source location "${location}" must name a .zip object (or a folder ending in /)`;
  }
  return undefined;
}

/** Key of an image's build context in its source bucket: content-addressed. */
export function sourceObjectKey(imageKey: string, sha256: string): string {
  return `sources/${imageKey}/${sha256}.zip`;
}

/** Prefix of an image's build contexts in its source bucket (what its build role may read). */
export function sourcePrefix(imageKey: string): string {
  return `sources/${imageKey}/`;
}

/** The console page of one build (`id` is `project:uuid`), for messages. */
export function buildConsoleUrl(region: string, buildId: string): string {
  const project = buildId.split(":")[0];
  return `https://${region}.console.aws.amazon.com/codesuite/codebuild/projects/${encodeURIComponent(project)}/build/${encodeURIComponent(buildId)}/?region=${region}`;
}
