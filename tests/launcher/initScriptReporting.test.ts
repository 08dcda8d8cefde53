/**
 * What the init script reports about an attempt: its cost estimate, metrics, messages and the
 * phase timings of its record with the two overhead metrics computed from them on the instance,
 * proven by running the rendered script under bash with stub commands (testing/awsStub.ts plays
 * IMDS, with the launcher's launch-time tags).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import type { RunTimings } from "../../launcher/contract";
import { InvalidLaunchSpecError } from "../../launcher/errors";
import { renderInitScript, type InitScriptInput } from "../../launcher/initScript";
import { overheadSeconds, startLatencySeconds } from "../../launcher/runTimings";
import {
  estimateRunCost,
  hourlyPrice,
  hourlyPriceTable,
  volumeHourlyPrice,
} from "../../launcher/prices";
import { initScriptInputFixture, PRICES_FIXTURE, specFixture } from "../../testing/fixtures";
import {
  IMAGE_SIZE_BYTES,
  runConcurrently,
  runScript,
  withStopAfterSeconds,
  type ScriptRun,
} from "../../testing/scriptHarness";

// The harness's IMDS says m7i.large; price it in both markets, with a 40 GiB volume.
const PRICES = hourlyPriceTable(PRICES_FIXTURE, ["m7i.large"], 40);

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A scheduled time a minute ago (whole seconds, as Scheduler sends it). */
function aMinuteAgo(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toISOString().replace(".000", "");
}

const SCHEDULED_TIME = aMinuteAgo();

