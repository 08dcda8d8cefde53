/**
 * Launch outcomes as operators see them: the short notification the launcher publishes for each
 * launch decision and the metrics it puts (names in `telemetry.ts`, shared with the init script,
 * the alarms and the dashboard). Pure builders plus one best-effort sender with injected clients; runs
 * inside the serialized launcher closure, so SDK commands are imported by name and errors are
 * plain objects.
 *
 * Nothing here reads job parameters: they may hold secrets, so no message or metric carries them.
 */
import type { CloudWatchClient, MetricDatum } from "@aws-sdk/client-cloudwatch";
import type { SNSClient } from "@aws-sdk/client-sns";
import { cloudWatchSdk, snsSdk } from "./lazySdk";
import { errorCode, errorMessage } from "./errors";
import { isoSeconds } from "./instances";
import type {
  EndedResult,
  FailedResult,
  LaunchedResult,
  LaunchResult,
  SkippedResult,
} from "./launch";
import { formatUsd } from "./prices";
import {
  jobDimensions,
  logsConsoleUrl,
  METRIC_NAMESPACE,
  METRICS,
  notificationSubject,
} from "./telemetry";
import type { JobLaunchSpec, RunRecord } from "./contract";

/** One notification; the subject fits SNS's limits (see {@link notificationSubject}). */
export interface Notification {
  subject: string;
  message: string;
}

/** Where an operator looks next; the launcher's own log group holds its decision lines. */
export interface OutcomeContext {
  spec: JobLaunchSpec;
  /** The launcher's log group name, linked from skipped and failed messages. */
  launcherLogGroup?: string;
}

function subject(spec: JobLaunchSpec, what: string): string {
  return notificationSubject(spec.environment, spec.job, what, spec.region);
}

function identityLine(result: LaunchResult): string {
  return `Job ${result.job}, environment ${result.environment}, region ${result.region}, scheduled ${result.scheduledTime}${result.manual ? " (manual launch)" : ""}.`;
}

function launchedMessage(result: LaunchedResult, ctx: OutcomeContext): Notification {
  const { spec } = ctx;
  const price = result.usdPerHour;
  const hoursToDeadline = spec.maxRuntimeMinutes / 60;
  const cost =
    price === undefined
      ? "No cost estimate: AWS's price of this instance type and market in this region was not found (see the launcher's warnings)."
      : `Estimated ${formatUsd(price)}/h, at most ${formatUsd(price * hoursToDeadline)} by the deadline.`;
  const replaced =
    result.replacedInstanceIds.length > 0
      ? `\nReplaced the earlier run(s) on ${result.replacedInstanceIds.join(", ")}.`
      : "";
  const warnings = result.warnings.map((w) => `\nWarning: ${w}.`).join("");
  return {
    subject: subject(spec, result.warnings.length > 0 ? "launched with a warning" : "launched"),
    message:
      `${result.runId} launched: ${result.instanceType} ${result.purchaseOption} in ${result.availabilityZone} (${result.instanceId}), deadline ${result.deadline}, after ${result.attempts.length} attempt(s).\n` +
      `${identityLine(result)}\n${cost}${replaced}${warnings}\n` +
      `Logs: ${logsConsoleUrl(spec.region, spec.logGroup, result.runId)}`,
  };
}

function skippedMessage(result: SkippedResult, ctx: OutcomeContext): Notification {
  const { spec } = ctx;
  const live = result.liveInstances.find((i) => i.runId !== undefined);
  const logs = live?.runId
    ? `Logs of the running ${live.runId}: ${logsConsoleUrl(spec.region, spec.logGroup, live.runId)}`
    : `Logs: ${logsConsoleUrl(spec.region, spec.logGroup)}`;
  return {
    subject: subject(spec, "skipped"),
    message: `${result.runId} skipped: ${result.reason}.\n${identityLine(result)}\n${logs}`,
  };
}

function failedMessage(result: FailedResult, ctx: OutcomeContext): Notification {
  const { spec } = ctx;
  const attempts = result.attempts
    .slice(0, 5)
    .map((a) => `${a.purchaseOption} ${a.instanceType} ${a.subnetId}: ${a.errorCode ?? a.outcome}`);
  const more = result.attempts.length > 5 ? `; ${result.attempts.length - 5} more` : "";
  const logs = ctx.launcherLogGroup
    ? `Launcher logs: ${logsConsoleUrl(spec.region, ctx.launcherLogGroup)}`
    : `Launcher logs: the launcher's log group in ${spec.region}`;
  return {
    subject: subject(spec, "failed at launch"),
    message:
      `${result.runId} failed at launch: ${result.reason}.\n${identityLine(result)}\n` +
      (attempts.length > 0 ? `Attempts: ${attempts.join("; ")}${more}.\n` : "") +
      logs,
  };
}

/** A decision that is notified: every one but `ended` (its instance, or the reaper, reported it). */
export type NotifiedResult = Exclude<LaunchResult, EndedResult>;

/** The notification of one launch decision. */
export function launchNotification(result: NotifiedResult, ctx: OutcomeContext): Notification {
  switch (result.status) {
    case "launched":
      return launchedMessage(result, ctx);
    case "skipped":
      return skippedMessage(result, ctx);
    case "failed":
      return failedMessage(result, ctx);
  }
}

