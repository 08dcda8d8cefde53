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
  /** Tags for the bucket. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

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
