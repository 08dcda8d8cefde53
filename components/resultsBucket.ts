import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { resultsBucketNames } from "../lib/resourceNames";
import { bucketPolicy } from "./policies";

/** Arguments of {@link ResultsBucket}. */
export interface ResultsBucketArgs {
  /**
   * Keep the bucket (and its results) when it is removed from the program, e.g. when a region is
   * retired. Default: false.
   */
  retainOnDelete?: boolean;
  /** Days to keep non-current object versions. Default: 30. */
  noncurrentVersionDays?: number;
  /**
   * Key prefixes of the jobs' checkpoints (e.g. `jobs/pi/checkpoints/`), each expired by its own
   * lifecycle rule: a filter's prefix is literal, without wildcards
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-filters.html). Default none.
   */
  checkpointPrefixes?: string[];
  /** Days a checkpoint is kept after it was written. Default: {@link CHECKPOINT_EXPIRY_DAYS}. */
  checkpointDays?: number;
  /** Tags for the bucket. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * Days a checkpoint is kept after it was written: a run's next attempt resumes within its backoff
 * (a day at most), and a week leaves time to look at them. A checkpoint older than this is gone
 * even if its run is still going (a run may last `maxRuntimeMinutes × (attempts + 1)`).
 */
export const CHECKPOINT_EXPIRY_DAYS = 7;

/**
 * A private, versioned, encrypted S3 bucket for a region's results and run records. Public access
 * is blocked entirely and any request without TLS is denied.
 */
export class ResultsBucket extends pulumi.ComponentResource {
  /** The bucket. */
  readonly bucket: aws.s3.Bucket;
  /** Bucket name. */
  readonly bucketName: pulumi.Output<string>;
  /** Bucket ARN. */
  readonly bucketArn: pulumi.Output<string>;

  constructor(name: string, args: ResultsBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:ResultsBucket", name, {}, opts);
    const names = resultsBucketNames(name);
    const retain = { parent: this, retainOnDelete: args.retainOnDelete ?? false };

    this.bucket = new aws.s3.Bucket(
      names.bucket,
      { forceDestroy: !(args.retainOnDelete ?? false), tags: args.tags },
      retain,
    );
    const bucket = this.bucket.id;

    const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        bucket,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      retain,
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } },
      retain,
    );
    new aws.s3.BucketVersioning(
      `${name}-versioning`,
      { bucket, versioningConfiguration: { status: "Enabled" } },
      retain,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      { bucket, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
      retain,
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      {
        bucket,
        rules: [
          {
            id: "expire-old-versions",
            status: "Enabled",
            filter: {},
            noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionDays ?? 30 },
            abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
          },
          ...(args.checkpointPrefixes ?? []).map((prefix) => ({
            id: `expire-${prefix.replace(/[^A-Za-z0-9-]+/g, "-").replace(/-+$/, "")}`,
            status: "Enabled",
            filter: { prefix },
            expiration: { days: args.checkpointDays ?? CHECKPOINT_EXPIRY_DAYS },
          })),
        ],
      },
      retain,
    );
    new aws.s3.BucketPolicy(
      `${name}-policy`,
      { bucket, policy: this.bucket.arn.apply((arn) => JSON.stringify(bucketPolicy(arn))) },
      // S3 rejects a bucket policy while the public access block is being written.
      { ...retain, dependsOn: [publicAccessBlock] },
    );

    this.bucketName = this.bucket.bucket;
    this.bucketArn = this.bucket.arn;
    this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn });
  }
}
