/**
 * A run's checkpoint at `s3://<bucket>/<prefix>/checkpoint.bin`: one PutObject replaces it whole
 * (S3 never shows part of an object: https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel),
 * a missing object is no checkpoint yet. S3 answers a missing key with NoSuchKey only to a caller
 * that may list the bucket, and with 403 to others
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html): the job's role needs
 * s3:ListBucket on the prefix, and a 403 fails the run rather than restart it from nothing.
 */
import {
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { CHECKPOINT_FILE, CheckpointStore } from "./checkpoint";

/** A {@link CheckpointStore} under an S3 prefix. */
export class S3CheckpointStore implements CheckpointStore {
  readonly location: string;
  private readonly key: string;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    /** Key prefix without leading or trailing slash; may be empty. */
    prefix: string,
  ) {
    this.key = prefix ? `${prefix}/${CHECKPOINT_FILE}` : CHECKPOINT_FILE;
    this.location = `s3://${bucket}/${this.key}`;
  }

  async load(): Promise<Buffer | undefined> {
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key }),
      );
      const body = object.Body as { transformToByteArray(): Promise<Uint8Array> } | undefined;
      return body ? Buffer.from(await body.transformToByteArray()) : Buffer.alloc(0);
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === "NoSuchKey") return undefined;
      throw error;
    }
  }

  async save(data: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key,
        Body: data,
        ContentType: "application/octet-stream",
      }),
    );
  }
}
