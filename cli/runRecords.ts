/**
 * Run records as the tools read them: the JSON each run leaves in its bucket at
 * `RUN_RECORDS.recordKey` (launcher/contract.ts; its final outcome, written when its last
 * attempt ends, or by the reaper for a run it terminated), and each attempt's record at
 * `RUN_RECORDS.attemptKey`, listed and read with an injected S3 client.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { estimateRunCost } from "../launcher/prices";
import { RUN_ID_PATTERN, RUN_RECORDS, type RunRecord } from "../launcher/contract";
import { UsageError } from "./args";
import { s3Sdk } from "./sdk";

export type { RunRecord };

/** A record with where it was found and the figures the tools show. */
export interface FoundRun {
  region: string;
  bucket: string;
  key: string;
  record: RunRecord;
  durationSeconds?: number;
  /** The record's estimate, or the tools' own when the record has none (`costEstimatedHere`). */
  costUsd?: number;
  costEstimatedHere: boolean;
}

/** Key of a run's record. */
export function recordKey(job: string, runId: string): string {
  return RUN_RECORDS.recordKey(RUN_RECORDS.jobPrefix(job), runId);
}

/** The job and scheduled minute of a run id (`pi-20261123T0300Z`); throws a usage error. */
export function parseRunId(runId: string): { job: string; time: Date } {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new UsageError(
      `<run-id>: ${JSON.stringify(runId)} is not a run id; run ids look like pi-20261123T0300Z (job name, "-", UTC minute), as printed by npm run launch and npm run runs`,
    );
  }
  const match = /^(.*)-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z$/.exec(runId)!;
  const [, job, y, mo, d, h, mi] = match;
  return { job, time: new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi)) };
}

/** What a job's runs prefix holds (see {@link listJobRuns}). */
export interface JobRunListing {
  /** Run ids with a run record (`runs/<id>.json`): finished runs. */
  recorded: string[];
  /** Run ids with attempt records (`runs/<id>/attempt-<n>.json`): every run with retries. */
  withAttempts: string[];
}

/**
 * Every listed key of a prefix, following the continuation token; with a delimiter, the common
 * prefixes too. https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
 */
