/**
 * Alarms: the missed-run arithmetic and the alarm plan builder as tables, then the program under
 * mocks (dev, and prod: two regions, two jobs) declaring each alarm per region, wired to that
 * region's topic.
 */
import * as assert from "node:assert/strict";
import { parseStackConfig, rawConfigFromPulumi, StackConfig } from "../../config";
import {
  AlarmDefinition,
  longestScheduleGapMinutes,
  missedRunWindow,
  queueNameFromArn,
  interruptionAlarm,
  memoryAlarm,
  regionalAlarms,
} from "../../components/regionalAlarms";
import { metricAlarmProblem } from "../../offline/engine";
import { parseScheduleExpression } from "../../lib/scheduleExpression";
import { Evaluation, loadStackConfig } from "../../offline/engine";
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

  it("alarms per job when a run peaks above its memory threshold or is OOM-killed", () => {
    const mathAlarms = regionalAlarms(inputs).mathAlarms.filter((a) => a.key.endsWith("-memory"));
    assert.deepEqual(
      mathAlarms.map((a) => a.key),
      ["nightly-pi-memory", "hourly-pi-memory"],
    );
    const { description, ...alarm } = mathAlarms[0];
    const dimensions = { Environment: "prod", Region: "eu-west-1", Job: "nightly-pi" };
    assert.deepEqual(alarm, {
      key: "nightly-pi-memory",
      metrics: [
        {
          id: "peak",
          namespace: "TransientJobs",
          metricName: "RunPeakMemoryPercent",
          dimensions,
          statistic: "Maximum",
          periodSeconds: 300,
        },
        {
          id: "oom",
          namespace: "TransientJobs",
          metricName: "RunOomKilled",
          dimensions,
          statistic: "Maximum",
          periodSeconds: 300,
        },
      ],
      expression: {
        id: "memory",
        label: "peak memory % (an OOM kill counts as 100)",
        expression: "MAX([FILL(peak, 0), FILL(oom, 0) * 100])",
      },
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 90,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      actionsEnabled: true,
    });
    assert.match(description, /more than 90% of its instance's memory, or the kernel's OOM killer/);
    assert.equal(
      memoryAlarm("dev", "eu-west-1", { name: "pi", memoryAlarmPercent: 75 }).threshold,
      75,
    );
  });

  // What the watched expression gives, at one timestamp, for the two metrics' values there
  // (undefined: no datapoint), following metric math's MAX over an array and FILL.
  const watched = (peak: number | undefined, oom: number | undefined) =>
    Math.max(peak ?? 0, (oom ?? 0) * 100);
  const cases: Array<[string, number | undefined, number | undefined, boolean]> = [
    ["a run at 95 %", 95, 0, true],
    ["a run at exactly 90 %", 90, 0, false],
    ["a run at 40 %", 40, 0, false],
    ["an OOM kill at 60 %", 60, 1, true],
    ["an OOM kill before any sample", undefined, 1, true],
    ["no run", undefined, undefined, false],
  ];
  for (const [what, peak, oom, fires] of cases) {
    it(`${fires ? "fires" : "stays quiet"} for ${what} at the default threshold`, () =>
      assert.equal(
        watched(peak, oom) > memoryAlarm("p", "r", { name: "j", memoryAlarmPercent: 90 }).threshold,
        fires,
      ));
  }

  it("alarms per job when more of its attempts were interrupted, lost or retried in a day than its threshold", () => {
    const { mathAlarms } = regionalAlarms(inputs);
    assert.deepEqual(
      mathAlarms.map((a) => a.key),
      [
        "nightly-pi-memory",
        "nightly-pi-interruptions",
        "hourly-pi-memory",
        "hourly-pi-interruptions",
      ],
    );
    const { description, ...alarm } = mathAlarms[1];
    const dimensions = { Environment: "prod", Region: "eu-west-1", Job: "nightly-pi" };
    const metric = (id: string, metricName: string) => ({
      id,
      namespace: "TransientJobs",
      metricName,
      dimensions,
      statistic: "Sum",
      periodSeconds: 86400,
    });
    assert.deepEqual(alarm, {
      key: "nightly-pi-interruptions",
      metrics: [
        metric("interrupted", "AttemptInterrupted"),
        metric("lost", "AttemptLost"),
        metric("retried", "AttemptRetried"),
      ],
      expression: {
        id: "attempts",
        label: "attempts interrupted or lost, or retried (the higher)",
        expression: "MAX([FILL(interrupted, 0) + FILL(lost, 0), FILL(retried, 0)])",
      },
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 2,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      actionsEnabled: true,
    });
    assert.match(description, /more than 2 attempt\(s\) of job nightly-pi were interrupted/);
    assert.equal(
      interruptionAlarm("dev", "eu-west-1", { name: "pi", interruptionAlarmThreshold: 0 })
        .threshold,
      0,
    );
  });

  // What the watched expression gives for a day's sums of the three metrics (undefined: no
  // datapoint), following metric math's FILL, + and MAX over an array.
  const attempts = (interrupted?: number, lost?: number, retried?: number) =>
    Math.max((interrupted ?? 0) + (lost ?? 0), retried ?? 0);
  const days: Array<
    [string, number | undefined, number | undefined, number | undefined, number, boolean]
  > = [
    ["two interruptions, both retried", 2, undefined, 2, 2, false],
    ["two interruptions and a lost instance", 2, 1, 3, 2, true],
    ["three retries of a failing exit code", undefined, undefined, 3, 2, true],
    ["one interruption with threshold 0", 1, undefined, undefined, 0, true],
    ["a quiet day with threshold 0", undefined, undefined, undefined, 0, false],
  ];
  for (const [what, interrupted, lost, retried, threshold, fires] of days) {
    it(`interruptions alarm ${fires ? "fires" : "stays quiet"} for ${what} (threshold ${threshold})`, () =>
      assert.equal(
        attempts(interrupted, lost, retried) >
          interruptionAlarm("p", "r", { name: "j", interruptionAlarmThreshold: threshold })
            .threshold,
        fires,
      ));
  }

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

