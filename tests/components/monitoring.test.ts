/**
 * Alarms and the dashboard: the missed-run arithmetic and the alarm and dashboard builders as
 * tables, then the program under mocks (prod: two regions, two jobs) declaring each alarm per
 * region, wired to that region's topic, and one dashboard for the environment.
 */
import * as assert from "node:assert/strict";
import { parseStackConfig, rawConfigFromPulumi, StackConfig } from "../../config";
import {
  AlarmDefinition,
  dashboardBody,
  dashboardName,
  longestScheduleGapMinutes,
  missedRunWindow,
  queueNameFromArn,
  regionalAlarms,
} from "../../components/monitoring";
import { parseScheduleExpression } from "../../lib/scheduleExpression";
import { Evaluation, loadStackConfig, RecordedResource } from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";

describe("longestScheduleGapMinutes", () => {
  const cases: [string, string, number][] = [
    ["rate(1 hour)", "UTC", 60],
    ["rate(3 days)", "Europe/Paris", 4320],
    ["cron(0 6 * * ? *)", "UTC", 1440],
    // A daily run in a zone with daylight saving: the day clocks go back lasts 25 hours.
    ["cron(0 6 * * ? *)", "Europe/Dublin", 1500],
    // Scheduler skips 02:30 the night Paris clocks go forward: 47 hours between two runs.
    ["cron(30 2 * * ? *)", "Europe/Paris", 47 * 60],
    // Daylight saving does not touch a zone without it.
    ["cron(30 2 * * ? *)", "Asia/Tokyo", 1440],
    ["cron(0 6 ? * MON-FRI *)", "UTC", 3 * 1440],
    ["cron(0 6 1 * ? *)", "UTC", 31 * 1440],
    ["cron(0,30 * * * ? *)", "UTC", 30],
  ];
  for (const [expression, timezone, minutes] of cases) {
    it(`${expression} in ${timezone}: ${minutes} minutes`, () =>
      assert.equal(
        longestScheduleGapMinutes(parseScheduleExpression(expression), timezone),
        minutes,
      ));
  }
});

describe("missedRunWindow", () => {
  const cases: [string, number, number, ReturnType<typeof missedRunWindow>][] = [
    // 60 + 30 + 15 = 105 min: 5-minute periods, 21 of them.
    [
      "hourly, 30 min runs",
      60,
      30,
      { windowMinutes: 105, periodSeconds: 300, evaluationPeriods: 21 },
    ],
    // 1440 + 1 + 15 = 1456 min > 1 day: hourly periods (CloudWatch allows a day below an hour).
    [
      "daily, 1 min runs",
      1440,
      1,
      { windowMinutes: 1456, periodSeconds: 3600, evaluationPeriods: 25 },
    ],
    // Exactly a day fits 288 five-minute periods.
    ["a day in all", 1400, 25, { windowMinutes: 1440, periodSeconds: 300, evaluationPeriods: 288 }],
    [
      "weekdays, 2 h runs",
      4320,
      120,
      { windowMinutes: 4455, periodSeconds: 3600, evaluationPeriods: 75 },
    ],
    // 7 days exactly is the longest range an alarm can have.
    [
      "7 days in all",
      10080 - 120 - 15,
      120,
      { windowMinutes: 10080, periodSeconds: 3600, evaluationPeriods: 168 },
    ],
    ["weekly", 10080, 20, undefined],
    ["monthly", 44640, 60, undefined],
  ];
  for (const [title, gap, runtime, expected] of cases) {
    it(`${title}: ${expected ? `${expected.evaluationPeriods} x ${expected.periodSeconds} s` : "no alarm"}`, () =>
      assert.deepEqual(missedRunWindow(gap, runtime), expected));
  }
});

function prodConfig(): StackConfig {
  return parseStackConfig(rawConfigFromPulumi(loadStackConfig("prod")), "prod");
}

