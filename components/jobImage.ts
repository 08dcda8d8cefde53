import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { Architecture } from "../config";
import { jobImageNames } from "../lib/resourceNames";

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
}

/** Docker platform for an EC2 architecture. */
export function dockerPlatform(architecture: Architecture): string {
  return architecture === "arm64" ? "linux/arm64" : "linux/amd64";
}

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
 * built from the job's Dockerfile and pushed by `pulumi up`. Jobs with the same build context and
 * architecture share one JobImage.
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
    const image = new awsx.ecr.Image(
      names.image,
      {
        repositoryUrl: this.repository.repositoryUrl,
        context: args.context,
        platform: dockerPlatform(args.architecture),
      },
      // A remote component does not inherit providers from its parent: hand it the region's.
      {
        parent: this,
        providers: [this.getProvider("aws::")].filter((p) => p !== undefined),
        dependsOn: args.buildAfter,
      },
    );

    this.repositoryArn = this.repository.arn;
    this.repositoryUrl = this.repository.repositoryUrl;
    this.imageUri = image.imageUri;
    this.registerOutputs({
      repositoryArn: this.repositoryArn,
      repositoryUrl: this.repositoryUrl,
      imageUri: this.imageUri,
    });
  }
}
