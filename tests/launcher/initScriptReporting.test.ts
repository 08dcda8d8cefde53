/**
 * What the init script reports about an attempt: its cost estimate, metrics and messages, proven
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
import { initScriptInputFixture, PRICES_FIXTURE, specFixture } from "../../testing/fixtures";
import {
  runScript,
  shellcheck,
  withStopAfterSeconds,
  type ScriptRun,
} from "../../testing/scriptHarness";

// The harness's IMDS says m7i.large; price it in both markets, with a 40 GiB volume.
const PRICES = hourlyPriceTable(PRICES_FIXTURE, ["m7i.large"], 40);

function input(overrides: Partial<InitScriptInput> = {}): InitScriptInput {
  return initScriptInputFixture({
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
    // The attempt's figures; RunSucceeded/RunFailed are the run supervisor's, once per run.
    assert.deepEqual(metricData(run).slice(0, 2), [
      {
        MetricName: "RunDurationSeconds",
        Dimensions: DIMENSIONS,
        Value: duration,
        Unit: "Seconds",
      },
      { MetricName: "RunEstimatedCostUsd", Dimensions: DIMENSIONS, Value: expected, Unit: "None" },
    ]);
    assert.equal(run.records[0].message, "the job exited with status 0");
  });

  it("reports a job's exit code as a failure, with the cost spent", async () => {
    const run = await runScript(renderInitScript(input()), { runExit: 3 });
    assert.equal(run.records[0].status, "failed");
    assert.equal(typeof run.records[0].estimatedCostUsd, "number");
    assert.equal(
      metricData(run).some((d) => /^Run(Succeeded|Failed)$/.test(d.MetricName)),
      false,
    );
    assert.equal(run.records[0].message, "the job exited with status 3");
  });

  it("says where a run failed before its job ran", async () => {
    const run = await runScript(renderInitScript(input({ pullAttempts: 1 })), { pullFailures: 9 });
    assert.deepEqual(
      [run.records[0].phase, run.records[0].message],
      ["pull", `could not pull ${specFixture().imageUri}`],
    );
    assert.deepEqual(
      metricData(run).map((d) => d.MetricName),
      ["RunDurationSeconds", "RunEstimatedCostUsd", "RunOverheadSeconds"],
    );
  });

  it("reports the watchdog's interruption", async () => {
    const run = await runScript(
      renderInitScript(input()),
      { runSleepSeconds: 30 },
      "docker-run.argv",
    );
    assert.equal(
      run.records[0].message,
      "interrupted by SIGTERM during run (deadline reached or instance shutting down)",
    );
  });

  it("reports a run stopped at its stop time as timed-out", async () => {
    const run = await runScript(withStopAfterSeconds(renderInitScript(input()), 3), {
      runSleepSeconds: 30,
    });
    assert.deepEqual(
      [run.records[0].status, run.records[0].message],
      ["timed-out", "still running 7 min before the deadline: stopped, exit status 143"],
    );
  });

  it("records no estimate for a market it has no price for, and says so", async () => {
    const run = await runScript(
      renderInitScript(input({ instancePrices: { "m7i.large/on-demand": 112350 } })),
      { lifecycle: "spot" },
    );
    assert.equal(run.records[0].estimatedCostUsd, null);
    assert.deepEqual(
      metricData(run)
        .map((d) => d.MetricName)
        .slice(0, 2),
      ["RunDurationSeconds", "RunOverheadSeconds"],
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
    assert.equal(run.records.length, 1);
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
