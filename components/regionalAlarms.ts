/**
 * A region's alarms: the pure plan ({@link regionalAlarms}: which alarms, on which metrics, with
 * which thresholds and missed-run windows) and the {@link RegionalAlarms} component declaring it.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { JobConfig } from "../config";
import { METRIC_NAMESPACE, METRICS } from "../launcher/telemetry";
import { alarmName, jobAlarmKeys, REGION_ALARM_KEYS } from "../lib/resourceNames";
import { ParsedSchedule, schedulePeriodMinutes } from "../lib/scheduleExpression";
import type { RegionContext } from "./regionContext";

/** Minutes added to a missed-run window for boot, image pull and Scheduler's delivery. */
export const MISSED_RUN_SLACK_MINUTES = 15;

/** CloudWatch: period × evaluation periods ≤ 1 day below a one-hour period, ≤ 7 days at or above. */
export const MAX_RANGE_SHORT_PERIOD_SECONDS = 86_400;
export const MAX_RANGE_SECONDS = 604_800;

/** The evaluation range of a missed-run alarm. */
export interface MissedRunWindow {
  /** Longest expected gap between two successes, in minutes. */
  windowMinutes: number;
  periodSeconds: number;
  /** Also the datapoints to alarm: the alarm fires when every period of the range lacks a success. */
  evaluationPeriods: number;
}

/**
 * The longest gap between consecutive runs of a schedule, in minutes. Deterministic (it does
 * not depend on the deploy date, which would churn the alarm): the longest gap in the year after
 * a fixed date, which holds both DST transitions of the zone, so a run that Scheduler skips when
 * clocks go forward (nightly 02:30 in Europe/Paris: 47 hours) or that clocks going back delay
 * (a day of 25 hours) is counted as it happens rather than estimated.
 */
export function longestScheduleGapMinutes(schedule: ParsedSchedule, timezone: string): number {
  if (schedule.kind === "rate") return schedule.everyMinutes;
  return schedulePeriodMinutes(schedule, timezone, new Date(Date.UTC(2026, 0, 5)));
}

/**
 * The missed-run alarm's range: a run is missed when no `RunSucceeded` arrives within the
 * longest gap between runs, plus `maxRuntimeMinutes` (a run reports success when it ends), plus
 * {@link MISSED_RUN_SLACK_MINUTES}. The range is cut into 5-minute periods up to a day, hourly
 * periods up to CloudWatch's 7-day limit; beyond that no alarm can express it (`undefined`).
 */
export function missedRunWindow(
  gapMinutes: number,
  maxRuntimeMinutes: number,
): MissedRunWindow | undefined {
  const windowMinutes = gapMinutes + maxRuntimeMinutes + MISSED_RUN_SLACK_MINUTES;
  const seconds = windowMinutes * 60;
  const periodSeconds = seconds <= MAX_RANGE_SHORT_PERIOD_SECONDS ? 300 : 3600;
  const evaluationPeriods = Math.ceil(seconds / periodSeconds);
  if (evaluationPeriods * periodSeconds > MAX_RANGE_SECONDS) return undefined;
  return { windowMinutes, periodSeconds, evaluationPeriods };
}

/** A metric alarm as plain data; `N` is the type of names (a string, or an Output of one). */
export interface AlarmDefinition<N = string> {
  /** Resource name suffix, unique within the region. */
  key: string;
  description: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string | N>;
  statistic: "Sum" | "Maximum";
  periodSeconds: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  threshold: number;
  comparisonOperator: "GreaterThanOrEqualToThreshold" | "LessThanThreshold";
  treatMissingData: "breaching" | "notBreaching";
  /** False for a disabled region's missed-run alarm: no run is due, so silence is expected. */
  actionsEnabled: boolean;
}

/** One metric a metric-math alarm reads: `m1`, `m2`, … in its expression. */
export interface AlarmMetric<N = string> {
  id: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string | N>;
  statistic: "Maximum" | "Sum";
  periodSeconds: number;
}

/**
 * An alarm on a metric-math expression of several metrics (PutMetricAlarm's `Metrics`): the
 * alarm watches the expression, the one query with `ReturnData` true; the namespace, metric,
 * dimensions, period and statistic go in the queries, never beside them
 * (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudwatch/aws.sdk.kotlin.services.cloudwatch.model/-put-metric-alarm-request/metrics.html,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
 */
