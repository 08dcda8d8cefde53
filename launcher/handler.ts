/**
 * The launcher Lambda's handler: parse the event, pick the job's spec, call `launchRun`. The
 * `Launcher` component serializes a closure that calls {@link handleLaunchEvent}.
 */
import { InvalidLaunchEventError, LaunchFailedError, UnknownJobError } from "./errors";
import {
  launchRun,
  type EndedResult,
  type FailedResult,
  type LaunchOptions,
  type LaunchedResult,
  type SkippedResult,
} from "./launch";
import { launchRecord, reportLaunchOutcome, type OutcomeClients } from "./outcomes";
import type { Ec2Sender } from "./instances";
import { putRecordOnce, runRecordKey, type S3Sender } from "./runRecord";
import {
  JOB_NAME_PATTERN,
  JOB_NAME_RULE,
  MAX_DEADLINE_MINUTES,
  MAX_RUN_RETRY_ATTEMPTS,
  MIN_DEADLINE_MINUTES,
  PURCHASE_OPTIONS,
  type JobLaunchSpec,
  type LaunchEvent,
  type PurchaseOption,
} from "./contract";

/** The literal Scheduler sends when the context attribute was not substituted. */
const SCHEDULER_PLACEHOLDER = "<aws.scheduler.scheduled-time>";

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** An ISO-8601 time with a zone that is also a real date (no 13th month). */
function isIsoTime(value: string): boolean {
  return ISO_TIME.test(value) && !Number.isNaN(Date.parse(value));
}

const EXAMPLE = `{"job": "pi", "scheduledTime": "2026-11-23T03:00:00Z"}`;

/**
 * Validates a launch event. Throws {@link InvalidLaunchEventError} naming the field, the value
 * and the expected form; unknown extra fields are ignored.
 */
export function parseLaunchEvent(event: unknown): LaunchEvent {
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    throw new InvalidLaunchEventError(
      `launch event: expected an object like ${EXAMPLE}, got ${describeValue(event)}`,
    );
  }
  const { job, scheduledTime, manual, requestedTime, attempt, retry } = event as Record<
    string,
    unknown
  >;
  if (typeof job !== "string") {
    throw new InvalidLaunchEventError(
      `launch event.job: expected the job name as a string, got ${describeValue(job)}; e.g. ${EXAMPLE}`,
    );
  }
  if (!JOB_NAME_PATTERN.test(job)) {
    throw new InvalidLaunchEventError(
      `launch event.job: ${quoted(job)} is not a job name (${JOB_NAME_RULE})`,
    );
  }
  if (typeof scheduledTime !== "string") {
    throw new InvalidLaunchEventError(
      `launch event.scheduledTime: expected an ISO-8601 time string, got ${describeValue(scheduledTime)}; e.g. ${EXAMPLE}`,
    );
  }
  if (scheduledTime === SCHEDULER_PLACEHOLDER) {
    throw new InvalidLaunchEventError(
      `launch event.scheduledTime: got the unsubstituted placeholder ${SCHEDULER_PLACEHOLDER}; the schedule's target input must be a JSON template so that Scheduler fills it in`,
    );
  }
  if (!isIsoTime(scheduledTime)) {
    throw new InvalidLaunchEventError(
      `launch event.scheduledTime: ${quoted(scheduledTime)} is not an ISO-8601 time with a zone, e.g. 2026-11-23T03:00:00Z`,
    );
  }
  if (manual !== undefined && typeof manual !== "boolean") {
    throw new InvalidLaunchEventError(
      `launch event.manual: expected true, false or no field, got ${describeValue(manual)}`,
    );
  }
  if (attempt !== undefined || retry !== undefined) {
    return { job, scheduledTime, ...parseAttempt(attempt, retry) };
  }
  if (requestedTime !== undefined) {
    if (manual !== true) {
      throw new InvalidLaunchEventError(
        `launch event.requestedTime: only a manual launch ("manual": true) may carry it; a scheduled run's deadline counts from its scheduledTime`,
      );
    }
    if (typeof requestedTime !== "string" || !isIsoTime(requestedTime)) {
      throw new InvalidLaunchEventError(
        `launch event.requestedTime: ${typeof requestedTime === "string" ? quoted(requestedTime) : describeValue(requestedTime)} is not an ISO-8601 time with a zone, e.g. 2026-11-23T03:00:00Z`,
      );
    }
    return { job, scheduledTime, manual, requestedTime };
  }
  return manual === undefined ? { job, scheduledTime } : { job, scheduledTime, manual };
}

