import * as assert from "node:assert/strict";
import type { RunTimings } from "../../launcher/contract";
import { billedFromMs, overheadSeconds, startLatencySeconds } from "../../launcher/runTimings";

const TIMINGS: RunTimings = {
  scheduledTime: "2026-11-23T03:00:00Z",
  launchRequestedAt: "2026-11-23T03:00:01.200Z",
  runInstancesAcceptedAt: "2026-11-23T03:00:02.000Z",
  instanceLaunchTime: "2026-11-23T03:00:02.000Z",
  bootSeconds: 21.5,
  initScriptStartedAt: "2026-11-23T03:00:30.000Z",
  dockerReadyAt: "2026-11-23T03:00:31.000Z",
  registryLoggedInAt: "2026-11-23T03:00:32.000Z",
  imagePulledAt: "2026-11-23T03:00:40.000Z",
  imageSizeBytes: 1000,
  containerStartedAt: "2026-11-23T03:00:41.000Z",
  containerExitedAt: "2026-11-23T03:10:41.000Z",
  recordWrittenAt: "2026-11-23T03:10:43.250Z",
};

describe("run timings", () => {
  it("bills from the launch time, or else from the boot, or not at all", () => {
    assert.equal(billedFromMs(TIMINGS), Date.parse("2026-11-23T03:00:02Z"));
    const noLaunch = { ...TIMINGS, instanceLaunchTime: null };
    assert.equal(billedFromMs(noLaunch), Date.parse("2026-11-23T03:00:08.500Z"));
    assert.equal(billedFromMs({ ...noLaunch, bootSeconds: null }), undefined);
  });

  it("counts the overhead outside the container, and the latency to its start", () => {
    // 02.000 to 43.250 past ten minutes, minus the container's 600 s.
    assert.equal(overheadSeconds(TIMINGS), 41.25);
    assert.equal(startLatencySeconds(TIMINGS), 41);
    const neverRan = { ...TIMINGS, containerStartedAt: null, containerExitedAt: null };
    assert.equal(overheadSeconds(neverRan), 641.25);
    assert.equal(startLatencySeconds(neverRan), undefined);
    assert.equal(overheadSeconds({ ...TIMINGS, recordWrittenAt: null }), undefined);
  });
});