export interface MathAlarmDefinition<N = string> {
  key: string;
  description: string;
  metrics: AlarmMetric<N>[];
  /** The watched expression: its id, a label and the metric math. */
  expression: { id: string; label: string; expression: string };
  evaluationPeriods: number;
  datapointsToAlarm: number;
  threshold: number;
  comparisonOperator: "GreaterThanThreshold";
  treatMissingData: "notBreaching";
  actionsEnabled: boolean;
}

/** The queries of a job's metrics in a metric-math alarm: `metric(id, name)` of one statistic and period. */
function jobMetrics<N>(
  environment: string,
  region: string,
  job: string,
  statistic: AlarmMetric["statistic"],
  periodSeconds: number,
): (id: string, metricName: string) => AlarmMetric<N> {
  const dimensions = { Environment: environment, Region: region, Job: job };
  return (id, metricName) => ({
    id,
    namespace: METRIC_NAMESPACE,
    metricName,
    dimensions,
    statistic,
    periodSeconds,
  });
}

/**
 * A job's memory alarm: a run's peak memory above `memoryAlarmPercent` of its instance, or an OOM
 * kill, which counts as 100 % (so the threshold is at most 99). `FILL(…, 0)`: a run with only
 * one of the two figures (an OOM kill before the first sample) still counts.
 */
export function memoryAlarm<N>(
  environment: string,
  region: string,
  job: Pick<JobConfig, "name" | "memoryAlarmPercent">,
): MathAlarmDefinition<N> {
  const metric = jobMetrics<N>(environment, region, job.name, "Maximum", 300);
  return {
    key: jobAlarmKeys(job.name).memory,
    description: `transient-jobs ${environment} ${region}: a run of job ${job.name} used more than ${job.memoryAlarmPercent}% of its instance's memory, or the kernel's OOM killer ended its container. \`npm run runs -- show <run id>\` has the figures; \`npm run runs -- --job ${job.name}\` advises an instance type.`,
    metrics: [metric("peak", METRICS.peakMemoryPercent), metric("oom", METRICS.oomKilled)],
    expression: {
      id: "memory",
      label: "peak memory % (an OOM kill counts as 100)",
      expression: "MAX([FILL(peak, 0), FILL(oom, 0) * 100])",
    },
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    threshold: job.memoryAlarmPercent,
    comparisonOperator: "GreaterThanThreshold",
    treatMissingData: "notBreaching",
    actionsEnabled: true,
  };
}

/** The window of a job's interruptions alarm: one day, one period (PutMetricAlarm allows 7). */
export const INTERRUPTION_WINDOW_SECONDS = 86_400;

/**
 * A job's interruptions alarm: in one day, more than `interruptionAlarmThreshold` of its attempts
 * were interrupted (a spot interruption or a scheduled stop) or lost (the instance ended without
 * a record), or more than that many were retried, whichever count is higher: attempts the job
 * did not finish on its own instance. The run supervisor puts the three metrics, one per attempt;
 * `FILL(…, 0)` lets a day with only one of them count.
 * Metric math: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
 * (`FILL`, `MAX` of an array, `+` of two time series).
 */
export function interruptionAlarm<N>(
  environment: string,
  region: string,
  job: Pick<JobConfig, "name" | "interruptionAlarmThreshold">,
): MathAlarmDefinition<N> {
  const metric = jobMetrics<N>(environment, region, job.name, "Sum", INTERRUPTION_WINDOW_SECONDS);
  return {
    key: jobAlarmKeys(job.name).interruptions,
    description: `transient-jobs ${environment} ${region}: in one day, more than ${job.interruptionAlarmThreshold} attempt(s) of job ${job.name} were interrupted (spot) or lost (the instance ended without a record), or were retried. \`npm run runs -- --job ${job.name}\` lists the runs with their attempts; \`npm run runs -- show <run id>\` tells each attempt's story.`,
    metrics: [
      metric("interrupted", METRICS.interrupted),
      metric("lost", METRICS.lost),
      metric("retried", METRICS.retried),
    ],
    expression: {
      id: "attempts",
      label: "attempts interrupted or lost, or retried (the higher)",
      expression: "MAX([FILL(interrupted, 0) + FILL(lost, 0), FILL(retried, 0)])",
    },
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    threshold: job.interruptionAlarmThreshold,
    comparisonOperator: "GreaterThanThreshold",
    treatMissingData: "notBreaching",
    actionsEnabled: true,
  };
}

