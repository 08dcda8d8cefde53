/**
 * The environment's dashboard: the pure {@link dashboardBody} and the {@link JobsDashboard}
 * component declaring it.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { METRIC_NAMESPACE, METRICS } from "../launcher/telemetry";
import { dashboardName, jobsDashboardNames } from "../lib/resourceNames";

/** The environment's dashboard name; see {@link dashboardName} in lib/resourceNames.ts. */
export { dashboardName };

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

/**
 * The dashboard of one environment, all regions: per job a row with runs per status, run
 * duration, launches by instance type and purchase option, launch attempts and estimated cost,
 * a row with each run's peak memory and mean CPU (% of its instance), and a row with where an
 * attempt's time goes (schedule → container-start latency, billed seconds outside the container)
 * and the attempts that did not end on their own (interrupted, lost, retried);
 * then per region the launcher's invocations and errors, dead letters and reaped instances.
 * The body follows https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html,
 * which the offline engine checks (`dashboardBodyProblem` in offline/engine.ts).
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
    // How big a machine the job needs: what its runs used of their instances (init script).
    const percentAxis = { yAxis: { left: { min: 0, max: 100 } } };
    row(5, [
      metric(
        `${job}: peak memory per run (% of the instance's)`,
        12,
        perRegion(METRICS.peakMemoryPercent, { stat: "Maximum" }),
        { stat: "Maximum", period: 300, ...percentAxis },
      ),
      metric(
        `${job}: mean CPU per run (% of the instance's vCPUs)`,
        12,
        perRegion(METRICS.meanCpuPercent, { stat: "Maximum" }),
        { stat: "Maximum", period: 300, ...percentAxis },
      ),
    ]);
    // Where an attempt's time and money go, and how often an attempt is lost to the platform.
    // Each attempt reports one datapoint; a 5-minute maximum keeps them apart.
    const perAttempt = { stat: "Maximum", period: 300, yAxis: { left: { min: 0 } } };
    row(5, [
      metric(
        `${job}: schedule → container start per attempt (seconds)`,
        8,
        perRegion(METRICS.startLatencySeconds, { stat: "Maximum" }),
        perAttempt,
      ),
      metric(
        `${job}: overhead per attempt (billed seconds outside the container)`,
        8,
        perRegion(METRICS.overheadSeconds, { stat: "Maximum" }),
        perAttempt,
      ),
      metric(
        `${job}: attempts interrupted, lost and retried`,
        8,
        [
          ...perRegion(METRICS.interrupted),
          ...perRegion(METRICS.lost),
          ...perRegion(METRICS.retried),
        ],
        { view: "bar", period: 86400 },
      ),
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