describe("regionalAlarms", () => {
  const config = prodConfig();
  const inputs = {
    environment: "prod",
    region: "eu-west-1",
    enabled: true,
    launcherFunctionName: "launcher-fn",
    launcherFailureQueueName: "launcher-failed",
    jobs: config.jobs.map((job) => ({ job, deadLetterQueueName: `${job.name}-dlq` })),
  };

  it("declares launcher errors and failed events, over-deadline, and per job failed, missed and dead-letter alarms", () => {
    const { alarms, warnings } = regionalAlarms(inputs);
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      alarms.map((a) => a.key),
      [
        "launcher-errors",
        "launcher-failed-events",
        "over-deadline",
        "nightly-pi-failed",
        "nightly-pi-dead-letters",
        "nightly-pi-missed-run",
        "hourly-pi-failed",
        "hourly-pi-dead-letters",
        "hourly-pi-missed-run",
      ],
    );
  });

  it("alarms when a job has not succeeded for its longest gap, runtime and slack", () => {
    const byKey = Object.fromEntries(regionalAlarms(inputs).alarms.map((a) => [a.key, a]));
    const { description, ...nightly } = byKey["nightly-pi-missed-run"];
    // cron(30 2 * * ? *) in Europe/Paris, skipped the night clocks go forward:
    // 2820 (47 h) + 90 + 15 = 2925 min: 49 hours.
    assert.deepEqual(nightly, {
      key: "nightly-pi-missed-run",
      namespace: "TransientJobs",
      metricName: "RunSucceeded",
      dimensions: { Environment: "prod", Region: "eu-west-1", Job: "nightly-pi" },
      statistic: "Sum",
      periodSeconds: 3600,
      evaluationPeriods: 49,
      datapointsToAlarm: 49,
      threshold: 1,
      comparisonOperator: "LessThanThreshold",
      treatMissingData: "breaching",
      actionsEnabled: true,
    } satisfies Omit<AlarmDefinition, "description">);
    assert.match(description, /has not succeeded for 2925 minutes/);
    // rate(1 hour), 30 minutes: 105 min in 5-minute periods.
    assert.deepEqual(
      [
        byKey["hourly-pi-missed-run"].periodSeconds,
        byKey["hourly-pi-missed-run"].evaluationPeriods,
      ],
      [300, 21],
    );
  });

  it("counts failures, dead letters, launcher errors and reaped instances as soon as one happens", () => {
    const byKey = Object.fromEntries(regionalAlarms(inputs).alarms.map((a) => [a.key, a]));
    const shape = (a: AlarmDefinition) => [
      a.namespace,
      a.metricName,
      a.dimensions,
      a.statistic,
      a.periodSeconds,
      a.evaluationPeriods,
      a.threshold,
      a.comparisonOperator,
      a.treatMissingData,
    ];
    const count = ["Sum", 300, 1, 1, "GreaterThanOrEqualToThreshold", "notBreaching"];
    assert.deepEqual(shape(byKey["launcher-errors"]), [
      "AWS/Lambda",
      "Errors",
      { FunctionName: "launcher-fn" },
      ...count,
    ]);
    // Lambda's on-failure destination: one event there is one run that never launched.
    assert.deepEqual(shape(byKey["launcher-failed-events"]), [
      "AWS/SQS",
      "ApproximateNumberOfMessagesVisible",
      { QueueName: "launcher-failed" },
      "Maximum",
      ...count.slice(1),
    ]);
    assert.deepEqual(shape(byKey["over-deadline"]), [
      "TransientJobs",
      "InstancesReaped",
      { Environment: "prod", Region: "eu-west-1" },
      ...count,
    ]);
    assert.deepEqual(shape(byKey["nightly-pi-failed"]), [
      "TransientJobs",
      "RunFailed",
      { Environment: "prod", Region: "eu-west-1", Job: "nightly-pi" },
      ...count,
    ]);
    assert.deepEqual(shape(byKey["hourly-pi-dead-letters"]), [
      "AWS/SQS",
      "ApproximateNumberOfMessagesVisible",
      { QueueName: "hourly-pi-dlq" },
      "Maximum",
      ...count.slice(1),
    ]);
  });

  it("keeps a disabled region's missed-run alarms quiet, and only those", () => {
    for (const alarm of regionalAlarms({ ...inputs, enabled: false }).alarms) {
      assert.equal(alarm.actionsEnabled, !alarm.key.endsWith("-missed-run"), alarm.key);
    }
  });

  it("warns, instead of alarming, for a job too rare for a CloudWatch alarm", () => {
    const monthly = {
      ...config.jobs[0],
      name: "monthly",
      parsedSchedule: parseScheduleExpression("cron(0 6 1 * ? *)"),
      timezone: "UTC",
    };
    const { alarms, warnings } = regionalAlarms({
      ...inputs,
      jobs: [{ job: monthly, deadLetterQueueName: "q" }],
    });
    assert.ok(!alarms.some((a) => a.key === "monthly-missed-run"));
    assert.deepEqual(warnings, [
      `job monthly in eu-west-1: no missed-run alarm: 44640 minutes between runs plus ${monthly.maxRuntimeMinutes} minutes of runtime exceed CloudWatch's 7-day alarm range; its failed-run and dead-letter alarms still apply`,
    ]);
  });
});

