/**
 * The init script's utilization sampler under bash with stub commands: `docker stats` answers
 * with fake samples while the stubbed container runs, `docker info` with the instance and
 * `docker inspect` with Docker's OOM flag. The record's figures must be those of the TypeScript
 * definition (launcher/utilization.ts) for the same samples.
 */
import * as assert from "node:assert/strict";
import { renderInitScript } from "../../launcher/initScript";
import { parseDockerStatsLine, summariseUtilization } from "../../launcher/utilization";
import {
  DEMO_DOCKER_STATS,
  initScriptInputFixture,
  M7I_LARGE_DOCKER_INFO,
} from "../../testing/fixtures";
import {
  runConcurrently,
  runScript,
  type ScriptRun,
  type StubBehaviour,
} from "../../testing/scriptHarness";

const M7I_LARGE = M7I_LARGE_DOCKER_INFO;
const DEMO_STATS = [...DEMO_DOCKER_STATS];

function script(): string {
  return renderInitScript(initScriptInputFixture());
}

/** The put-metric-data call's data, by metric name. */
function metrics(run: ScriptRun): Record<string, { Value: number; Unit: string }> {
  const line = run.calls.find((c) => c.startsWith("aws cloudwatch PutMetricData"))!;
  const data = JSON.parse(line.slice(line.indexOf("--metric-data ") + 14)) as Array<{
    MetricName: string;
    Value: number;
    Unit: string;
  }>;
  return Object.fromEntries(data.map((d) => [d.MetricName, { Value: d.Value, Unit: d.Unit }]));
}

function expected(stats: string[], oomKilled: boolean | null) {
  return summariseUtilization(
    stats.map((line) => parseDockerStatsLine(line)!),
    { memoryBytes: 8053063680, vcpus: 2 },
    oomKilled,
  );
}

async function run(behaviour: StubBehaviour): Promise<ScriptRun> {
  return runScript(script(), { dockerInfo: M7I_LARGE, ...behaviour });
}

/** Samples of a container not yet started (`--`) and gone, around two real ones. */
const GAPPY_STATS = ["0B / 0B|--", "1GiB / 7.5GiB|100.00%", "--", "1GiB / 7.5GiB|10.00%"];
const OOM_STATS = ["3.1GiB / 7.5GiB|100.00%", "6.2GiB / 7.5GiB|100.00%", "7.41GiB / 7.5GiB|98.10%"];
const INTERRUPTED_STATS = DEMO_STATS.slice(0, 3);

/** The runs, started together before the tests: each mostly waits on its stubs. */
function scenarios() {
  return runConcurrently({
    // First, so that its time is not the queue's.
    samplerWaiting: async () => {
      const started = Date.now();
      const result = await run({ dockerInfoSeconds: 10, oomKilled: "false" });
      return { result, ms: Date.now() - started };
    },
    demo: () => run({ stats: DEMO_STATS, oomKilled: "false" }),
    // Also a SIGKILL that Docker does not call an OOM kill.
    gappyKilled: () => run({ stats: GAPPY_STATS, oomKilled: "false", runExit: 137 }),
    oomKilled: () => run({ stats: OOM_STATS, oomKilled: "true", runExit: 137 }),
    oomThenOwnError: () => run({ stats: ["5GiB / 7.5GiB|10.00%"], oomKilled: "true", runExit: 1 }),
    oomBeforeFirstSample: () => run({ oomKilled: "true", runExit: 137 }),
    childOomKilled: () => run({ stats: DEMO_STATS, oomKilled: "true" }),
    shutDownUnderTheJob: () =>
      runScript(
        script(),
        { dockerInfo: M7I_LARGE, stats: INTERRUPTED_STATS, runSleepSeconds: 5, oomKilled: "false" },
        "stats.done",
      ),
  });
}