async function listAll(
  s3: Pick<S3Client, "send">,
  input: { Bucket: string; Prefix: string; Delimiter?: string },
): Promise<{ keys: string[]; prefixes: string[] }> {
  const keys: string[] = [];
  const prefixes: string[] = [];
  let token: string | undefined;
  do {
    const page =
      (await s3.send(
        new (s3Sdk().ListObjectsV2Command)({
          ...input,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      )) ?? {};
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    for (const common of page.CommonPrefixes ?? []) if (common.Prefix) prefixes.push(common.Prefix);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { keys, prefixes };
}

/**
 * The runs of `job` in `bucket`, in one listing of its runs prefix with Delimiter "/": a run's
 * attempt records, under `runs/<id>/`, roll up into one common prefix per run instead of coming
 * back as keys ("rolled-up keys are not returned elsewhere in the response";
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html#API_ListObjectsV2_RequestSyntax),
 * so a run with ten attempts costs the listing one entry, and none is taken for a run record.
 */
export async function listJobRuns(
  s3: Pick<S3Client, "send">,
  bucket: string,
  job: string,
): Promise<JobRunListing> {
  const prefix = RUN_RECORDS.runsPrefix(RUN_RECORDS.jobPrefix(job));
  const { keys, prefixes } = await listAll(s3, { Bucket: bucket, Prefix: prefix, Delimiter: "/" });
  const ids = (names: string[], suffix: RegExp) =>
    names
      .map((name) => name.slice(prefix.length).replace(suffix, ""))
      .filter((id) => RUN_ID_PATTERN.test(id));
  return {
    recorded: ids(
      keys.filter((k) => k.endsWith(".json")),
      /\.json$/,
    ),
    withAttempts: ids(prefixes, /\/$/),
  };
}

function isNotFound(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === "NoSuchKey" || name === "NotFound" || $metadata?.httpStatusCode === 404;
}

/** The object at `key` as a record, or undefined when there is none. */
async function readRecordAt(
  s3: Pick<S3Client, "send">,
  bucket: string,
  key: string,
  fallback: Pick<RunRecord, "runId" | "job">,
): Promise<RunRecord | undefined> {
  let text: string;
  try {
    const object = await s3.send(new (s3Sdk().GetObjectCommand)({ Bucket: bucket, Key: key }));
    text = (await object.Body?.transformToString()) ?? "";
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as RunRecord;
  } catch {
    return { ...fallback, status: "unreadable", message: `s3://${bucket}/${key} is not JSON` };
  }
}

/** The record of `runId` in `bucket`, or undefined when the run has not written one. */
export async function readRecord(
  s3: Pick<S3Client, "send">,
  region: string,
  bucket: string,
  runId: string,
): Promise<FoundRun | undefined> {
  const { job } = parseRunId(runId);
  const key = recordKey(job, runId);
  const record = await readRecordAt(s3, bucket, key, { runId, job });
  return record && withFigures({ region, bucket, key, record });
}

/** One attempt's record as found in the bucket. */
export interface FoundAttempt {
  attempt: number;
  key: string;
  record: RunRecord;
}

/**
 * The attempt records of `runId` in `bucket` (`RUN_RECORDS.attemptKey`), oldest attempt first;
 * none for a run that had no attempt record written yet.
 */
export async function readAttemptRecords(
  s3: Pick<S3Client, "send">,
  bucket: string,
  runId: string,
): Promise<FoundAttempt[]> {
  const { job } = parseRunId(runId);
  const prefix = RUN_RECORDS.attemptsPrefix(RUN_RECORDS.jobPrefix(job), runId);
  const { keys } = await listAll(s3, { Bucket: bucket, Prefix: prefix });
  const numbered = keys
    .map((key) => ({ key, match: /^attempt-([1-9]\d{0,2})\.json$/.exec(key.slice(prefix.length)) }))
    .filter((k): k is { key: string; match: RegExpExecArray } => k.match !== null)
    .map(({ key, match }) => ({ key, attempt: Number(match[1]) }))
    .sort((a, b) => a.attempt - b.attempt);
  const found = await mapLimited(numbered, 8, async ({ key, attempt }) => {
    const record = await readRecordAt(s3, bucket, key, { runId, job });
    return record && { attempt, key, record };
  });
  return found.filter((f): f is FoundAttempt => f !== undefined);
}

function seconds(from?: string | null, to?: string | null): number | undefined {
  if (!from || !to) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms >= 0 ? Math.round(ms / 1000) : undefined;
}

/**
 * Adds the duration and cost. A record without an estimate (the reaper's) gets one here from its
 * times when it carries its prices (`instanceUsdPerHour`, `volumeUsdPerHour`); otherwise it has
 * none (`n/a`, counted as unpriced): prices are AWS's, looked up when a run launches, never a
 * table kept by the tools.
 */
export function withFigures(
  found: Omit<FoundRun, "costEstimatedHere" | "durationSeconds" | "costUsd">,
): FoundRun {
  const { record } = found;
  const durationSeconds =
    typeof record.durationSeconds === "number"
      ? record.durationSeconds
      : seconds(record.startedAt, record.endedAt);
  if (typeof record.estimatedCostUsd === "number") {
    return {
      ...found,
      durationSeconds,
      costUsd: record.estimatedCostUsd,
      costEstimatedHere: false,
    };
  }
  const costUsd =
    durationSeconds !== undefined
      ? estimateRunCost({
          instanceUsdPerHour: record.instanceUsdPerHour ?? undefined,
          volumeUsdPerHour: record.volumeUsdPerHour ?? undefined,
          durationSeconds,
        })
      : undefined;
  return { ...found, durationSeconds, costUsd, costEstimatedHere: costUsd !== undefined };
}

/** Runs `task` over `items`, at most `limit` at a time, results in order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
