import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { Architecture, ImageBuilder } from "../config";
import { dockerPlatform } from "../lib/codeBuild";
import { jobImageNames } from "../lib/resourceNames";
import { CodeBuildImage, CodeBuildImageArgs } from "./codeBuildImage";

/** Arguments of {@link JobImage}. */
export interface JobImageArgs {
  /** Docker build context (a folder holding a `Dockerfile`), relative to the project root. */
  context: string;
  /** CPU architecture to build for; must match the job's instance types. */
  architecture: Architecture;
  /** Images the repository keeps; older ones expire. Default: 10. */
  imagesToKeep?: number;
  /** Keep the repository and its images when it is removed from the program. Default: false. */
  retainOnDelete?: boolean;
  /** Resources that must be up to date before the image is built and pushed (the rollout). */
  buildAfter?: pulumi.Resource[];
  /** Where the image is built (stack config `imageBuilder`). Default: `docker`. */
  builder?: ImageBuilder;
  /** With the `codebuild` builder: the image's key and region (see {@link CodeBuildImage}). */
  codeBuild?: Pick<CodeBuildImageArgs, "imageKey" | "region">;
}

export { dockerPlatform };

/** ECR lifecycle policy keeping the newest `count` images. */
export function keepNewestImagesPolicy(count: number): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: `Keep the newest ${count} images`,
        selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: count },
        action: { type: "expire" },
      },
    ],
  });
}

/**
 * A job's container image: an ECR repository (scanned on push, encrypted, pruned) and the image
 * built from the job's Dockerfile and pushed by `pulumi up`, in AWS CodeBuild
 * ({@link CodeBuildImage}) or by the local Docker daemon (awsx.ecr.Image). Jobs with the same
 * build context and architecture share one JobImage.
 */
export class JobImage extends pulumi.ComponentResource {
  /** The repository. */
  readonly repository: aws.ecr.Repository;
  /** Repository ARN, for pull permissions. */
  readonly repositoryArn: pulumi.Output<string>;
  /** Repository URL. */
  readonly repositoryUrl: pulumi.Output<string>;
  /** The pushed image, pinned by digest. */
  readonly imageUri: pulumi.Output<string>;

  constructor(name: string, args: JobImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:JobImage", name, {}, opts);
    const names = jobImageNames(name);
    const retainOnDelete = args.retainOnDelete ?? false;

    this.repository = new aws.ecr.Repository(
      names.repository,
      {
        imageScanningConfiguration: { scanOnPush: true },
        // awsx pushes a fixed tag on each build; runs pin the image by digest, never by tag.
        imageTagMutability: "MUTABLE",
        encryptionConfigurations: [{ encryptionType: "AES256" }],
        forceDelete: !retainOnDelete,
      },
      { parent: this, retainOnDelete },
    );
    new aws.ecr.LifecyclePolicy(
      names.lifecycle,
      { repository: this.repository.name, policy: keepNewestImagesPolicy(args.imagesToKeep ?? 10) },
      { parent: this, retainOnDelete },
    );
    this.repositoryArn = this.repository.arn;
    this.repositoryUrl = this.repository.repositoryUrl;
    this.imageUri = this.buildImage(name, args);
    this.registerOutputs({
      repositoryArn: this.repositoryArn,
      repositoryUrl: this.repositoryUrl,
      imageUri: this.imageUri,
    });
  }

  /** Declares the build of the image with the configured builder; its pinned URI. */
  private buildImage(name: string, args: JobImageArgs): pulumi.Output<string> {
    if ((args.builder ?? "docker") === "codebuild") {
      if (!args.codeBuild) {
        throw new pulumi.ResourceError(
          `JobImage ${name}: the codebuild builder needs the image's key and region`,
          this,
        );
      }
      return new CodeBuildImage(
        name,
        {
          ...args.codeBuild,
          context: args.context,
          architecture: args.architecture,
          repositoryUrl: this.repositoryUrl,
          repositoryArn: this.repositoryArn,
          buildAfter: args.buildAfter,
        },
        { parent: this },
      ).imageUri;
    }
    return new awsx.ecr.Image(
      jobImageNames(name).image,
      {
        repositoryUrl: this.repositoryUrl,
        context: args.context,
        platform: dockerPlatform(args.architecture),
      },
      // A remote component does not inherit providers from its parent: hand it the region's.
      {
        parent: this,
        providers: [this.getProvider("aws::")].filter((p) => p !== undefined),
        dependsOn: args.buildAfter,
      },
    ).imageUri;
  }
}