/** What the alarms of one region watch. */
export interface RegionalAlarmInputs<N = string> {
  environment: string;
  region: string;
  /** `false`: the region's schedules are off; its missed-run alarms stay quiet. */
  enabled: boolean;
  launcherFunctionName: N;
  /** The launcher's on-failure destination: launch events whose every invocation failed. */
  launcherFailureQueueName: N;
  jobs: Array<{ job: JobConfig; deadLetterQueueName: N }>;
}

/** Why a job gets no missed-run alarm, if it does not. */
export interface RegionalAlarmPlan<N = string> {
  alarms: AlarmDefinition<N>[];
  /** The alarms on metric math: per job, {@link memoryAlarm} and {@link interruptionAlarm}. */
  mathAlarms: MathAlarmDefinition<N>[];
  /** One line per job without a missed-run alarm, naming the reason. */
  warnings: string[];
}

const countAlarm = {
  statistic: "Sum",
  periodSeconds: 300,
  evaluationPeriods: 1,
  datapointsToAlarm: 1,
  threshold: 1,
  comparisonOperator: "GreaterThanOrEqualToThreshold",
  treatMissingData: "notBreaching",
  actionsEnabled: true,
} as const;

/**
 * Every alarm of one region: launcher errors, the reaper's over-deadline terminations, and per
 * job a failed run, a missed run, a non-empty dead-letter queue, its memory and its
 * interruptions.
 */
export function regionalAlarms<N>(inputs: RegionalAlarmInputs<N>): RegionalAlarmPlan<N> {
  const { environment, region } = inputs;
  const where = `${environment} ${region}`;
  const alarms: AlarmDefinition<N>[] = [
    {
      ...countAlarm,
      key: REGION_ALARM_KEYS.launcherErrors,
      description: `transient-jobs ${where}: the launcher Lambda failed (a run could not be launched, or a bad event). Look at the launcher's log group; the schedules retry, then dead-letter.`,
      namespace: "AWS/Lambda",
      metricName: "Errors",
      dimensions: { FunctionName: inputs.launcherFunctionName },
    },
    {
      ...countAlarm,
      key: REGION_ALARM_KEYS.launcherFailedEvents,
      description: `transient-jobs ${where}: a launch event failed every invocation of the launcher (Lambda's retries included) and is kept in the launcher's failure queue. The run's record (\`npm run runs\`, status failed, phase launch) and the message in the queue give the reason.`,
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: inputs.launcherFailureQueueName },
      statistic: "Maximum",
    },
    {
      ...countAlarm,
      key: REGION_ALARM_KEYS.overDeadline,
      description: `transient-jobs ${where}: the reaper terminated an instance still alive past its deadline (its watchdog did not power it off). Its run record says which run.`,
      namespace: METRIC_NAMESPACE,
      metricName: METRICS.reaped,
      dimensions: { Environment: environment, Region: region },
    },
  ];
  const warnings: string[] = [];
  const mathAlarms = inputs.jobs.flatMap(({ job }) => [
    memoryAlarm<N>(environment, region, job),
    interruptionAlarm<N>(environment, region, job),
  ]);
  for (const { job, deadLetterQueueName } of inputs.jobs) {
    const jobDims = { Environment: environment, Region: region, Job: job.name };
    alarms.push({
      ...countAlarm,
      key: jobAlarmKeys(job.name).failed,
      description: `transient-jobs ${where}: a run of job ${job.name} failed (at launch, pulling, by its exit code, or at its deadline). The notification and \`npm run runs -- show <run id>\` say where.`,
      namespace: METRIC_NAMESPACE,
      metricName: METRICS.failed,
      dimensions: jobDims,
    });
    alarms.push({
      ...countAlarm,
      key: jobAlarmKeys(job.name).deadLetters,
      description: `transient-jobs ${where}: Scheduler gave up invoking the launcher for job ${job.name} and dead-lettered the event. Read the message in the queue for the error.`,
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: deadLetterQueueName },
      statistic: "Maximum",
    });
    const gap = longestScheduleGapMinutes(job.parsedSchedule, job.timezone);
    const window = missedRunWindow(gap, job.maxRuntimeMinutes);
    if (!window) {
      warnings.push(
        `job ${job.name} in ${region}: no missed-run alarm: ${gap} minutes between runs plus ${job.maxRuntimeMinutes} minutes of runtime exceed CloudWatch's 7-day alarm range; its failed-run and dead-letter alarms still apply`,
      );
      continue;
    }
    alarms.push({
      key: jobAlarmKeys(job.name).missedRun,
      description: `transient-jobs ${where}: job ${job.name} has not succeeded for ${window.windowMinutes} minutes (its longest gap between runs, ${gap} min, plus its maxRuntimeMinutes, ${job.maxRuntimeMinutes}, plus ${MISSED_RUN_SLACK_MINUTES}). Check \`npm run runs\` for failed or skipped runs and the dead-letter queue.`,
      namespace: METRIC_NAMESPACE,
      metricName: METRICS.succeeded,
      dimensions: jobDims,
      statistic: "Sum",
      periodSeconds: window.periodSeconds,
      evaluationPeriods: window.evaluationPeriods,
      datapointsToAlarm: window.evaluationPeriods,
      threshold: 1,
      comparisonOperator: "LessThanThreshold",
      treatMissingData: "breaching",
      actionsEnabled: inputs.enabled,
    });
  }
  return { alarms, mathAlarms, warnings };
}