describe("RegionalAlarms under mocks", function () {
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
                `${j.name}-memory`,
                `${j.name}-interruptions`,
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

      it("declares each job's memory alarm on metric math, as PutMetricAlarm accepts it", () => {
        for (const region of config.regions) {
          for (const job of config.jobs.filter(
            (j) => !j.regions || j.regions.includes(region.name),
          )) {
            const alarm = alarmsOf(region.name).find(
              (a) => a.name === `tj-${stack}-${region.name}-alarms-${job.name}-memory`,
            )!;
            assert.equal(metricAlarmProblem(alarm.inputs), undefined);
            assert.equal(alarm.inputs.metricName, undefined);
            assert.equal(alarm.inputs.threshold, job.memoryAlarmPercent);
            const queries = alarm.inputs.metricQueries as Array<Record<string, any>>;
            assert.deepEqual(
              queries.map((q) => [q.id, q.returnData, q.metric?.metricName ?? q.expression]),
              [
                ["peak", false, "RunPeakMemoryPercent"],
                ["oom", false, "RunOomKilled"],
                ["memory", true, "MAX([FILL(peak, 0), FILL(oom, 0) * 100])"],
              ],
            );
            assert.deepEqual(queries[0].metric.dimensions, {
              Environment: stack,
              Region: region.name,
              Job: job.name,
            });
          }
        }
      });

      it("declares each job's interruptions alarm on metric math, as PutMetricAlarm accepts it", () => {
        for (const region of config.regions) {
          for (const job of config.jobs.filter(
            (j) => !j.regions || j.regions.includes(region.name),
          )) {
            const alarm = alarmsOf(region.name).find(
              (a) => a.name === `tj-${stack}-${region.name}-alarms-${job.name}-interruptions`,
            )!;
            assert.equal(metricAlarmProblem(alarm.inputs), undefined);
            assert.equal(alarm.inputs.threshold, job.interruptionAlarmThreshold);
            const queries = alarm.inputs.metricQueries as Array<Record<string, any>>;
            assert.deepEqual(
              queries.map((q) => [
                q.id,
                q.returnData,
                q.metric?.metricName ?? q.expression,
                q.metric?.period,
              ]),
              [
                ["interrupted", false, "AttemptInterrupted", 86400],
                ["lost", false, "AttemptLost", 86400],
                ["retried", false, "AttemptRetried", 86400],
                [
                  "attempts",
                  true,
                  "MAX([FILL(interrupted, 0) + FILL(lost, 0), FILL(retried, 0)])",
                  undefined,
                ],
              ],
            );
            assert.deepEqual(queries[2].metric.dimensions, {
              Environment: stack,
              Region: region.name,
              Job: job.name,
            });
          }
        }
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
    });
  }
});

