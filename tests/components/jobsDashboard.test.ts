/**
 * The dashboard: its body builder as a table, then the program under mocks declaring one
 * dashboard per environment, showing every region.
 */
import * as assert from "node:assert/strict";
import { dashboardBody, dashboardName } from "../../components/jobsDashboard";
import { dashboardBodyProblem } from "../../offline/engine";
import type { RecordedResource } from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";

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

  it("has per job: runs per status, duration, launches by type and market, attempts, cost, memory, CPU, start latency, overhead and lost attempts", () => {
    assert.deepEqual(
      body.widgets.map((w) => w.properties.title ?? "(text)"),
      [
        "(text)",
        "hourly-pi: runs per status",
        "hourly-pi: run duration (seconds)",
        "hourly-pi: launches by instance type and purchase option",
        "hourly-pi: launch attempts",
        "hourly-pi: estimated cost (USD per day)",
        "hourly-pi: peak memory per run (% of the instance's)",
        "hourly-pi: mean CPU per run (% of the instance's vCPUs)",
        "hourly-pi: schedule → container start per attempt (seconds)",
        "hourly-pi: overhead per attempt (billed seconds outside the container)",
        "hourly-pi: attempts interrupted, lost and retried",
        "nightly-pi: runs per status",
        "nightly-pi: run duration (seconds)",
        "nightly-pi: launches by instance type and purchase option",
        "nightly-pi: launch attempts",
        "nightly-pi: estimated cost (USD per day)",
        "nightly-pi: peak memory per run (% of the instance's)",
        "nightly-pi: mean CPU per run (% of the instance's vCPUs)",
        "nightly-pi: schedule → container start per attempt (seconds)",
        "nightly-pi: overhead per attempt (billed seconds outside the container)",
        "nightly-pi: attempts interrupted, lost and retried",
        "eu-west-1: launcher invocations and errors",
        "eu-west-1: dead-lettered schedule events",
        "eu-west-1: instances reaped past their deadline",
        "us-east-1: launcher invocations and errors",
        "us-east-1: dead-lettered schedule events",
        "us-east-1: instances reaped past their deadline",
      ],
    );
  });

  it("plots each run's peak memory and mean CPU per region, as percentages", () => {
    for (const [title, metric] of [
      ["hourly-pi: peak memory per run (% of the instance's)", "RunPeakMemoryPercent"],
      ["hourly-pi: mean CPU per run (% of the instance's vCPUs)", "RunMeanCpuPercent"],
    ]) {
      const widget = titled(title);
      assert.deepEqual(
        (widget.properties.metrics as unknown[][]).map((m) => [
          m[0],
          m[1],
          m[3],
          m[5],
          m[7],
          (m[8] as { stat: string }).stat,
        ]),
        [
          ["TransientJobs", metric, "prod", "eu-west-1", "hourly-pi", "Maximum"],
          ["TransientJobs", metric, "prod", "us-east-1", "hourly-pi", "Maximum"],
        ],
      );
      assert.deepEqual(widget.properties.yAxis, { left: { min: 0, max: 100 } });
      assert.equal(widget.width, 12);
    }
  });

  it("plots each attempt's start latency and overhead, and the attempts interrupted, lost and retried per day", () => {
    for (const [title, metric] of [
      ["hourly-pi: schedule → container start per attempt (seconds)", "RunStartLatencySeconds"],
      [
        "hourly-pi: overhead per attempt (billed seconds outside the container)",
        "RunOverheadSeconds",
      ],
    ]) {
      const widget = titled(title);
      assert.deepEqual(
        (widget.properties.metrics as unknown[][]).map((m) => [
          m[1],
          m[5],
          (m[8] as { stat: string }).stat,
        ]),
        [
          [metric, "eu-west-1", "Maximum"],
          [metric, "us-east-1", "Maximum"],
        ],
      );
      assert.equal(widget.properties.period, 300);
    }
    const lost = titled("nightly-pi: attempts interrupted, lost and retried");
    assert.deepEqual(
      (lost.properties.metrics as unknown[][]).map((m) => m.slice(0, 8)),
      ["AttemptInterrupted", "AttemptLost", "AttemptRetried"].map((name) => [
        "TransientJobs",
        name,
        "Environment",
        "prod",
        "Region",
        "eu-west-1",
        "Job",
        "nightly-pi",
      ]),
    );
    assert.deepEqual([lost.properties.stat, lost.properties.period], ["Sum", 86400]);
  });

  it("is a body PutDashboard accepts", () =>
    assert.equal(dashboardBodyProblem(dashboardBody("prod", regions)), undefined));

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

describe("dashboardBodyProblem: what PutDashboard refuses", () => {
  const widget = (
    extra: Record<string, unknown> = {},
    properties: Record<string, unknown> = {},
  ) => ({
    type: "metric",
    x: 0,
    y: 0,
    width: 6,
    height: 6,
    properties: {
      region: "eu-west-1",
      metrics: [["TransientJobs", "RunLaunched", "Job", "pi", { stat: "Sum" }]],
      ...properties,
    },
    ...extra,
  });
  const body = (...widgets: unknown[]) => JSON.stringify({ widgets });
  const cases: Array<[string, string, RegExp | undefined]> = [
    ["a metric widget", body(widget()), undefined],
    ["an empty dashboard", body(), undefined],
    ["no widgets array", "{}", /no widgets array/],
    ["text that is not JSON", "{", /not JSON/],
    ["an unknown type", body(widget({ type: "graph" })), /unknown type "graph"/],
    ["x 24", body(widget({ x: 24, width: 1 })), /x must be 0-23/],
    ["width 25", body(widget({ width: 25 })), /width must be 1-24/],
    ["height 0", body(widget({ height: 0 })), /height 1-1000/],
    [
      "a widget past the grid's edge",
      body(widget({ x: 20, width: 6 })),
      /beyond the 24-column grid/,
    ],
    ["a metric widget without a region", body(widget({}, { region: undefined })), /needs a region/],
    ["a period of 90 s", body(widget({}, { period: 90 })), /period 90 is not/],
    [
      "a dimension without a value",
      body(widget({}, { metrics: [["TransientJobs", "RunLaunched", "Job"]] })),
      /in pairs/,
    ],
    ["the ... shorthand", body(widget({}, { metrics: [["...", "pi"]] })), /non-empty strings/],
    [
      "an expression without an id",
      body(widget({}, { metrics: [[{ expression: "SEARCH('x', 'Sum', 300)" }]] })),
      /expression with an id/,
    ],
    [
      "an id used twice",
      body(
        widget(
          {},
          {
            metrics: [
              [{ expression: "SEARCH('x', 'Sum', 300)", id: "l0" }],
              [{ expression: "SEARCH('y', 'Sum', 300)", id: "l0" }],
            ],
          },
        ),
      ),
      /id "l0" is used twice/,
    ],
  ];
  for (const [what, text, refused] of cases) {
    it(`${refused ? "refuses" : "accepts"} ${what}`, () => {
      const problem = dashboardBodyProblem(text);
      if (refused) assert.match(problem ?? "", refused);
      else assert.equal(problem, undefined);
    });
  }
});

for (const stack of ["dev", "prod"]) {
  describe(`JobsDashboard under mocks: stack ${stack}`, function () {
    this.timeout(120000);

    it("declares one dashboard for the environment, with the fixed global provider", async () => {
      const { evaluation, config } = await evaluatedStack(stack);
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