describe("init script utilization sampling", function () {
  // Each run is a bash script and tens of processes: seconds apiece on a loaded machine.
  this.timeout(60000);
  let runs: ReturnType<typeof scenarios>;
  before(() => {
    runs = scenarios();
  });

  it("records the demo job's memory and CPU as the definition computes them, and publishes them", async () => {
    const result = await runs.demo;
    assert.equal(result.status, 0, result.stderr);
    const [record] = result.records;
    assert.equal(record.status, "succeeded");
    assert.deepEqual(record.utilization, expected(DEMO_STATS, false));
    // Sensible for the demo: a few hundred MiB of 7.5 GiB, and most of both vCPUs.
    assert.deepEqual(record.utilization, {
      samples: 5,
      intervalSeconds: 5,
      instanceMemoryBytes: 8053063680,
      instanceVcpus: 2,
      peakMemoryBytes: 327050854,
      meanMemoryBytes: 186556350,
      peakMemoryPercent: 4.06,
      meanMemoryPercent: 2.31,
      meanCpuPercent: 80.71,
      p95CpuPercent: 99.95,
      oomKilled: false,
    });
    const published = metrics(result);
    assert.deepEqual(published.RunPeakMemoryPercent, { Value: 4.06, Unit: "Percent" });
    assert.deepEqual(published.RunMeanCpuPercent, { Value: 80.71, Unit: "Percent" });
    assert.deepEqual(published.RunOomKilled, { Value: 0, Unit: "Count" });
    assert.equal(
      result.calls.filter((c) => c.startsWith("docker stats")).length >= DEMO_STATS.length,
      true,
    );
  });

  it("skips samples of a container not yet started or already gone", async () => {
    const result = await runs.gappyKilled;
    const utilization = result.records[0].utilization as Record<string, unknown>;
    assert.equal(utilization.samples, 2);
    assert.deepEqual(utilization, expected([GAPPY_STATS[1], GAPPY_STATS[3]], false));
  });

  it("fails a run the OOM killer ended, saying so and naming the instance type's memory", async () => {
    const stats = OOM_STATS;
    const result = await runs.oomKilled;
    const [record] = result.records;
    assert.equal(record.status, "failed");
    assert.equal(record.exitCode, 137);
    assert.equal(
      record.message,
      "the kernel's OOM killer ended the job (exit status 137): out of memory on m7i.large with 7.5 GiB (peak sampled 7.4 GiB, 98.79%); use an instance type with more memory",
    );
    assert.deepEqual(record.utilization, expected(stats, true));
    assert.equal((record.utilization as { oomKilled: boolean }).oomKilled, true);
    assert.deepEqual(metrics(result).RunOomKilled, { Value: 1, Unit: "Count" });
    assert.deepEqual(metrics(result).RunPeakMemoryPercent, { Value: 98.79, Unit: "Percent" });
    assert.match(String(result.records[0].message), /^the kernel's OOM killer ended the job/);
  });

  it("names the OOM kill of a job that exited with its own error after it", async () => {
    const result = await runs.oomThenOwnError;
    assert.match(
      String(result.records[0].message),
      /^the kernel's OOM killer ended the job \(exit status 1\): out of memory on m7i\.large with 7\.5 GiB \(peak sampled 5\.0 GiB, 66\.66%\)/,
    );
  });

  it("reports an OOM kill before the first sample, with the instance's memory", async () => {
    const result = await runs.oomBeforeFirstSample;
    const [record] = result.records;
    assert.equal(
      record.message,
      "the kernel's OOM killer ended the job (exit status 137): out of memory on m7i.large with 7.5 GiB; use an instance type with more memory",
    );
    assert.deepEqual(record.utilization, expected([], true));
    const published = metrics(result);
    assert.equal(published.RunPeakMemoryPercent, undefined);
    assert.deepEqual(published.RunOomKilled, { Value: 1, Unit: "Count" });
  });

  it("does not call a SIGKILL an OOM kill when Docker does not", async () => {
    const result = await runs.gappyKilled;
    assert.equal(
      result.records[0].message,
      "the job was killed by SIGKILL (exit status 137) on m7i.large with 7.5 GiB (peak sampled 1.0 GiB, 13.33%); Docker reports no OOM kill",
    );
  });

  it("keeps a successful run successful when Docker flags an OOM kill of a child process", async () => {
    const result = await runs.childOomKilled;
    assert.equal(result.records[0].status, "succeeded");
    assert.equal(result.records[0].message, "the job exited with status 0");
    assert.deepEqual(metrics(result).RunOomKilled, { Value: 1, Unit: "Count" });
  });

  it("neither starts nor ends the run later for a sampler still waiting on Docker", async () => {
    // The sampler's first question takes 10 s; the run, its record and the power-off do not wait
    // (a whole run takes well under a second on a quiet machine, a few seconds on a loaded one).
    const { result, ms } = await runs.samplerWaiting;
    assert.ok(ms < 8000, `${ms} ms`);
    assert.equal(result.records[0].status, "succeeded");
    assert.equal(result.calls.at(-1), "shutdown -h now");
    const utilization = result.records[0].utilization as Record<string, unknown>;
    assert.deepEqual([utilization.samples, utilization.instanceMemoryBytes], [0, null]);
  });

  it("records the samples taken when the instance shuts down under the job", async () => {
    const stats = INTERRUPTED_STATS;
    const result = await runs.shutDownUnderTheJob;
    const [record] = result.records;
    assert.match(String(record.message), /^interrupted by SIGTERM during run/);
    // Interrupted: the figures sampled so far, without asking Docker about an OOM kill.
    assert.deepEqual(record.utilization, expected(stats, null));
    assert.equal(
      result.calls.some((c) => c.startsWith("docker inspect")),
      false,
    );
  });
});