describe("metricAlarmProblem: what PutMetricAlarm refuses", () => {
  const metric = (id: string, returnData = false) => ({
    id,
    returnData,
    metric: { namespace: "TransientJobs", metricName: "M", period: 300, stat: "Maximum" },
  });
  const expression = (id: string, text: string, returnData = true) => ({
    id,
    expression: text,
    returnData,
  });
  const cases: Array<[string, Record<string, unknown>, RegExp | undefined]> = [
    ["one metric", { metricName: "M", namespace: "N", period: 300, statistic: "Sum" }, undefined],
    ["neither a metric nor queries", {}, /either MetricName or a Metrics array/],
    [
      "metric math",
      { metricQueries: [metric("a"), metric("b"), expression("e", "MAX([a, b])")] },
      undefined,
    ],
    [
      "metric math beside a metric name",
      { metricName: "M", metricQueries: [metric("a"), expression("e", "a")] },
      /with Metrics, metricName cannot be set/,
    ],
    [
      "no query returning data",
      { metricQueries: [metric("a"), expression("e", "a * 2", false)] },
      /exactly one query must have ReturnData true .* not 0/,
    ],
    [
      "two queries returning data",
      { metricQueries: [metric("a", true), expression("e", "a * 2")] },
      /not 2/,
    ],
    [
      "an expression naming an unknown id",
      { metricQueries: [metric("a"), expression("e", "FILL(b, 0)")] },
      /uses "b", which is not the id of a query/,
    ],
    [
      "an id starting with a capital",
      { metricQueries: [metric("A"), expression("e", "A")] },
      /query id "A" must start with a lower-case letter/,
    ],
    ["duplicate ids", { metricQueries: [metric("a"), expression("a", "a")] }, /unique/],
    [
      "eleven metrics",
      {
        metricQueries: [
          ...Array.from({ length: 11 }, (_, i) => metric(`m${i}`)),
          expression("e", "m0"),
        ],
      },
      /at most 20, 10 of each/,
    ],
    [
      "a period that is not a whole number of minutes",
      { metricName: "M", namespace: "N", period: 90, statistic: "Sum" },
      /the period of the alarm, 90, must be 10, 20, 30 or a multiple of 60/,
    ],
    [
      "a one-day range of 5-minute periods",
      { metricName: "M", namespace: "N", period: 300, evaluationPeriods: 288, statistic: "Sum" },
      undefined,
    ],
    [
      "more than a day of 5-minute periods",
      { metricName: "M", namespace: "N", period: 300, evaluationPeriods: 289, statistic: "Sum" },
      /300 × 289 evaluation periods is 86700 s; at most 86400 s for a period under an hour/,
    ],
    [
      "seven days of one-day periods in metric math",
      {
        evaluationPeriods: 7,
        metricQueries: [
          { ...metric("a"), metric: { ...metric("a").metric, period: 86400 } },
          expression("e", "a"),
        ],
      },
      undefined,
    ],
    [
      "eight days of one-day periods in metric math",
      {
        evaluationPeriods: 8,
        metricQueries: [
          { ...metric("a"), metric: { ...metric("a").metric, period: 86400 } },
          expression("e", "a"),
        ],
      },
      /86400 × 8 evaluation periods is 691200 s; at most 604800 s$/,
    ],
  ];
  for (const [what, inputs, refused] of cases) {
    it(`${refused ? "refuses" : "accepts"} ${what}`, () => {
      const problem = metricAlarmProblem(inputs);
      if (refused) assert.match(problem ?? "", refused);
      else assert.equal(problem, undefined);
    });
  }
});
