/**
 * The pure parts of `npm run runs` for runs with attempts: an attempt's timings as a timeline,
 * and what a live instance's description and tags say of its run.
 */
import * as assert from "node:assert/strict";
import type { Instance } from "@aws-sdk/client-ec2";
import { attemptOf, liveRunOf, retryingRunIds } from "../../cli/liveRuns";
import { formatSeconds, timelineLines, timelineOf } from "../../cli/timeline";
import { TIMINGS } from "./support";

describe("formatSeconds", () => {
  const cases: Array<[number, string]> = [
    [0, "0.0s"],
    [0.44, "0.4s"],
    [59.94, "59.9s"],
    [59.96, "1m 00.0s"],
    [62.25, "1m 02.3s"],
    [3599.9, "59m 59.9s"],
    [3723, "1h 02m 03s"],
    [-0.2, "-0.2s"],
    [Number.NaN, "-"],
  ];
  for (const [seconds, text] of cases) {
    it(`${seconds} → ${text}`, () => assert.equal(formatSeconds(seconds), text));
  }
});

describe("timelineOf", () => {
  it("puts each phase's end at its offset from the scheduled time, with the phase's duration", () => {
    const timeline = timelineOf(TIMINGS)!;
    assert.deepEqual(
      timeline.events.map((e) => [e.event, e.offsetSeconds, e.phaseSeconds, e.note]),
      [
        ["scheduled", 0, undefined, undefined],
        ["launch requested", 0.4, 0.4, undefined],
        ["RunInstances accepted", 1.2, 0.8, undefined],
        ["instance launched", 1.5, 0.3, undefined],
        ["init script started", 16, 14.5, "boot 14.2s"],
        ["Docker ready", 19.5, 3.5, undefined],
        ["registry login done", 20.3, 0.8, undefined],
        ["image pulled", 31.8, 11.5, "202.5 MiB"],
        ["container started", 33.1, 1.3, undefined],
        ["container exited", 345.1, 312, undefined],
        ["record written", 346.1, 1, undefined],
      ].map(([event, at, took, note]) => [
        event,
        at,
        took === undefined ? undefined : Number(took),
        note,
      ]),
    );
    // Billed from the instance's launch (1.5 s) to the record (346.1 s): 344.6 s, of which the
    // container ran 312 s.
    assert.equal(Math.round(timeline.overheadSeconds! * 10) / 10, 32.6);
    assert.equal(Math.round(timeline.startLatencySeconds! * 10) / 10, 33.1);
    assert.equal(timeline.containerSeconds, 312);
  });

  it("skips what was not measured and counts the phase from the last known moment", () => {
    const timeline = timelineOf({
      ...TIMINGS,
      registryLoggedInAt: null,
      imageSizeBytes: null,
      instanceLaunchTime: null,
    })!;
    const pulled = timeline.events.find((e) => e.event === "image pulled")!;
    assert.equal(Math.round(pulled.phaseSeconds! * 10) / 10, 12.3, "from Docker ready");
    assert.equal(pulled.note, undefined);
    assert.ok(!timeline.events.some((e) => e.event === "registry login done"));
    // Without EC2's launch time, billing counts from the init script's start minus the boot:
    // 16.0 - 14.2 = 1.8 s, to the record at 346.1 s, minus the container's 312 s.
    assert.equal(Math.round(timeline.overheadSeconds! * 10) / 10, 32.3);
  });

  it("counts every billed second as overhead when the container never started", () => {
    const timeline = timelineOf({
      ...TIMINGS,
      containerStartedAt: null,
      containerExitedAt: null,
      recordWrittenAt: "2026-11-23T06:01:00.000Z",
    })!;
    assert.equal(Math.round(timeline.overheadSeconds! * 10) / 10, 58.5);
    assert.equal(timeline.startLatencySeconds, undefined);
  });

  it("has no overhead for a container with a start but no exit, and no timeline without a schedule", () => {
    assert.equal(timelineOf({ ...TIMINGS, containerExitedAt: null })!.overheadSeconds, undefined);
    assert.equal(timelineOf({ ...TIMINGS, scheduledTime: null }), undefined);
  });

  it("prints aligned lines and the two sums", () => {
    assert.deepEqual(timelineLines(timelineOf(TIMINGS)!), [
      "    +0.0s  scheduled",
      "    +0.4s  launch requested           0.4s",
      "    +1.2s  RunInstances accepted      0.8s",
      "    +1.5s  instance launched          0.3s",
      "   +16.0s  init script started       14.5s  (boot 14.2s)",
      "   +19.5s  Docker ready               3.5s",
      "   +20.3s  registry login done        0.8s",
      "   +31.8s  image pulled              11.5s  (202.5 MiB)",
      "   +33.1s  container started          1.3s",
      "+5m 45.1s  container exited       5m 12.0s",
      "+5m 46.1s  record written             1.0s",
      "schedule → container start: 33.1s",
      "overhead: 32.6s billed outside the container (instance launch to record, minus the container's 5m 12.0s)",
    ]);
  });
});

