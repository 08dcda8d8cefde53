/**
 * Run records as their writers share them: the key every record of a run is written under (the
 * layout is `RUN_RECORDS` in contract.ts), and a write that happens at most once per run. Runs inside the serialized Lambda closures (launcher
 * and reaper), so SDK commands are imported by name.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { s3Sdk } from "./lazySdk";
import { errorCode } from "./errors";
import { JOB_NAME_PATTERN, RUN_ID_PATTERN, RUN_RECORDS, type RunRecord } from "./contract";

/** Anything that sends S3 commands: an `S3Client`, or a mock of one. */
export type S3Sender = Pick<S3Client, "send">;

/**
 * S3 key of a run's record; undefined when the values do not name a valid run of that job, so
 * that no tag or event value can steer the key elsewhere.
 */
export function runRecordKey(
  job: string | undefined,
  runId: string | undefined,
): string | undefined {
  if (job === undefined || runId === undefined) return undefined;
  if (!JOB_NAME_PATTERN.test(job) || !RUN_ID_PATTERN.test(runId)) return undefined;
  if (!runId.startsWith(`${job}-`)) return undefined;
  return RUN_RECORDS.recordKey(RUN_RECORDS.jobPrefix(job), runId);
}

/** S3's answer to a conditional write whose condition failed (HTTP 412). */
export function isPreconditionFailed(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return errorCode(error) === "PreconditionFailed" || status === 412;
}

/**
 * Writes a record unless one exists: `If-None-Match: *` makes S3 refuse the write with 412 when
 * the key exists (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html),
 * so a retried invocation, a concurrent reaper pass or a run that wrote its own record keeps the
 * first record. Other errors propagate.
 */
export async function putRecordOnce(
  s3: S3Sender,
  bucket: string,
  key: string,
  record: RunRecord,
): Promise<"written" | "exists"> {
  try {
    await s3.send(
      new (s3Sdk().PutObjectCommand)({
        Bucket: bucket,
        Key: key,
        Body: `${JSON.stringify(record)}\n`,
        ContentType: "application/json",
        IfNoneMatch: "*",
      }),
    );
    return "written";
  } catch (error) {
    if (isPreconditionFailed(error)) return "exists";
    throw error;
  }
}
