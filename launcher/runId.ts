/**
 * Run ids and EC2 ClientTokens. Both are derived only from values that are the same for every
 * retried invocation of one scheduled run, so a retry finds (or re-creates idempotently) the same
 * instance instead of starting a second one.
 */
import { createHash } from "node:crypto";
import { JOB_NAME_PATTERN, JOB_NAME_RULE } from "./contract";
import { InvalidLaunchSpecError } from "./errors";

/** Maximum length of an EC2 ClientToken. */
export const CLIENT_TOKEN_MAX_LENGTH = 64;

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/**
 * The run id of one run of `job` scheduled at `scheduledTime`: `<job>-<yyyymmdd>T<hhmm>Z` (UTC).
 * Seconds are dropped: schedules fire at most once a minute and manual launches are truncated to
 * the minute, so two runs of one job never share a minute. The result is safe as an S3 key
 * segment, a tag value, a log stream name and a shell word.
 */
export function runIdFor(job: string, scheduledTime: Date): string {
  if (!JOB_NAME_PATTERN.test(job)) {
    throw new InvalidLaunchSpecError(
      `job: ${JSON.stringify(job)} is not a valid job name; use ${JOB_NAME_RULE}`,
    );
  }
  const time = scheduledTime.getTime();
  if (Number.isNaN(time)) {
    throw new InvalidLaunchSpecError(`scheduledTime: not a valid date for job ${job}`);
  }
  const d = scheduledTime;
  const stamp =
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}Z`;
  return `${job}-${stamp}`;
}

/** The parameters one launch attempt is made with; each combination gets its own ClientToken. */
export interface ClientTokenInput {
  environment: string;
  launchTemplateId: string;
  runId: string;
  purchaseOption: "spot" | "on-demand";
  instanceType: string;
  subnetId: string;
  /** The attempt of the run (from 1): each attempt is a new launch. Default 1. */
  attempt?: number;
}

/**
 * The ClientToken of one launch attempt: `tj-` and 48 hex digits of a SHA-256 over the stack's
 * launch template, the run, the run's attempt number and the launch's instance type, subnet and
 * purchase option: 51 ASCII characters, within EC2's 64
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
 *
 * One token per attempt, because EC2 rejects a reused token with other parameters
 * (`IdempotentParameterMismatch`); the same attempt retried reuses its token, so a throttled or
 * timed-out request that did launch returns that instance. The environment and launch template
 * are included because tokens are scoped to the account and region, which stacks may share. The
 * attempt number is included so that a repeated event for one attempt of a run finds that
 * attempt's instance, while the run's next attempt (started by the run supervisor) is a new launch.
 */
export function clientTokenFor(input: ClientTokenInput): string {
  const material = [
    input.environment,
    input.launchTemplateId,
    input.runId,
    input.purchaseOption,
    input.instanceType,
    input.subnetId,
    `attempt ${input.attempt ?? 1}`,
  ].join("\n");
  return `tj-${createHash("sha256").update(material).digest("hex").slice(0, 48)}`;
}
