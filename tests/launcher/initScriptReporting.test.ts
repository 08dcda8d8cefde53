/**
 * What the init script reports about a run: its cost estimate, metrics and notification, proven
 * by running the rendered script under bash with stub commands.
 */
import * as assert from "node:assert/strict";
import { InvalidLaunchSpecError } from "../../launcher/errors";
import { renderInitScript, type InitScriptInput } from "../../launcher/initScript";
import {
  estimateRunCost,
  hourlyPrice,
  hourlyPriceTable,
  volumeHourlyPrice,
} from "../../launcher/prices";
import { notificationSubject } from "../../launcher/telemetry";
import { AWS_REGIONS } from "../../config";
import { initScriptInputFixture, PRICES_FIXTURE, specFixture } from "../../testing/fixtures";
import {
  runScript,
  shellcheck,
  withStopAfterSeconds,
  type ScriptRun,
} from "../../testing/scriptHarness";

const TOPIC = "arn:aws:sns:eu-west-1:123456789012:tj-dev-outcomes";
// The harness's IMDS says m7i.large; price it in both markets, with a 40 GiB volume.
const PRICES = hourlyPriceTable(PRICES_FIXTURE, ["m7i.large"], 40);

function input(overrides: Partial<InitScriptInput> = {}): InitScriptInput {
  return initScriptInputFixture({
    topicArn: TOPIC,
    instancePrices: PRICES.instances,
    volumeMicroUsdPerHour: PRICES.volumeMicroUsdPerHour,
    ...overrides,
  });
}

function call(run: ScriptRun, prefix: string): string {
  const found = run.calls.filter((c) => c.startsWith(prefix));
  assert.equal(found.length, 1, `${prefix}: ${found.length} calls`);
  return found[0];
}

/** The `--metric-data` JSON of the put-metric-data call. */
function metricData(run: ScriptRun): Array<Record<string, any>> {
  const line = call(run, "aws cloudwatch PutMetricData");
  return JSON.parse(line.slice(line.indexOf("--metric-data ") + "--metric-data ".length));
}

/** `--subject` and `--message` of the SNS call (the harness logs newlines as `\n`). */
function notification(run: ScriptRun): { subject: string; message: string[] } {
  const line = call(run, "aws sns Publish");
  const match = / --subject (.*) --message (.*)$/.exec(line)!;
  return { subject: match[1], message: match[2].split("\\n") };
}

const DIMENSIONS = [
  { Name: "Environment", Value: "dev" },
  { Name: "Region", Value: "eu-west-1" },
  { Name: "Job", Value: "pi" },
];