/** The fields of a later attempt's launch event (the run supervisor's), validated. */
function parseAttempt(
  attempt: unknown,
  retry: unknown,
): Required<Pick<LaunchEvent, "attempt" | "retry">> {
  const last = MAX_RUN_RETRY_ATTEMPTS + 1;
  if (typeof attempt !== "number" || !Number.isInteger(attempt) || attempt < 2 || attempt > last) {
    throw new InvalidLaunchEventError(
      `launch event.attempt: ${describeValue(attempt)} is not a later attempt; use a whole number from 2 to ${last} (attempt 1 is the scheduled launch, which has none)`,
    );
  }
  if (typeof retry !== "object" || retry === null || Array.isArray(retry)) {
    throw new InvalidLaunchEventError(
      `launch event.retry: expected { purchaseOption, notBefore, deadlineMinutes } with attempt ${attempt}, got ${describeValue(retry)}`,
    );
  }
  const { purchaseOption, notBefore, deadlineMinutes } = retry as Record<string, unknown>;
  if (!PURCHASE_OPTIONS.includes(purchaseOption as PurchaseOption)) {
    throw new InvalidLaunchEventError(
      `launch event.retry.purchaseOption: ${describeValue(purchaseOption)} is not one of ${PURCHASE_OPTIONS.join(", ")}`,
    );
  }
  if (typeof notBefore !== "string" || !isIsoTime(notBefore)) {
    throw new InvalidLaunchEventError(
      `launch event.retry.notBefore: ${describeValue(notBefore)} is not an ISO-8601 time with a zone, e.g. 2026-11-23T03:42:00Z`,
    );
  }
  if (
    typeof deadlineMinutes !== "number" ||
    !Number.isInteger(deadlineMinutes) ||
    deadlineMinutes < MIN_DEADLINE_MINUTES ||
    deadlineMinutes > MAX_DEADLINE_MINUTES
  ) {
    throw new InvalidLaunchEventError(
      `launch event.retry.deadlineMinutes: ${describeValue(deadlineMinutes)} must be a whole number of minutes from ${MIN_DEADLINE_MINUTES} to ${MAX_DEADLINE_MINUTES}`,
    );
  }
  return {
    attempt,
    retry: { purchaseOption: purchaseOption as PurchaseOption, notBefore, deadlineMinutes },
  };
}

/** A string for a message, JSON-quoted and cut at 80 characters: an event can hold 256 kB. */
function quoted(value: string): string {
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}

// Not named `describe`: the closure serializer treats a free name that is also a global of the
// serializing process (mocha's `describe`) as that global and does not capture it.
function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value) ?? String(value);
  return `${typeof value} ${text.length > 80 ? `${text.slice(0, 80)}...` : text}`;
}

/** What the handler needs from its environment; the closure supplies these. */
export interface LaunchHandlerDeps {
  ec2: Ec2Sender;
  /** Specs of the jobs deployed in this region, by job name. */
  jobs: Record<string, JobLaunchSpec>;
  now?: () => Date;
  /** The Lambda context's `getRemainingTimeInMillis`. */
  remainingTimeMs?: () => number;
  /** One JSON line per call. Default `console.log`. */
  log?: (line: string) => void;
  /** Waits between retries; tests shorten it. */
  sleep?: LaunchOptions["sleep"];
  /** Publishes each outcome to the job's topic (when its spec has one). */
  sns?: OutcomeClients["sns"];
  /** Puts each outcome's metrics. */
  cloudwatch?: OutcomeClients["cloudwatch"];
  /** The launcher's log group, linked from skipped and failed notifications. */
  launcherLogGroup?: string;
  /** Writes the run record of a run that was not launched, to the spec's bucket. */
  s3?: S3Sender;
}

