/**
 * Writes a result to `s3://<bucket>/<prefix>/<run id>/pi.txt` and `manifest.json`. Small data is
 * one PutObject; data above the threshold is a multipart upload, aborted if any part fails so no
 * orphaned parts are billed. The manifest is written last.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CompletedPart,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import {
  DATA_CONTENT_TYPE,
  DATA_FILE,
  encodeManifest,
  Manifest,
  MANIFEST_CONTENT_TYPE,
  MANIFEST_FILE,
  ResultWriter,
  StoredLocation,
} from "./manifest";

/** S3 rejects parts below 5 MiB, except the last one. */
export const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;
/** S3 allows at most 10,000 parts per upload. */
export const MAX_PARTS = 10_000;

/** Options of {@link S3ResultWriter}. */
export interface S3WriterOptions {
  bucket: string;
  /** Key prefix without leading or trailing slash. */
  prefix: string;
  runId: string;
  /** Data larger than this goes as a multipart upload; default 8 MiB. */
  multipartThresholdBytes?: number;
  /** Size of each part but the last; default 8 MiB, at least {@link MIN_PART_SIZE_BYTES}. */
  partSizeBytes?: number;
  /** Parts uploaded at once; default 4. */
  concurrency?: number;
}

/** An error from a multipart upload, after the upload was aborted (or the abort failed too). */
export class MultipartUploadError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = "MultipartUploadError";
  }
}

/** The results bucket cannot be written under the run's folder; raised by `prepare()`. */
export class ResultsNotWritableError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = "ResultsNotWritableError";
  }
}

/** The key `prepare()` starts and aborts its probe upload at, inside the run's folder. */
export const PROBE_FILE = ".write-check";

/**
 * Byte ranges `[start, end)` of the parts of `size` bytes: `partSize` each, the last one shorter;
 * the part size grows when `size` would need more than {@link MAX_PARTS} parts.
 */
export function partRanges(size: number, partSize: number): [number, number][] {
  if (partSize < MIN_PART_SIZE_BYTES) {
    throw new RangeError(
      `partSizeBytes: ${partSize} is below S3's minimum part size; use at least ${MIN_PART_SIZE_BYTES}`,
    );
  }
  const effective = Math.max(partSize, Math.ceil(size / MAX_PARTS));
  const ranges: [number, number][] = [];
  for (let start = 0; start < size; start += effective) {
    ranges.push([start, Math.min(size, start + effective)]);
  }
  return ranges;
}

/** A {@link ResultWriter} for an S3 bucket; the client is injected (tests pass a mock). */
export class S3ResultWriter implements ResultWriter {
  readonly destination: string;
  private readonly dataKey: string;
  private readonly manifestKey: string;
  private readonly probeKey: string;
  private readonly threshold: number;
  private readonly partSize: number;
  private readonly concurrency: number;

  constructor(
    private readonly client: S3Client,
    private readonly options: S3WriterOptions,
  ) {
    const folder = `${options.prefix}/${options.runId}`;
    this.dataKey = `${folder}/${DATA_FILE}`;
    this.manifestKey = `${folder}/${MANIFEST_FILE}`;
    this.probeKey = `${folder}/${PROBE_FILE}`;
    this.destination = `s3://${options.bucket}/${folder}/`;
    this.threshold = options.multipartThresholdBytes ?? 8 * 1024 * 1024;
    this.partSize = options.partSizeBytes ?? 8 * 1024 * 1024;
    this.concurrency = options.concurrency ?? 4;
    // Fail at construction, before any computation, rather than at upload time.
    partRanges(0, this.partSize);
  }

  /**
   * Proves the bucket writable under the run's folder before any computation, so a missing bucket
   * or a denied write fails the run at once instead of after its whole duration. The instance
   * role may put objects and abort uploads there but not read or delete (no HeadBucket, GetObject
   * or DeleteObject), so the probe is a multipart upload started and aborted at once: starting one
   * needs s3:PutObject on the key and aborting it s3:AbortMultipartUpload, as the real write does
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions),
   * and it leaves no object behind (the bucket's lifecycle rule removes an upload whose abort
   * failed). The caller bounds its time (main.ts).
   */
  async prepare(): Promise<void> {
    const { bucket: Bucket } = this.options;
    const Key = this.probeKey;
    let step = "CreateMultipartUpload";
    try {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({ Bucket, Key, ContentType: DATA_CONTENT_TYPE }),
      );
      if (!created.UploadId) throw new Error("no UploadId returned");
      step = "AbortMultipartUpload";
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket, Key, UploadId: created.UploadId }),
      );
    } catch (error) {
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      throw new ResultsNotWritableError(
        `cannot write results to ${this.destination} (bucket ${JSON.stringify(Bucket)}, prefix ${JSON.stringify(this.options.prefix)}): ${step} of s3://${Bucket}/${Key} failed: ${name === "Error" ? "" : `${name}: `}${message}; check RESULTS_BUCKET and RESULTS_PREFIX, and that the instance role may s3:PutObject and s3:AbortMultipartUpload under them`,
        error,
      );
    }
  }

  async write(data: Buffer, manifest: Manifest): Promise<StoredLocation> {
    if (data.length > this.threshold) {
      await this.putMultipart(data);
    } else {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: this.dataKey,
          Body: data,
          ContentType: DATA_CONTENT_TYPE,
        }),
      );
    }
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: this.manifestKey,
        Body: encodeManifest(manifest),
        ContentType: MANIFEST_CONTENT_TYPE,
      }),
    );
    return {
      data: `s3://${this.options.bucket}/${this.dataKey}`,
      manifest: `s3://${this.options.bucket}/${this.manifestKey}`,
    };
  }

  private async putMultipart(data: Buffer): Promise<void> {
    const { bucket: Bucket } = this.options;
    const Key = this.dataKey;
    const created = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket, Key, ContentType: DATA_CONTENT_TYPE }),
    );
    const UploadId = created.UploadId;
    if (!UploadId)
      throw new Error(`CreateMultipartUpload for s3://${Bucket}/${Key} returned no UploadId`);
    try {
      const ranges = partRanges(data.length, this.partSize);
      const parts: CompletedPart[] = new Array(ranges.length);
      let next = 0;
      let failure: { error: unknown } | undefined;
      const uploadNext = async (): Promise<void> => {
        // After a failure no new part starts, so nothing lands after the abort below.
        while (next < ranges.length && !failure) {
          const index = next++;
          const [start, end] = ranges[index];
          const PartNumber = index + 1;
          try {
            const result = await this.client.send(
              new UploadPartCommand({
                Bucket,
                Key,
                UploadId,
                PartNumber,
                Body: data.subarray(start, end),
              }),
            );
            if (!result.ETag) throw new Error(`UploadPart ${PartNumber} returned no ETag`);
            parts[index] = { ETag: result.ETag, PartNumber };
          } catch (error) {
            failure ??= { error };
          }
        }
      };
      const lanes = Math.min(this.concurrency, ranges.length);
      await Promise.all(Array.from({ length: lanes }, () => uploadNext()));
      if (failure) throw failure.error;
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
      } catch (abortError) {
        throw new MultipartUploadError(
          `multipart upload of s3://${Bucket}/${Key} failed (${detail}) and aborting upload ${UploadId} failed too (${(abortError as Error).message}); delete it with aws s3api abort-multipart-upload`,
          error,
        );
      }
      throw new MultipartUploadError(
        `multipart upload of s3://${Bucket}/${Key} failed and was aborted: ${detail}`,
        error,
      );
    }
  }
}