describe("init script reporting", function () {
  // Each run is a bash script and tens of processes: seconds apiece on a loaded machine.
  this.timeout(60000);

  it("passes shellcheck with a price table", () => {
    assert.deepEqual(shellcheck(renderInitScript(input())), { status: 0, output: "" });
  });

  it("records a spot run's cost from its measured duration, exactly as the CLIs estimate it", async () => {
    const run = await runScript(renderInitScript(input()), {
      lifecycle: "spot",
      lastLine: "pi: 512,000 digits in 4.75 s (planned); wrote s3://b/jobs/pi/results/x/pi.txt",
    });
    assert.equal(run.status, 0, run.stderr);
    const [record] = run.records;
    const duration = record.durationSeconds as number;
    assert.ok(Number.isInteger(duration) && duration >= 0 && duration <= 5, String(duration));
    const expected = estimateRunCost({
      instanceUsdPerHour: hourlyPrice(PRICES_FIXTURE, "m7i.large", "spot"),
      volumeUsdPerHour: volumeHourlyPrice(PRICES_FIXTURE.volumeUsdPerGiBMonth, 40),
      durationSeconds: duration,
    });
    assert.ok(expected! > 0);
    assert.equal(record.estimatedCostUsd, expected);
    assert.equal(record.purchaseOption, "spot");
    assert.equal(
      record.summary,
      "pi: 512,000 digits in 4.75 s (planned); wrote s3://b/jobs/pi/results/x/pi.txt",
    );
    assert.deepEqual(metricData(run), [
      { MetricName: "RunSucceeded", Dimensions: DIMENSIONS, Value: 1, Unit: "Count" },
      {
        MetricName: "RunDurationSeconds",
        Dimensions: DIMENSIONS,
        Value: duration,
        Unit: "Seconds",
      },
      { MetricName: "RunEstimatedCostUsd", Dimensions: DIMENSIONS, Value: expected, Unit: "None" },
    ]);
    const cents = `$0.${String(Math.floor((expected! * 1e6) / 100)).padStart(4, "0")}`;
    assert.deepEqual(notification(run), {
      subject: "[transient-jobs dev] pi succeeded in eu-west-1",
      message: [
        "pi-20261123T0300Z succeeded: the job exited with status 0.",
        "Job pi, environment dev, region eu-west-1, scheduled 2026-11-23T03:00:00Z.",
        `Ran for ${duration}s on m7i.large spot in eu-west-1b (i-0123456789abcdef0), estimated cost ${cents}.`,
        "Result: pi: 512,000 digits in 4.75 s (planned); wrote s3://b/jobs/pi/results/x/pi.txt",
        "Logs: https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Ftransient-jobs$252Fdev$252Fpi/log-events/pi-20261123T0300Z",
        "Record: s3://tj-results-dev-eu-west-1/jobs/pi/runs/pi-20261123T0300Z.json",
      ],
    });
  });

  it("reports a job's exit code as a failure, with the cost spent", async () => {
    const run = await runScript(renderInitScript(input()), { runExit: 3 });
    assert.equal(run.records[0].status, "failed");
    assert.equal(typeof run.records[0].estimatedCostUsd, "number");
    assert.equal(metricData(run)[0].MetricName, "RunFailed");
    const { subject, message } = notification(run);
    assert.equal(subject, "[transient-jobs dev] pi failed in eu-west-1");
    assert.equal(message[0], "pi-20261123T0300Z failed: the job exited with status 3.");
  });

  it("says where a run failed before its job ran", async () => {
    const run = await runScript(renderInitScript(input({ pullAttempts: 1 })), { pullFailures: 9 });
    assert.equal(
      notification(run).message[0],
      `pi-20261123T0300Z failed during pull: could not pull ${specFixture().imageUri}.`,
    );
    assert.deepEqual(
      metricData(run).map((d) => d.MetricName),
      ["RunFailed", "RunDurationSeconds", "RunEstimatedCostUsd"],
    );
  });

  it("reports the watchdog's interruption", async () => {
    const run = await runScript(
      renderInitScript(input()),
      { runSleepSeconds: 30 },
      "docker-run.argv",
    );
    assert.equal(
      notification(run).message[0],
      "pi-20261123T0300Z failed during run: interrupted by SIGTERM during run (deadline reached or instance shutting down).",
    );
    assert.equal(metricData(run)[0].MetricName, "RunFailed");
  });

  it("reports a run stopped at its stop time as timed-out", async () => {
    const run = await runScript(withStopAfterSeconds(renderInitScript(input()), 3), {
      runSleepSeconds: 30,
    });
    assert.equal(metricData(run)[0].MetricName, "RunFailed");
    const { subject, message } = notification(run);
    assert.equal(subject, "[transient-jobs dev] pi timed-out in eu-west-1");
    assert.equal(
      message[0],
      "pi-20261123T0300Z timed-out during run: still running 7 min before the deadline: stopped, exit status 143.",
    );
  });

  it("keeps the SNS subject under 100 printable characters for the longest names", async () => {
    const job = `j${"-".repeat(22)}j`;
    const environment = "e".repeat(100);
    const region = AWS_REGIONS.reduce((a, b) => (b.length > a.length ? b : a));
    const run = await runScript(
      renderInitScript(
        input({
          job,
          environment,
          region,
          runId: `${job}-20261123T0300Z`,
          topicArn: `arn:aws:sns:${region}:123456789012:tj-outcomes`,
        }),
      ),
      { runExit: 3 },
    );
    const { subject } = notification(run);
    // The environment gives way, marked "~", so that the job, the outcome and the region remain.
    assert.equal(subject.length, 99, subject);
    assert.ok(subject.endsWith(`e~] ${job} failed in ${region}`), subject);
    assert.match(subject, /^\[transient-jobs e+~\] /);
    for (const what of ["succeeded", "timed-out", "failed at launch"]) {
      assert.ok(notificationSubject(environment, job, what, region).length <= 99, what);
    }
  });

  it("records no estimate for a market it has no price for, and says so", async () => {
    const run = await runScript(
      renderInitScript(input({ instancePrices: { "m7i.large/on-demand": 112350 } })),
      { lifecycle: "spot" },
    );
    assert.equal(run.records[0].estimatedCostUsd, null);
    assert.deepEqual(
      metricData(run).map((d) => d.MetricName),
      ["RunSucceeded", "RunDurationSeconds"],
    );
    assert.match(
      notification(run).message[2],
      /, no cost estimate \(no price for this instance type and region\)\.$/,
    );
  });

  it("ignores a lifecycle IMDS value that is neither spot nor on-demand", async () => {
    const run = await runScript(renderInitScript(input()), { lifecycle: "scheduled" });
    assert.equal(run.records[0].purchaseOption, null);
    assert.equal(run.records[0].estimatedCostUsd, null);
  });

  it("powers off even when the metrics cannot be put", async () => {
    const run = await runScript(renderInitScript(input()), { metricsExit: 255 });
    assert.equal(run.calls.at(-1), "shutdown -h now");
    assert.match(run.stderr, /the metrics could not be published/);
    assert.equal(run.calls.filter((c) => c.startsWith("aws sns Publish")).length, 1);
  });

  const invalid: [string, Partial<InitScriptInput>, string][] = [
    [
      "a price key that is not <type>/<market>",
      { instancePrices: { "m7i.large/reserved": 1 } },
      `initScript.instancePrices.m7i.large/reserved: "m7i.large/reserved" is invalid; it must be a key <instance type>/<spot|on-demand>`,
    ],
    [
      "a price key with shell characters",
      { instancePrices: { "m7i.large/spot') reboot;;": 1 } },
      `initScript.instancePrices.m7i.large/spot') reboot;;: "m7i.large/spot') reboot;;" is invalid; it must be a key <instance type>/<spot|on-demand>`,
    ],
    [
      "a negative price",
      { instancePrices: { "m7i.large/spot": -1 } },
      `initScript.instancePrices.m7i.large/spot: -1 is invalid; it must be an integer from 0 to 1000000000`,
    ],
    [
      "a fractional volume price",
      { volumeMicroUsdPerHour: 1.5 },
      `initScript.volumeMicroUsdPerHour: 1.5 is invalid; it must be an integer from 0 to 1000000000`,
    ],
  ];
  for (const [title, overrides, message] of invalid) {
    it(`rejects ${title}`, () =>
      assert.throws(
        () => renderInitScript(input(overrides)),
        (e: Error) => e instanceof InvalidLaunchSpecError && e.message === message,
      ));
  }
});