/** What became of the run record of a run that was not launched. */
type RecordState = "written" | "exists" | "failed" | "none";

/**
 * Writes the record of a `failed` or `skipped` run once (Lambda retries a failed invocation up
 * to twice; the first record is kept). Best effort: a failure is logged, never thrown, so the
 * outcome is still reported and the invocation still fails as it should.
 */
async function recordNotLaunched(
  result: FailedResult | SkippedResult,
  spec: JobLaunchSpec,
  deps: LaunchHandlerDeps,
  log: (line: string) => void,
): Promise<RecordState> {
  const key = runRecordKey(spec.job, result.runId);
  if (!deps.s3 || !key) return "none";
  try {
    const record = launchRecord(result, deps.launcherLogGroup, deps.now?.() ?? new Date());
    return await putRecordOnce(deps.s3, spec.bucket, key, record);
  } catch (error) {
    const { name, message } = error as Error;
    log(
      JSON.stringify({
        level: "warn",
        status: "record-failed",
        runId: result.runId,
        key,
        error: name,
        message,
      }),
    );
    return "failed";
  }
}

/**
 * Handles one launch event. Returns the `launched`, `skipped` or `ended` result; throws
 * {@link InvalidLaunchEventError} or {@link UnknownJobError} for a bad event (after logging it as
 * one JSON line), and {@link LaunchFailedError} when the run could not be launched, so that the
 * invocation counts as failed and Lambda's asynchronous retries, its on-failure destination and
 * the alarms apply. A run that was not launched leaves its run record first (once per run); every
 * new outcome is notified (once per run) and counted (best effort: a failure to report is
 * logged, never thrown).
 */
export async function handleLaunchEvent(
  event: unknown,
  deps: LaunchHandlerDeps,
): Promise<LaunchedResult | SkippedResult | EndedResult> {
  const log = deps.log ?? ((line: string) => console.log(line));
  let parsed: LaunchEvent;
  let spec: JobLaunchSpec;
  try {
    parsed = parseLaunchEvent(event);
    if (!Object.prototype.hasOwnProperty.call(deps.jobs, parsed.job)) {
      const known = Object.keys(deps.jobs).sort().join(", ") || "none";
      throw new UnknownJobError(
        `launch event.job: no job ${JSON.stringify(parsed.job)} in this launcher (deployed jobs: ${known}); check the job name or deploy it to this region`,
      );
    }
    spec = deps.jobs[parsed.job];
  } catch (error) {
    const { name, message } = error as Error;
    log(JSON.stringify({ level: "error", status: "rejected", error: name, message }));
    throw error;
  }

  const result = await launchRun(
    deps.ec2,
    {
      spec,
      scheduledTime: new Date(parsed.scheduledTime),
      manual: parsed.manual,
      ...(parsed.requestedTime ? { requestedTime: new Date(parsed.requestedTime) } : {}),
      ...(parsed.attempt && parsed.retry
        ? {
            attempt: parsed.attempt,
            retry: { ...parsed.retry, notBefore: new Date(parsed.retry.notBefore) },
          }
        : {}),
    },
    { now: deps.now, remainingTimeMs: deps.remainingTimeMs, log, sleep: deps.sleep },
  );
  const record =
    result.status === "failed" || result.status === "skipped"
      ? await recordNotLaunched(result, spec, deps, log)
      : "none";
  const report = await reportLaunchOutcome(
    { sns: deps.sns, cloudwatch: deps.cloudwatch },
    result,
    { spec, launcherLogGroup: deps.launcherLogGroup },
    deps.now?.() ?? new Date(),
    record !== "exists",
  );
  if (report.errors.length > 0) {
    log(
      JSON.stringify({
        level: "warn",
        status: "report-failed",
        runId: result.runId,
        errors: report.errors,
      }),
    );
  }
  if (result.status === "failed") {
    throw new LaunchFailedError(
      `run ${result.runId} of job ${result.job} was not launched: ${result.reason}`,
      result,
    );
  }
  return result;
}
