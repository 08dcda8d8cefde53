/**
 * Spot interruptions and scheduled stops: the init script's watcher polls the instance metadata,
 * stops the container well within EC2's two minutes, and the attempt's record says
 * `interrupted`, written before the power-off. Proven under bash with stubs; the stand-in's IMDS
 * (testing/awsStub.ts) gives the notice once the container has started.
 */
import * as assert from "node:assert/strict";
import {
  INTERRUPTION_GRACE_SECONDS,
  NOTICE_POLL_SECONDS,
  renderInitScript,
  SPOT_WARNING_SECONDS,
} from "../../launcher/initScript";
import { initScriptInputFixture } from "../../testing/fixtures";
import {
  runConcurrently,
  runScript,
  withNoticePollSeconds,
  type ScriptRun,
} from "../../testing/scriptHarness";

const STOP = `docker stop --time ${INTERRUPTION_GRACE_SECONDS} tj-pi-20261123T0300Z`;
// A notice is seen within a quarter of a second, not the production's five.
const script = () => withNoticePollSeconds(renderInitScript(initScriptInputFixture()), 0.25);

/** The runs, started together before the tests (each mostly waits on its container). */
function scenarios() {
  return runConcurrently({
    spot: () =>
      runScript(script(), {
        runSleepSeconds: 30,
        spotNotice: { action: "terminate", time: "2026-11-23T03:41:00Z", after: "docker-run.argv" },
      }),
    scheduled: () =>
      runScript(script(), {
        runSleepSeconds: 30,
        scheduledEvents: {
          after: "docker-run.argv",
          events: [
            {
              Code: "instance-retirement",
              State: "Completed",
              NotBefore: "21 Nov 2026 09:00:00 GMT",
            },
            { Code: "system-maintenance", State: "Active", NotBefore: "22 Nov 2026 09:00:00 GMT" },
            { Code: "instance-stop", State: "Active", NotBefore: "24 Nov 2026 09:00:00 GMT" },
          ],
        },
      }),
    noNotice: () =>
      runScript(script(), {
        runSleepSeconds: 1,
        stoppedExit: 0,
        scheduledEvents: {
          after: "docker-run.argv",
          events: [{ Code: "system-maintenance", State: "Active", NotBefore: "x" }],
        },
      }),
  });
}

/** The calls from the container's start on, without the clock's, IMDS's and the sampler's. */
function tail(run: ScriptRun): string[] {
  const from = run.calls.findIndex((c) => c.startsWith("docker run"));
  return run.calls
    .slice(from + 1)
    .filter((c) => !/^(curl|date|docker info|docker stats|docker inspect|sleep)\b/.test(c))
    .map((c) => c.replace(/ --metric-data .*/, ""));
}

describe("init script interruptions", function () {
  // Each run is a bash script and tens of processes: seconds apiece on a loaded machine.
  this.timeout(60000);
  let runs: ReturnType<typeof scenarios>;
  before(() => {
    runs = scenarios();
  });

  it("leaves time to report within a spot instance's two minutes", () => {
    // Worst case: a notice just after a poll, the grace, docker's own stop timeout margin, and
    // about a minute for the record (one PUT) and the metrics.
    assert.ok(NOTICE_POLL_SECONDS + INTERRUPTION_GRACE_SECONDS + 10 + 40 <= SPOT_WARNING_SECONDS);
    // The runs below poll faster; the rendered script polls at this interval.
    assert.match(
      renderInitScript(initScriptInputFixture()),
      new RegExp(`^readonly NOTICE_POLL_SECONDS=${NOTICE_POLL_SECONDS}$`, "m"),
    );
  });

  it("stops the job on a spot interruption notice and records the attempt as interrupted before powering off", async () => {
    const run = await runs.spot;
    const [record] = run.records;
    assert.deepEqual(
      [record.status, record.phase, record.exitCode, record.attempt],
      ["interrupted", "run", 143, 1],
      run.stderr,
    );
    assert.equal(
      record.message,
      "interrupted by a spot interruption notice (terminate at 2026-11-23T03:41:00Z) during run: stopped, exit status 143",
    );
    assert.ok((record.durationSeconds as number) < 20, "the container was not stopped");
    assert.deepEqual(tail(run), [
      STOP,
      "docker logs --tail 1 tj-pi-20261123T0300Z",
      "aws s3 PutObject s3://tj-results-dev-eu-west-1/jobs/pi/runs/pi-20261123T0300Z/attempt-1.json --region eu-west-1 --content-type application/json",
      "aws cloudwatch PutMetricData --region eu-west-1 --namespace TransientJobs",
      "shutdown -h now",
    ]);
    assert.deepEqual(run.runtimeFiles, [], "the notice and credential files are gone");
  });

  it("does the same for a scheduled stop, and ignores completed events and mere maintenance", async () => {
    const run = await runs.scheduled;
    const [record] = run.records;
    assert.equal(record.status, "interrupted", run.stderr);
    assert.equal(
      record.message,
      "interrupted by a scheduled instance-stop event (not before 24 Nov 2026 09:00:00 GMT) during run: stopped, exit status 143",
    );
    assert.ok(tail(run).includes(STOP));
    assert.equal(run.calls.at(-1), "shutdown -h now");
  });

  it("has no effect without a notice, or with only events that stop nothing", async () => {
    const run = await runs.noNotice;
    assert.deepEqual(
      [run.records[0].status, run.records[0].exitCode],
      ["succeeded", 0],
      run.stderr,
    );
    assert.equal(
      run.calls.some((c) => c.startsWith("docker stop")),
      false,
    );
    // It polled while the job ran, and ended with the script.
    assert.ok(run.calls.filter((c) => c.includes("/meta-data/spot/instance-action")).length >= 2);
  });
});