describe("dashboardBody", () => {
  const regions = [
    {
      region: "eu-west-1",
      launcherFunctionName: "fn-eu",
      jobs: [
        { job: "nightly-pi", deadLetterQueueName: "dlq-eu-n" },
        { job: "hourly-pi", deadLetterQueueName: "dlq-eu-h" },
      ],
    },
    {
      region: "us-east-1",
      launcherFunctionName: "fn-us",
      jobs: [{ job: "hourly-pi", deadLetterQueueName: "dlq-us-h" }],
    },
  ];
  const body = JSON.parse(dashboardBody("prod", regions)) as {
    widgets: Array<{
      type: string;
      x: number;
      y: number;
      width: number;
      height: number;
      properties: any;
    }>;
  };
  const titled = (title: string) => {
    const found = body.widgets.find((w) => w.properties.title === title);
    assert.ok(found, `no widget "${title}"`);
    return found;
  };

  it("has per job: runs per status, duration, launches by type and market, attempts, cost", () => {
    assert.deepEqual(
      body.widgets.map((w) => w.properties.title ?? "(text)"),
      [
        "(text)",
        "hourly-pi: runs per status",
        "hourly-pi: run duration (seconds)",
        "hourly-pi: launches by instance type and purchase option",
        "hourly-pi: launch attempts",
        "hourly-pi: estimated cost (USD per day)",
        "nightly-pi: runs per status",
        "nightly-pi: run duration (seconds)",
        "nightly-pi: launches by instance type and purchase option",
        "nightly-pi: launch attempts",
        "nightly-pi: estimated cost (USD per day)",
        "eu-west-1: launcher invocations and errors",
        "eu-west-1: dead-lettered schedule events",
        "eu-west-1: instances reaped past their deadline",
        "us-east-1: launcher invocations and errors",
        "us-east-1: dead-lettered schedule events",
        "us-east-1: instances reaped past their deadline",
      ],
    );
  });

  it("plots each status of a job in every region that runs it", () => {
    const metrics = titled("hourly-pi: runs per status").properties.metrics as unknown[][];
    assert.deepEqual(
      metrics.map((m) => [m[1], m[5], (m[8] as { region: string }).region]),
      [
        ["RunLaunched", "eu-west-1", "eu-west-1"],
        ["RunLaunched", "us-east-1", "us-east-1"],
        ["RunSkipped", "eu-west-1", "eu-west-1"],
        ["RunSkipped", "us-east-1", "us-east-1"],
        ["RunSucceeded", "eu-west-1", "eu-west-1"],
        ["RunSucceeded", "us-east-1", "us-east-1"],
        ["RunFailed", "eu-west-1", "eu-west-1"],
        ["RunFailed", "us-east-1", "us-east-1"],
      ],
    );
    assert.deepEqual(metrics[0].slice(0, 8), [
      "TransientJobs",
      "RunLaunched",
      "Environment",
      "prod",
      "Region",
      "eu-west-1",
      "Job",
      "hourly-pi",
    ]);
    const nightly = titled("nightly-pi: runs per status").properties.metrics as unknown[][];
    assert.ok(nightly.every((m) => m[5] === "eu-west-1"));
  });

  it("searches launches by instance type and purchase option per region", () => {
    assert.deepEqual(
      titled("hourly-pi: launches by instance type and purchase option").properties.metrics,
      [
        [
          {
            expression: `SEARCH('{TransientJobs,Environment,Region,Job,InstanceType,PurchaseOption} MetricName="Launches" Environment="prod" Region="eu-west-1" Job="hourly-pi"', 'Sum', 86400)`,
            id: "l0",
            region: "eu-west-1",
          },
        ],
        [
          {
            expression: `SEARCH('{TransientJobs,Environment,Region,Job,InstanceType,PurchaseOption} MetricName="Launches" Environment="prod" Region="us-east-1" Job="hourly-pi"', 'Sum', 86400)`,
            id: "l1",
            region: "us-east-1",
          },
        ],
      ],
    );
  });

  it("watches each region's launcher, dead-letter queues and reaper", () => {
    assert.deepEqual(titled("us-east-1: dead-lettered schedule events").properties.metrics, [
      [
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "dlq-us-h",
        { region: "us-east-1", label: "hourly-pi" },
      ],
    ]);
    assert.deepEqual(titled("eu-west-1: launcher invocations and errors").properties.metrics, [
      ["AWS/Lambda", "Invocations", "FunctionName", "fn-eu", { region: "eu-west-1" }],
      ["AWS/Lambda", "Errors", "FunctionName", "fn-eu", { region: "eu-west-1" }],
    ]);
  });

  it("lays widgets out on the 24-column grid without overlaps", () => {
    const cells = new Set<string>();
    for (const w of body.widgets) {
      assert.ok(w.x >= 0 && w.x + w.width <= 24, JSON.stringify(w));
      for (let x = w.x; x < w.x + w.width; x++) {
        for (let y = w.y; y < w.y + w.height; y++) {
          assert.ok(!cells.has(`${x},${y}`), `overlap at ${x},${y}`);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it("names the dashboard after the environment", () =>
    assert.equal(dashboardName("prod"), "transient-jobs-prod"));
});

describe("monitoring under mocks", function () {
  this.timeout(120000);
  for (const stack of ["dev", "prod"]) {
    describe(`stack ${stack}`, () => {
      let evaluation: Evaluation;
      let config: StackConfig;
      before(async () => ({ evaluation, config } = await evaluatedStack(stack)));

      const alarmsOf = (region: string) =>
        evaluation.resources.filter(
          (r) =>
            r.type === "aws:cloudwatch/metricAlarm:MetricAlarm" &&
            r.name.startsWith(`tj-${stack}-${region}-alarms-`),
        );

      it("declares each region's alarms with its provider, sending to its topic", () => {
        const all = evaluation.resources.filter(
          (r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm",
        );
        let expected = 0;
        for (const region of config.regions) {
          const jobs = config.jobs.filter((j) => !j.regions || j.regions.includes(region.name));
          const alarms = alarmsOf(region.name);
          assert.deepEqual(
            alarms.map((a) => a.name.slice(`tj-${stack}-${region.name}-alarms-`.length)).sort(),
            [
              "launcher-errors",
              "launcher-failed-events",
              "over-deadline",
              ...jobs.flatMap((j) => [
                `${j.name}-failed`,
                `${j.name}-dead-letters`,
                `${j.name}-missed-run`,
              ]),
            ].sort(),
          );
          expected += alarms.length;
          const topic = evaluation.resources.find(
            (r) =>
              r.type === "aws:sns/topic:Topic" &&
              r.name === `tj-${stack}-${region.name}-notifications-topic`,
          )!;
          for (const alarm of alarms) {
            assert.equal(alarm.providerRegion, region.name, alarm.name);
            assert.deepEqual(alarm.inputs.alarmActions, [topic.state.arn], alarm.name);
            assert.deepEqual(alarm.inputs.okActions, [topic.state.arn], alarm.name);
          }
        }
        assert.equal(all.length, expected, "alarms outside the regional stacks");
      });

      it("points the launcher and dead-letter alarms at the deployed names", () => {
        const outputs = evaluation.outputs.regions as Record<string, any>;
        for (const region of config.regions) {
          const byKey = (key: string) =>
            alarmsOf(region.name).find(
              (a) => a.name === `tj-${stack}-${region.name}-alarms-${key}`,
            )!;
          assert.deepEqual(byKey("launcher-errors").inputs.dimensions, {
            FunctionName: outputs[region.name].launcherFunctionName,
          });
          for (const [job, out] of Object.entries(outputs[region.name].jobs) as Array<
            [string, any]
          >) {
            assert.deepEqual(byKey(`${job}-dead-letters`).inputs.dimensions, {
              QueueName: queueNameFromArn(out.deadLetterQueueArn),
            });
            const missed = byKey(`${job}-missed-run`).inputs;
            assert.equal(missed.treatMissingData, "breaching");
            assert.equal(missed.actionsEnabled, region.enabled);
            assert.equal(missed.evaluationPeriods, missed.datapointsToAlarm);
          }
        }
      });

      it("declares one dashboard for the environment, with the fixed global provider", () => {
        const dashboards = evaluation.resources.filter(
          (r: RecordedResource) => r.type === "aws:cloudwatch/dashboard:Dashboard",
        );
        assert.equal(dashboards.length, 1);
        assert.equal(dashboards[0].inputs.dashboardName, `transient-jobs-${stack}`);
        assert.equal(dashboards[0].providerRegion, "us-east-1");
        assert.equal(evaluation.outputs.dashboardName, `transient-jobs-${stack}`);
        const body = JSON.parse(String(dashboards[0].inputs.dashboardBody));
        const outputs = evaluation.outputs.regions as Record<string, any>;
        const launchers = body.widgets
          .filter((w: any) => /launcher invocations/.test(w.properties.title ?? ""))
          .map((w: any) => w.properties.metrics[0][3]);
        assert.deepEqual(
          launchers,
          config.regions.map((r) => outputs[r.name].launcherFunctionName),
        );
      });
    });
  }
});
