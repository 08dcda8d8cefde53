/**
 * Names and addresses shared by everything that reports or reads run outcomes: the launcher, the
 * init script, the alarms, the dashboard and the CLIs. Plain data, no SDK: safe to import from
 * the init script renderer and the Pulumi program alike.
 */

/** CloudWatch namespace of every metric of the project (the reaper's `METRIC_NAMESPACE` too). */
export const METRIC_NAMESPACE = "TransientJobs";

/** Metric names. Per-job metrics carry the dimensions of {@link jobDimensions}. */
export const METRICS = {
  /** 1 per run launched (launcher). */
  launched: "RunLaunched",
  /** 1 per run skipped by the concurrency policy (launcher). */
  skipped: "RunSkipped",
  /**
   * 1 per run whose job exited 0, once per run whatever its attempts (run supervisor, when it
   * writes the run's final record): what the missed-run alarm waits for.
   */
  succeeded: "RunSucceeded",
  /** 1 per failed run, once: at launch (launcher) or at its last attempt's end (run supervisor). */
  failed: "RunFailed",
  /** Seconds from the init script's start to its end (init script). */
  duration: "RunDurationSeconds",
  /** Estimated USD of a finished run (init script). */
  cost: "RunEstimatedCostUsd",
  /** 1 per instance launched, with InstanceType and PurchaseOption dimensions too (launcher). */
  launches: "Launches",
  /** RunInstances calls one launch took, capacity fallbacks and retries included (launcher). */
  attempts: "LaunchAttempts",
  /** Highest sampled memory use of a run's container, % of the instance's memory (init script). */
  peakMemoryPercent: "RunPeakMemoryPercent",
  /** Mean CPU of a run's container, % of all the instance's vCPUs (init script). */
  meanCpuPercent: "RunMeanCpuPercent",
  /** 1 when the kernel's OOM killer ended a process of the run's container, else 0 (init script). */
  oomKilled: "RunOomKilled",
  /** Billed seconds of an attempt outside its container: boot to record, minus the container's run (init script). */
  overheadSeconds: "RunOverheadSeconds",
  /** Seconds from the scheduled time to the container's start, per attempt (init script). */
  startLatencySeconds: "RunStartLatencySeconds",
  /** 1 per attempt ended by a spot interruption or a scheduled stop (run supervisor). */
  interrupted: "AttemptInterrupted",
  /** 1 per attempt whose instance ended without a record (run supervisor). */
  lost: "AttemptLost",
  /** 1 per next attempt of a run started by its retry policy (run supervisor). */
  retried: "AttemptRetried",
  /** Instances terminated past their deadline; dimensions Environment and Region (reaper). */
  reaped: "InstancesReaped",
} as const;

/** The dimensions of every per-job metric, in this order. */
export function jobDimensions(
  environment: string,
  region: string,
  job: string,
): { Name: string; Value: string }[] {
  return [
    { Name: "Environment", Value: environment },
    { Name: "Region", Value: region },
    { Name: "Job", Value: job },
  ];
}

/**
 * The CloudWatch console address of a log group, or of one stream in it. The console's fragment
 * router wants each segment URI-encoded twice, with `$` in place of `%` (so `/` is `$252F`).
 */
export function logsConsoleUrl(region: string, logGroup: string, stream?: string): string {
  const encode = (s: string) => encodeURIComponent(encodeURIComponent(s)).replace(/%/g, "$");
  const group = `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${encode(logGroup)}`;
  return stream === undefined ? group : `${group}/log-events/${encode(stream)}`;
}

/**
 * Longest SNS subject, in characters. Publish's `Subject` constraints: "no line breaks or control
 * characters, and less than 100 characters long" (so 99, which also meets the "at most 100" of
 * other pages of the same docs).
 * https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
 * https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sns/aws.sdk.kotlin.services.sns.model/-publish-request/subject.html
 */
export const SNS_SUBJECT_MAX_CHARS = 99;

/**
 * The subject of every notification of the launcher and the init script,
 * `[transient-jobs <environment>] <job> <what> in <region>`, made fit for SNS: characters outside
 * printable ASCII become `?`, and a subject too long loses the end of the environment name first
 * (marked `~`), so that the job, the outcome and the region survive; only then is it cut.
 */
export function notificationSubject(
  environment: string,
  job: string,
  what: string,
  region: string,
): string {
  const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, "?");
  const tail = printable(`] ${job} ${what} in ${region}`);
  let env = printable(environment);
  const room = SNS_SUBJECT_MAX_CHARS - "[transient-jobs ".length - tail.length;
  if (env.length > room) env = room > 1 ? `${env.slice(0, room - 1)}~` : "~";
  return `[transient-jobs ${env}${tail}`.slice(0, SNS_SUBJECT_MAX_CHARS);
}