/** The metrics of one launch decision, all in {@link METRIC_NAMESPACE}. */
export function launchMetricData(result: LaunchResult, timestamp: Date): MetricDatum[] {
  const dimensions = jobDimensions(result.environment, result.region, result.job);
  const count = (name: string, value: number, extra: { Name: string; Value: string }[] = []) => ({
    MetricName: name,
    Dimensions: [...dimensions, ...extra],
    Timestamp: timestamp,
    Value: value,
    Unit: "Count" as const,
  });
  switch (result.status) {
    case "launched":
      return [
        count(METRICS.launched, 1),
        count(METRICS.launches, 1, [
          { Name: "InstanceType", Value: result.instanceType },
          { Name: "PurchaseOption", Value: result.purchaseOption },
        ]),
        count(METRICS.attempts, result.attempts.length),
      ];
    case "skipped":
      return [count(METRICS.skipped, 1)];
    case "failed":
      return [count(METRICS.failed, 1), count(METRICS.attempts, result.attempts.length)];
    case "ended":
      return [];
  }
}

/**
 * The run record of a run that was not launched (`failed` or `skipped`, phase `launch`), with the
 * fields of the records the init script and the reaper write, so `npm run runs` lists every
 * scheduled run. Attempts carry no ClientToken: it is an internal detail.
 */
export function launchRecord(
  result: FailedResult | SkippedResult,
  launcherLogGroup: string | undefined,
  now: Date,
): RunRecord {
  const attempts = result.status === "failed" ? result.attempts : [];
  return {
    runId: result.runId,
    job: result.job,
    environment: result.environment,
    region: result.region,
    status: result.status,
    phase: "launch",
    exitCode: null,
    message: result.reason,
    scheduledTime: result.scheduledTime,
    manual: result.manual,
    attempt: result.attempt,
    startedAt: null,
    endedAt: isoSeconds(now),
    instanceId: null,
    attempts: attempts.map((a) => ({
      purchaseOption: a.purchaseOption,
      instanceType: a.instanceType,
      subnetId: a.subnetId,
      outcome: a.outcome,
      ...(a.errorCode ? { errorCode: a.errorCode } : {}),
      ...(a.message ? { message: a.message } : {}),
    })),
    ...(result.status === "skipped"
      ? { liveRuns: result.liveInstances.map((i) => i.runId ?? i.instanceId) }
      : {}),
    ...(launcherLogGroup ? { logGroup: launcherLogGroup } : {}),
  };
}

/** The clients outcome reporting uses; either may be absent (then that half is skipped). */
export interface OutcomeClients {
  sns?: Pick<SNSClient, "send">;
  cloudwatch?: Pick<CloudWatchClient, "send">;
}

/** What reporting one outcome did; failures never fail the launch. */
export interface OutcomeReport {
  notified: boolean;
  metrics: boolean;
  errors: string[];
}

/**
 * Publishes the notification (when the spec has a topic) and puts the metrics of one launch
 * decision, each best effort: a failure is returned (and logged by the caller), never thrown,
 * because the instance is already running or the decision already made. A run found from an
 * earlier invocation (`existing`) was reported by that invocation and is not reported again;
 * `notify: false` puts the metrics only (a retried invocation whose record already exists).
 */
export async function reportLaunchOutcome(
  clients: OutcomeClients,
  result: LaunchResult,
  ctx: OutcomeContext,
  now: Date,
  notify = true,
): Promise<OutcomeReport> {
  if (result.status === "ended" || (result.status === "launched" && result.existing)) {
    return { notified: false, metrics: false, errors: [] };
  }
  return sendOutcome(
    clients,
    ctx.spec.topicArn,
    notify ? launchNotification(result, ctx) : undefined,
    launchMetricData(result, now),
  );
}

/**
 * Publishes `notification` to `topicArn` (when both are given) and puts `metrics` in
 * {@link METRIC_NAMESPACE}, at once and each best effort: failures are returned, never thrown.
 * The launcher's and the run supervisor's one way to report.
 */
export async function sendOutcome(
  clients: OutcomeClients,
  topicArn: string | undefined,
  notification: Notification | undefined,
  metrics: MetricDatum[],
): Promise<OutcomeReport> {
  const report: OutcomeReport = { notified: false, metrics: false, errors: [] };
  const tasks: Promise<void>[] = [];
  if (clients.sns && topicArn && notification) {
    const { subject: Subject, message: Message } = notification;
    tasks.push(
      clients.sns
        .send(new (snsSdk().PublishCommand)({ TopicArn: topicArn, Subject, Message }))
        .then(
          () => {
            report.notified = true;
          },
          (error: unknown) => {
            report.errors.push(`sns:Publish ${errorCode(error)}: ${errorMessage(error)}`);
          },
        ),
    );
  }
  if (clients.cloudwatch && metrics.length > 0) {
    tasks.push(
      clients.cloudwatch
        .send(
          new (cloudWatchSdk().PutMetricDataCommand)({
            Namespace: METRIC_NAMESPACE,
            MetricData: metrics,
          }),
        )
        .then(
          () => {
            report.metrics = true;
          },
          (error: unknown) => {
            report.errors.push(
              `cloudwatch:PutMetricData ${errorCode(error)}: ${errorMessage(error)}`,
            );
          },
        ),
    );
  }
  await Promise.all(tasks);
  return report;
}

/** A count of 1 (or `value`) of a per-job metric. */
export function jobCount(
  identity: { environment: string; region: string; job: string },
  name: string,
  timestamp: Date,
  value = 1,
): MetricDatum {
  return {
    MetricName: name,
    Dimensions: jobDimensions(identity.environment, identity.region, identity.job),
    Timestamp: timestamp,
    Value: value,
    Unit: "Count",
  };
}