function input(overrides: Partial<InitScriptInput> = {}): InitScriptInput {
  return initScriptInputFixture({
    scheduledTime: SCHEDULED_TIME,
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

/** The PutMetricData values by metric name. */
function metrics(run: ScriptRun): Record<string, number> {
  return Object.fromEntries(metricData(run).map((d) => [d.MetricName, d.Value]));
}

const uptime = () => Number(fs.readFileSync("/proc/uptime", "utf8").split(" ")[0]);

const LAST_LINE = "pi: 512,000 digits in 4.75 s (planned); wrote s3://b/jobs/pi/results/x/pi.txt";

/**
 * The runs, started together before the tests (each mostly waits on its stubs); most serve a
 * test of the report and one of its timings.
 */
function scenarios() {
  return runConcurrently({
    // First: it waits for its stop time.
    timedOutWithoutPrice: () =>
      runScript(
        withStopAfterSeconds(
          renderInitScript(input({ instancePrices: { "m7i.large/on-demand": 112350 } })),
          3,
        ),
        { runSleepSeconds: 30, lifecycle: "spot" },
      ),
    spotSucceeded: async () => {
      // The kernel's uptime and the clock around the run, for its timings.
      const [upBefore, before] = [uptime(), Date.now()];
      const run = await runScript(renderInitScript(input()), {
        lifecycle: "spot",
        lastLine: LAST_LINE,
      });
      return { run, upBefore, before };
    },
    jobFailed: () => runScript(renderInitScript(input()), { runExit: 3, metricsExit: 255 }),
    pullFailed: () => runScript(renderInitScript(input({ pullAttempts: 1 })), { pullFailures: 9 }),
    // Four independent facts, one run: the signal, the market, the tags and the registry.
    interruptedUnusualInstance: () =>
      runScript(
        renderInitScript(input({ imageUri: "public.ecr.aws/docker/library/busybox:1.36" })),
        { runSleepSeconds: 30, lifecycle: "scheduled", noLaunchTags: true },
        "docker-run.argv",
      ),
  });
}

const DIMENSIONS = [
  { Name: "Environment", Value: "dev" },
  { Name: "Region", Value: "eu-west-1" },
  { Name: "Job", Value: "pi" },
];

describe("init script reporting", function () {
  // Each run is a bash script and tens of processes: seconds apiece on a loaded machine.
  this.timeout(60000);
  let runs: ReturnType<typeof scenarios>;
  before(() => {
    runs = scenarios();
  });

  // shellcheck of a script with a price table: initScript.test.ts.

  it("records a spot run's cost from its measured duration, exactly as the CLIs estimate it", async () => {
    const { run } = await runs.spotSucceeded;
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
    assert.equal(record.summary, LAST_LINE);
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
    const run = await runs.jobFailed;
    assert.equal(run.records[0].status, "failed");
    assert.equal(typeof run.records[0].estimatedCostUsd, "number");
    assert.equal(
      metricData(run).some((d) => /^Run(Succeeded|Failed)$/.test(d.MetricName)),
      false,
    );
    assert.equal(run.records[0].message, "the job exited with status 3");
  });

  it("says where a run failed before its job ran", async () => {
    const run = await runs.pullFailed;
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
    const run = await runs.interruptedUnusualInstance;
    assert.equal(
      run.records[0].message,
      "interrupted by SIGTERM during run (deadline reached or instance shutting down)",
    );
  });

  it("reports a run stopped at its stop time as timed-out", async () => {
    const run = await runs.timedOutWithoutPrice;
    assert.deepEqual(
      [run.records[0].status, run.records[0].message],
      ["timed-out", "still running 7 min before the deadline: stopped, exit status 143"],
    );
  });

  it("records no estimate for a market it has no price for, and says so", async () => {
    const run = await runs.timedOutWithoutPrice;
    assert.equal(run.records[0].estimatedCostUsd, null);
    assert.deepEqual(
      metricData(run)
        .map((d) => d.MetricName)
        .slice(0, 2),
      ["RunDurationSeconds", "RunOverheadSeconds"],
    );
  });

  it("ignores a lifecycle IMDS value that is neither spot nor on-demand", async () => {
    const run = await runs.interruptedUnusualInstance;
    assert.equal(run.records[0].purchaseOption, null);
    assert.equal(run.records[0].estimatedCostUsd, null);
  });

  it("powers off even when the metrics cannot be put", async () => {
    const run = await runs.jobFailed;
    assert.equal(run.calls.at(-1), "shutdown -h now");
    assert.match(run.stderr, /the metrics could not be published/);
    assert.equal(run.records.length, 1);
  });

  describe("timings", () => {
    it("records every timing of a run, in order, and publishes the overhead and start latency they define", async () => {
      const { run, upBefore, before } = await runs.spotSucceeded;
      const timings = run.records[0].timings as RunTimings;
      assert.equal(run.records[0].status, "succeeded", run.stderr);
      assert.deepEqual(
        Object.entries(timings).filter(([, v]) => v === null),
        [],
        "every timing is known",
      );
      assert.equal(timings.scheduledTime, SCHEDULED_TIME);
      assert.equal(timings.imageSizeBytes, IMAGE_SIZE_BYTES);
      // The kernel's uptime when the script started: between the two readings around the run.
      assert.ok(timings.bootSeconds! >= upBefore - 0.01 && timings.bootSeconds! <= uptime());
      const order = [
        timings.launchRequestedAt,
        timings.runInstancesAcceptedAt,
        timings.initScriptStartedAt,
        timings.dockerReadyAt,
        timings.registryLoggedInAt,
        timings.imagePulledAt,
        timings.containerStartedAt,
        timings.containerExitedAt,
        timings.recordWrittenAt,
      ] as string[];
      for (const t of [...order, timings.instanceLaunchTime!]) assert.match(t, ISO_MS);
      assert.deepEqual([...order].sort(), order, "phases in order");
      assert.ok(Date.parse(timings.initScriptStartedAt!) >= before - 5);
      assert.ok(Date.parse(timings.recordWrittenAt!) <= Date.now());

      const published = metrics(run);
      assert.equal(published.RunOverheadSeconds, overheadSeconds(timings));
      assert.equal(published.RunStartLatencySeconds, startLatencySeconds(timings));
      // The definitions, once by hand: launch to record, minus the container's run.
      const at = (iso: string | null) => Date.parse(iso!);
      assert.equal(
        published.RunOverheadSeconds,
        (at(timings.recordWrittenAt) -
          at(timings.instanceLaunchTime) -
          (at(timings.containerExitedAt) - at(timings.containerStartedAt))) /
          1000,
      );
      assert.ok(published.RunStartLatencySeconds >= 60);
    });

    it("counts the overhead from the boot when the launch time is not in the metadata", async () => {
      const run = await runs.interruptedUnusualInstance;
      const timings = run.records[0].timings as RunTimings;
      assert.deepEqual(
        [timings.launchRequestedAt, timings.runInstancesAcceptedAt, timings.instanceLaunchTime],
        [null, null, null],
      );
      const booted =
        Date.parse(timings.initScriptStartedAt!) - Math.round(timings.bootSeconds! * 1000);
      const ran = Date.parse(timings.containerExitedAt!) - Date.parse(timings.containerStartedAt!);
      assert.equal(
        metrics(run).RunOverheadSeconds,
        (Date.parse(timings.recordWrittenAt!) - booted - ran) / 1000,
      );
    });

    it("leaves unknown the phases a failed run never reached, and publishes no start latency", async () => {
      const run = await runs.pullFailed;
      const timings = run.records[0].timings as RunTimings;
      assert.equal(run.records[0].phase, "pull");
      assert.deepEqual(
        Object.entries(timings)
          .filter(([, v]) => v === null)
          .map(([k]) => k),
        ["imagePulledAt", "imageSizeBytes", "containerStartedAt", "containerExitedAt"],
      );
      const published = metrics(run);
      assert.equal(published.RunStartLatencySeconds, undefined);
      assert.equal(published.RunOverheadSeconds, overheadSeconds(timings));
    });

    it("has no registry login time for an image that needs none", async () => {
      const run = await runs.interruptedUnusualInstance;
      const timings = run.records[0].timings as RunTimings;
      assert.equal(timings.registryLoggedInAt, null);
      assert.match(timings.imagePulledAt!, ISO_MS);
    });
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
