/**
 * The dashboard: its body builder as a table, then the program under mocks declaring one
 * dashboard per environment, showing every region.
 */
import * as assert from "node:assert/strict";
import { dashboardBody, dashboardName } from "../../components/jobsDashboard";
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

  it("has per job: runs per status, duration, launches by type and market, attempts, cost, memory and CPU", () => {
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
        "nightly-pi: runs per status",
        "nightly-pi: run duration (seconds)",
        "nightly-pi: launches by instance type and purchase option",
        "nightly-pi: launch attempts",
        "nightly-pi: estimated cost (USD per day)",
        "nightly-pi: peak memory per run (% of the instance's)",
        "nightly-pi: mean CPU per run (% of the instance's vCPUs)",
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
