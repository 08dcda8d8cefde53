import * as assert from "node:assert/strict";
import {
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { InvalidLaunchEventError, LaunchFailedError, UnknownJobError } from "../../launcher/errors";
import { handleLaunchEvent, parseLaunchEvent } from "../../launcher/handler";
import { NOW, specFixture } from "./fixtures";

describe("parseLaunchEvent", () => {
  const valid: [unknown, unknown][] = [
    [
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z" },
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z" },
    ],
    [
      { job: "pi", scheduledTime: "2026-11-23T03:00Z", manual: true, extra: 1 },
      { job: "pi", scheduledTime: "2026-11-23T03:00Z", manual: true },
    ],
    [
      { job: "nightly-2", scheduledTime: "2026-11-23T04:00:00.123+01:00", manual: false },
      { job: "nightly-2", scheduledTime: "2026-11-23T04:00:00.123+01:00", manual: false },
    ],
  ];
  for (const [event, expected] of valid) {
    it(`accepts ${JSON.stringify(event)}`, () =>
      assert.deepEqual(parseLaunchEvent(event), expected));
  }

  const example = `{"job": "pi", "scheduledTime": "2026-11-23T03:00:00Z"}`;
  const invalid: [string, unknown, string][] = [
    ["null", null, `launch event: expected an object like ${example}, got null`],
    ["a string", "pi", `launch event: expected an object like ${example}, got string "pi"`],
    ["an array", [], `launch event: expected an object like ${example}, got an array`],
    [
      "no job",
      { scheduledTime: "2026-11-23T03:00:00Z" },
      `launch event.job: expected the job name as a string, got nothing; e.g. ${example}`,
    ],
    [
      "a numeric job",
      { job: 7, scheduledTime: "2026-11-23T03:00:00Z" },
      `launch event.job: expected the job name as a string, got number 7; e.g. ${example}`,
    ],
    [
      "a job name with a shell character",
      { job: "pi;reboot", scheduledTime: "2026-11-23T03:00:00Z" },
      `launch event.job: "pi;reboot" is not a job name (1-63 lower-case letters, digits and hyphens)`,
    ],
    [
      "no time",
      { job: "pi" },
      `launch event.scheduledTime: expected an ISO-8601 time string, got nothing; e.g. ${example}`,
    ],
    [
      "the unsubstituted Scheduler placeholder",
      { job: "pi", scheduledTime: "<aws.scheduler.scheduled-time>" },
      "launch event.scheduledTime: got the unsubstituted placeholder <aws.scheduler.scheduled-time>; the schedule's target input must be a JSON template so that Scheduler fills it in",
    ],
    [
      "a time without zone",
      { job: "pi", scheduledTime: "2026-11-23T03:00:00" },
      `launch event.scheduledTime: "2026-11-23T03:00:00" is not an ISO-8601 time with a zone, e.g. 2026-11-23T03:00:00Z`,
    ],
    [
      "an impossible date",
      { job: "pi", scheduledTime: "2026-13-45T03:00:00Z" },
      `launch event.scheduledTime: "2026-13-45T03:00:00Z" is not an ISO-8601 time with a zone, e.g. 2026-11-23T03:00:00Z`,
    ],
    [
      "a string manual flag",
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z", manual: "yes" },
      `launch event.manual: expected true, false or no field, got string "yes"`,
    ],
  ];
  for (const [title, event, message] of invalid) {
    it(`rejects ${title}`, () => {
      assert.throws(
        () => parseLaunchEvent(event),
        (e: Error) => e instanceof InvalidLaunchEventError && e.message === message,
      );
    });
  }
});

describe("handleLaunchEvent", () => {
  const ec2 = new EC2Client({ region: "eu-west-1" });
  const ec2Mock = mockClient(ec2);
  const jobs = { pi: specFixture() };
  let logs: string[];
  const deps = () => ({
    ec2,
    jobs,
    now: () => NOW,
    remainingTimeMs: () => 60000,
    sleep: async () => undefined,
    log: (line: string) => void logs.push(line),
  });

  beforeEach(() => {
    ec2Mock.reset();
    logs = [];
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  });

  it("launches the event's job at its scheduled time", async () => {
    ec2Mock.on(RunInstancesCommand).resolves({
      Instances: [
        {
          InstanceId: "i-1",
          InstanceType: "m7i.large",
          Placement: { AvailabilityZone: "eu-west-1a" },
        },
      ],
    });
    const result = await handleLaunchEvent(
      { job: "pi", scheduledTime: "2026-11-23T04:00:00+01:00", manual: true },
      deps(),
    );
    assert.equal(result.status, "launched");
    assert.equal(result.runId, "pi-20261123T0300Z");
    assert.equal(result.scheduledTime, "2026-11-23T03:00:00Z");
    assert.equal(result.manual, true);
    assert.equal(logs.length, 1);
    assert.equal(JSON.parse(logs[0]).instanceId, "i-1");
  });

  it("rejects a malformed event with a clear error and one log line, before any EC2 call", async () => {
    await assert.rejects(
      handleLaunchEvent({ job: "pi" }, deps()),
      (e: Error) =>
        e instanceof InvalidLaunchEventError && e.message.startsWith("launch event.scheduledTime:"),
    );
    assert.equal(ec2Mock.calls().length, 0);
    assert.deepEqual(JSON.parse(logs[0]), {
      level: "error",
      status: "rejected",
      error: "InvalidLaunchEventError",
      message: `launch event.scheduledTime: expected an ISO-8601 time string, got nothing; e.g. {"job": "pi", "scheduledTime": "2026-11-23T03:00:00Z"}`,
    });
  });

  for (const job of ["nightly", "constructor"]) {
    it(`rejects job ${job}, which this launcher does not have`, async () => {
      await assert.rejects(
        handleLaunchEvent({ job, scheduledTime: "2026-11-23T03:00:00Z" }, deps()),
        (e: Error) =>
          e instanceof UnknownJobError &&
          e.message ===
            `launch event.job: no job "${job}" in this launcher (deployed jobs: pi); check the job name or deploy it to this region`,
      );
      assert.equal(ec2Mock.calls().length, 0);
    });
  }

  it("returns skipped results", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: "i-0prev",
              State: { Name: "running" },
              Tags: [{ Key: "transient-jobs:run-id", Value: "pi-20261123T0200Z" }],
            },
          ],
        },
      ],
    });
    const result = await handleLaunchEvent(
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z" },
      deps(),
    );
    assert.equal(result.status, "skipped");
  });

  it("throws LaunchFailedError carrying the failed result, so the invocation fails", async () => {
    ec2Mock.on(RunInstancesCommand).rejects(
      new EC2ServiceException({
        name: "UnauthorizedOperation",
        message: "not allowed",
        $fault: "client",
        $metadata: {},
      }),
    );
    await assert.rejects(
      handleLaunchEvent({ job: "pi", scheduledTime: "2026-11-23T03:00:00Z" }, deps()),
      (e: Error) =>
        e instanceof LaunchFailedError &&
        e.message ===
          "run pi-20261123T0300Z of job pi was not launched: RunInstances failed with UnauthorizedOperation: not allowed (on-demand m7i.large in subnet-aaaa); not retried" &&
        (e.result as { status: string }).status === "failed",
    );
    assert.equal(JSON.parse(logs[0]).status, "failed");
  });
});
