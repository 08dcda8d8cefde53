/**
 * The launcher Lambda's handler: parse the event, pick the job's spec, call `launchRun`. The
 * `Launcher` component serializes a closure that calls {@link handleLaunchEvent}.
 */
import { InvalidLaunchEventError, LaunchFailedError, UnknownJobError } from "./errors";
import {
  launchRun,
  type Ec2Sender,
  type LaunchOptions,
  type LaunchedResult,
  type SkippedResult,
} from "./launch";
import { reportLaunchOutcome, type OutcomeClients } from "./outcomes";
import { JOB_NAME_PATTERN } from "./runId";
import type { JobLaunchSpec, LaunchEvent } from "./types";

/** The literal Scheduler sends when the context attribute was not substituted. */
const SCHEDULER_PLACEHOLDER = "<aws.scheduler.scheduled-time>";

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

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
  const { job, scheduledTime, manual } = event as Record<string, unknown>;
  if (typeof job !== "string") {
    throw new InvalidLaunchEventError(
      `launch event.job: expected the job name as a string, got ${describeValue(job)}; e.g. ${EXAMPLE}`,
    );
  }
  if (!JOB_NAME_PATTERN.test(job)) {
    throw new InvalidLaunchEventError(
      `launch event.job: ${quoted(job)} is not a job name (1-63 lower-case letters, digits and hyphens)`,
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
  if (!ISO_TIME.test(scheduledTime) || Number.isNaN(Date.parse(scheduledTime))) {
    throw new InvalidLaunchEventError(
      `launch event.scheduledTime: ${quoted(scheduledTime)} is not an ISO-8601 time with a zone, e.g. 2026-11-23T03:00:00Z`,
    );
  }
  if (manual !== undefined && typeof manual !== "boolean") {
    throw new InvalidLaunchEventError(
      `launch event.manual: expected true, false or no field, got ${describeValue(manual)}`,
    );
  }
  return manual === undefined ? { job, scheduledTime } : { job, scheduledTime, manual };
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
}

/**
 * Handles one launch event. Returns the `launched` or `skipped` result; throws
 * {@link InvalidLaunchEventError} or {@link UnknownJobError} for a bad event (after logging it as
 * one JSON line), and {@link LaunchFailedError} when the run could not be launched, so that the
 * invocation counts as failed and asynchronous retries and alarms apply. Every new outcome is
 * notified and counted first (best effort: a failure to report is logged, never thrown).
 */
export async function handleLaunchEvent(
  event: unknown,
  deps: LaunchHandlerDeps,
): Promise<LaunchedResult | SkippedResult> {
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
    { spec, scheduledTime: new Date(parsed.scheduledTime), manual: parsed.manual },
    { now: deps.now, remainingTimeMs: deps.remainingTimeMs, log, sleep: deps.sleep },
  );
  const report = await reportLaunchOutcome(
    { sns: deps.sns, cloudwatch: deps.cloudwatch },
    result,
    { spec, launcherLogGroup: deps.launcherLogGroup },
    deps.now?.() ?? new Date(),
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