/** Arguments of {@link RegionalAlarms}. */
export interface RegionalAlarmsArgs extends Omit<
  RegionalAlarmInputs<pulumi.Input<string>>,
  "environment" | "region"
> {
  /** The region: alarms (and their recovery) are sent to its topic. */
  context: Pick<RegionContext, "environment" | "region" | "topicArn">;
}

/**
 * A region's alarms, each sending its state changes to the region's topic: see
 * {@link regionalAlarms}. Pass the region's provider through the parent.
 */
export class RegionalAlarms extends pulumi.ComponentResource {
  /** Alarm names by definition key (`launcher-errors`, `<job>-missed-run`, …). */
  readonly alarmNames: Record<string, pulumi.Output<string>>;

  constructor(name: string, args: RegionalAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:RegionalAlarms", name, {}, opts);
    const { context, ...watched } = args;
    const plan = regionalAlarms({
      ...watched,
      environment: context.environment,
      region: context.region,
    });
    for (const warning of plan.warnings) pulumi.log.warn(warning, this);
    this.alarmNames = {};
    // What every alarm shares: when it fires and where it tells.
    const declare = (
      alarm: AlarmDefinition<pulumi.Input<string>> | MathAlarmDefinition<pulumi.Input<string>>,
      watched: Pick<
        aws.cloudwatch.MetricAlarmArgs,
        "namespace" | "metricName" | "dimensions" | "statistic" | "period" | "metricQueries"
      >,
    ) => {
      const resource = new aws.cloudwatch.MetricAlarm(
        alarmName(name, alarm.key),
        {
          alarmDescription: alarm.description,
          ...watched,
          evaluationPeriods: alarm.evaluationPeriods,
          datapointsToAlarm: alarm.datapointsToAlarm,
          threshold: alarm.threshold,
          comparisonOperator: alarm.comparisonOperator,
          treatMissingData: alarm.treatMissingData,
          actionsEnabled: alarm.actionsEnabled,
          alarmActions: [context.topicArn],
          okActions: [context.topicArn],
        },
        { parent: this },
      );
      this.alarmNames[alarm.key] = resource.name;
    };
    for (const alarm of plan.alarms) {
      declare(alarm, {
        namespace: alarm.namespace,
        metricName: alarm.metricName,
        dimensions: alarm.dimensions,
        statistic: alarm.statistic,
        period: alarm.periodSeconds,
      });
    }
    for (const alarm of plan.mathAlarms) {
      declare(alarm, {
        metricQueries: [
          ...alarm.metrics.map((m) => ({
            id: m.id,
            returnData: false,
            metric: {
              namespace: m.namespace,
              metricName: m.metricName,
              dimensions: m.dimensions,
              stat: m.statistic,
              period: m.periodSeconds,
            },
          })),
          { ...alarm.expression, returnData: true },
        ],
      });
    }
    this.registerOutputs({ alarmNames: this.alarmNames });
  }
}

/** The queue name of an SQS queue ARN (`arn:aws:sqs:<region>:<account>:<name>`). */
export function queueNameFromArn(arn: string): string {
  return arn.slice(arn.lastIndexOf(":") + 1);
}
