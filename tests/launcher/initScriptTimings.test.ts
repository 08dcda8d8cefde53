/**
 * The phase timings of every attempt record, and the two overhead metrics computed from them on
 * the instance, proven by running the rendered script under bash with stubs (testing/awsStub.ts
 * plays IMDS, with the launcher's launch-time tags).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import type { RunTimings } from "../../launcher/contract";
import { renderInitScript, type InitScriptInput } from "../../launcher/initScript";
import { overheadSeconds, startLatencySeconds } from "../../launcher/runTimings";
import { initScriptInputFixture } from "../../testing/fixtures";
import { IMAGE_SIZE_BYTES, runScript, type ScriptRun } from "../../testing/scriptHarness";

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A scheduled time a minute ago (whole seconds, as Scheduler sends it). */
function aMinuteAgo(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toISOString().replace(".000", "");
}

const input = (overrides: Partial<InitScriptInput> = {}) =>
  initScriptInputFixture({ scheduledTime: aMinuteAgo(), ...overrides });

/** The PutMetricData values by metric name. */
function metrics(run: ScriptRun): Record<string, number> {
  const line = run.calls.find((c) => c.startsWith("aws cloudwatch PutMetricData"))!;
  const data = JSON.parse(line.slice(line.indexOf("--metric-data ") + 14)) as {
    MetricName: string;
    Value: number;
  }[];
  return Object.fromEntries(data.map((d) => [d.MetricName, d.Value]));
}

const uptime = () => Number(fs.readFileSync("/proc/uptime", "utf8").split(" ")[0]);

describe("init script timings", function () {
  // Each run is a bash script and tens of processes: seconds apiece on a loaded machine.
  this.timeout(60000);

  it("records every timing of a run, in order, and publishes the overhead and start latency they define", async () => {
    const scheduledTime = aMinuteAgo();
    const [upBefore, before] = [uptime(), Date.now()];
    const run = await runScript(renderInitScript(input({ scheduledTime })));
    const timings = run.records[0].timings as RunTimings;
    assert.equal(run.records[0].status, "succeeded", run.stderr);
    assert.deepEqual(
      Object.entries(timings).filter(([, v]) => v === null),
      [],
      "every timing is known",
    );
    assert.equal(timings.scheduledTime, scheduledTime);
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
    const run = await runScript(renderInitScript(input()), { noLaunchTags: true });
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
    const run = await runScript(renderInitScript(input({ pullAttempts: 1 })), { pullFailures: 9 });
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
    const run = await runScript(
      renderInitScript(input({ imageUri: "public.ecr.aws/docker/library/busybox:1.36" })),
    );
    const timings = run.records[0].timings as RunTimings;
    assert.equal(timings.registryLoggedInAt, null);
    assert.match(timings.imagePulledAt!, ISO_MS);
  });
});
