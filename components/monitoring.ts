import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { JobConfig } from "../config";
import { METRIC_NAMESPACE, METRICS } from "../launcher/telemetry";
import {
  alarmName,
  dashboardName,
  jobAlarmKeys,
  jobsDashboardNames,
  REGION_ALARM_KEYS,
} from "../lib/resourceNames";
import { ParsedSchedule, schedulePeriodMinutes } from "../lib/scheduleExpression";

/** The environment's dashboard name; see {@link dashboardName} in lib/resourceNames.ts. */
export { dashboardName };

// ---------------------------------------------------------------------------------------------
// Alarm definitions (pure)
// ---------------------------------------------------------------------------------------------

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
 * job a failed run, a missed run and a non-empty dead-letter queue.
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
  return { alarms, warnings };
}

// ---------------------------------------------------------------------------------------------
// Dashboard body (pure)
// ---------------------------------------------------------------------------------------------

/** One region's part of the dashboard. */
export interface DashboardRegion {
  region: string;
  launcherFunctionName: string;
  jobs: Array<{ job: string; deadLetterQueueName: string }>;
}

type MetricLine = (string | Record<string, unknown>)[];

interface Widget {
  type: "metric" | "text";
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

/** The name of an environment's dashboard (dashboards are global to the account). */

/**
 * The dashboard of one environment, all regions: per job a row with runs per status, run
 * duration, launches by instance type and purchase option, launch attempts and estimated cost;
 * then per region the launcher's invocations and errors, dead letters and reaped instances.
 */
export function dashboardBody(environment: string, regions: DashboardRegion[]): string {
  const widgets: Widget[] = [];
  let y = 0;
  const row = (height: number, cells: Array<Omit<Widget, "x" | "y" | "height">>) => {
    let x = 0;
    for (const cell of cells) {
      widgets.push({ ...cell, x, y, height });
      x += cell.width;
    }
    y += height;
  };
  const metric = (
    title: string,
    width: number,
    metrics: MetricLine[],
    options: Record<string, unknown> = {},
  ) => ({
    type: "metric" as const,
    width,
    properties: {
      title,
      view: "timeSeries",
      stacked: false,
      region: regions[0]?.region,
      period: 3600,
      stat: "Sum",
      metrics,
      ...options,
    },
  });

  row(2, [
    {
      type: "text",
      width: 24,
      properties: {
        markdown: `# transient-jobs ${environment}\nRuns and launches per job and region (namespace \`${METRIC_NAMESPACE}\`). Costs are estimates from AWS prices (the Price List at deploy time, spot history at launch); between runs only storage costs money. \`npm run runs -- --stack ${environment}\` lists the runs.`,
      },
    },
  ]);

  const jobs = [...new Set(regions.flatMap((r) => r.jobs.map((j) => j.job)))].sort();
  for (const job of jobs) {
    const where = regions.filter((r) => r.jobs.some((j) => j.job === job));
    const perRegion = (metricName: string, options: Record<string, unknown> = {}) =>
      where.map((r) => [
        METRIC_NAMESPACE,
        metricName,
        "Environment",
        environment,
        "Region",
        r.region,
        "Job",
        job,
        { region: r.region, label: `${metricName} ${r.region}`, ...options },
      ]);
    row(6, [
      metric(
        `${job}: runs per status`,
        6,
        [
          ...perRegion(METRICS.launched),
          ...perRegion(METRICS.skipped),
          ...perRegion(METRICS.succeeded),
          ...perRegion(METRICS.failed),
        ],
        { view: "bar", period: 86400 },
      ),
      metric(
        `${job}: run duration (seconds)`,
        5,
        [
          ...perRegion(METRICS.duration, { stat: "Average" }),
          ...perRegion(METRICS.duration, { stat: "Maximum", label: "max" }),
        ],
        { stat: "Average" },
      ),
      metric(
        `${job}: launches by instance type and purchase option`,
        5,
        where.map((r, i) => [
          {
            expression: `SEARCH('{${METRIC_NAMESPACE},Environment,Region,Job,InstanceType,PurchaseOption} MetricName="${METRICS.launches}" Environment="${environment}" Region="${r.region}" Job="${job}"', 'Sum', 86400)`,
            id: `l${i}`,
            region: r.region,
          },
        ]),
        { view: "bar", period: 86400 },
      ),
      metric(`${job}: launch attempts`, 4, [
        ...perRegion(METRICS.attempts),
        ...perRegion(METRICS.launched),
      ]),
      metric(`${job}: estimated cost (USD per day)`, 4, perRegion(METRICS.cost), {
        view: "bar",
        period: 86400,
      }),
    ]);
  }

  for (const r of regions) {
    row(5, [
      metric(`${r.region}: launcher invocations and errors`, 8, [
        ["AWS/Lambda", "Invocations", "FunctionName", r.launcherFunctionName, { region: r.region }],
        ["AWS/Lambda", "Errors", "FunctionName", r.launcherFunctionName, { region: r.region }],
      ]),
      metric(
        `${r.region}: dead-lettered schedule events`,
        8,
        r.jobs.map((j) => [
          "AWS/SQS",
          "ApproximateNumberOfMessagesVisible",
          "QueueName",
          j.deadLetterQueueName,
          { region: r.region, label: j.job },
        ]),
        { stat: "Maximum", period: 300 },
      ),
      metric(`${r.region}: instances reaped past their deadline`, 8, [
        [
          METRIC_NAMESPACE,
          METRICS.reaped,
          "Environment",
          environment,
          "Region",
          r.region,
          { region: r.region },
        ],
      ]),
    ]);
  }
  return JSON.stringify({ widgets });
}

// ---------------------------------------------------------------------------------------------
// Components
// ---------------------------------------------------------------------------------------------

/** Arguments of {@link RegionalAlarms}. */
export interface RegionalAlarmsArgs extends RegionalAlarmInputs<pulumi.Input<string>> {
  /** Where alarms (and their recovery) are sent. */
  topicArn: pulumi.Input<string>;
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
    const plan = regionalAlarms(args);
    for (const warning of plan.warnings) pulumi.log.warn(warning, this);
    this.alarmNames = {};
    for (const alarm of plan.alarms) {
      const resource = new aws.cloudwatch.MetricAlarm(
        alarmName(name, alarm.key),
        {
          alarmDescription: alarm.description,
          namespace: alarm.namespace,
          metricName: alarm.metricName,
          dimensions: alarm.dimensions,
          statistic: alarm.statistic,
          period: alarm.periodSeconds,
          evaluationPeriods: alarm.evaluationPeriods,
          datapointsToAlarm: alarm.datapointsToAlarm,
          threshold: alarm.threshold,
          comparisonOperator: alarm.comparisonOperator,
          treatMissingData: alarm.treatMissingData,
          actionsEnabled: alarm.actionsEnabled,
          alarmActions: [args.topicArn],
          okActions: [args.topicArn],
        },
        { parent: this },
      );
      this.alarmNames[alarm.key] = resource.name;
    }
    this.registerOutputs({ alarmNames: this.alarmNames });
  }
}

/** Arguments of {@link JobsDashboard}. */
export interface JobsDashboardArgs {
  environment: string;
  regions: pulumi.Input<DashboardRegion[]>;
}

/**
 * The environment's CloudWatch dashboard. Dashboards are global to the account, so there is one
 * per environment, declared once (with the first region's provider), showing every region.
 */
export class JobsDashboard extends pulumi.ComponentResource {
  readonly dashboardName: pulumi.Output<string>;

  constructor(name: string, args: JobsDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("transient-jobs:index:JobsDashboard", name, {}, opts);
    const dashboard = new aws.cloudwatch.Dashboard(
      jobsDashboardNames(name).dashboard,
      {
        dashboardName: dashboardName(args.environment),
        dashboardBody: pulumi
          .output(args.regions)
          .apply((regions) => dashboardBody(args.environment, regions)),
      },
      { parent: this },
    );
    this.dashboardName = dashboard.dashboardName;
    this.registerOutputs({ dashboardName: this.dashboardName });
  }
}

/** The queue name of an SQS queue ARN (`arn:aws:sqs:<region>:<account>:<name>`). */
export function queueNameFromArn(arn: string): string {
  return arn.slice(arn.lastIndexOf(":") + 1);
}