describe("live runs from instances", () => {
  const instance = (tags: Record<string, string>, extra: Partial<Instance> = {}): Instance => ({
    InstanceId: "i-0live",
    InstanceType: "t3.medium",
    State: { Name: "running" },
    LaunchTime: new Date("2026-11-23T10:11:30Z"),
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    ...extra,
  });
  const now = new Date("2026-11-23T10:15:42Z");

  it("reads the run, attempt, market, elapsed time and deadline", () => {
    assert.deepEqual(
      liveRunOf(
        "eu-west-1",
        instance(
          {
            "transient-jobs:job": "pi",
            "transient-jobs:run-id": "pi-20261123T1000Z",
            "transient-jobs:attempt": "2",
            "transient-jobs:scheduled-time": "2026-11-23T10:00:00Z",
            "transient-jobs:deadline": "2026-11-23T12:27:00Z",
          },
          { InstanceLifecycle: "spot" },
        ),
        now,
      ),
      {
        region: "eu-west-1",
        runId: "pi-20261123T1000Z",
        job: "pi",
        instanceId: "i-0live",
        state: "running",
        attempt: 2,
        scheduledTime: "2026-11-23T10:00:00Z",
        deadline: "2026-11-23T12:27:00Z",
        launchTime: "2026-11-23T10:11:30Z",
        instanceType: "t3.medium",
        purchaseOption: "spot",
        elapsedSeconds: 252,
        deadlineInSeconds: 7878,
      },
    );
  });

  it("counts an instance without an attempt tag as attempt 1, on demand, and skips one without a run id", () => {
    const run = liveRunOf(
      "eu-west-1",
      instance({ "transient-jobs:run-id": "pi-20261123T1000Z" }),
      now,
    )!;
    assert.equal(run.attempt, 1);
    assert.equal(run.job, "pi");
    assert.equal(run.purchaseOption, "on-demand");
    assert.equal(liveRunOf("eu-west-1", instance({ "transient-jobs:job": "pi" }), now), undefined);
  });

  const attempts: Array<[string | undefined, number]> = [
    [undefined, 1],
    ["1", 1],
    ["3", 3],
    ["0", 1],
    ["two", 1],
    ["-2", 1],
  ];
  for (const [tag, attempt] of attempts) {
    it(`reads attempt tag ${JSON.stringify(tag)} as ${attempt}`, () =>
      assert.equal(attemptOf(tag), attempt));
  }

  it("finds the runs between attempts: attempt records without a record or an instance", () => {
    assert.deepEqual(retryingRunIds(["pi-a", "pi-b", "pi-c", "pi-d"], ["pi-a"], ["pi-c"]), [
      "pi-b",
      "pi-d",
    ]);
  });
});
