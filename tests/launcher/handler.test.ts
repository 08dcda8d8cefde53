import * as assert from "node:assert/strict";
import {
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { mockClient } from "aws-sdk-client-mock";
import { InvalidLaunchEventError, LaunchFailedError, UnknownJobError } from "../../launcher/errors";
import { handleLaunchEvent, parseLaunchEvent } from "../../launcher/handler";
import { NOW, s3PreconditionFailed, specFixture } from "../../testing/fixtures";

const RETRY = {
  purchaseOption: "on-demand",
  notBefore: "2026-11-23T03:42:00Z",
  deadlineMinutes: 100,
};

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
    [
      {
        job: "pi",
        scheduledTime: "2026-11-22T03:00:00Z",
        manual: true,
        requestedTime: "2026-11-23T10:15:42Z",
      },
      {
        job: "pi",
        scheduledTime: "2026-11-22T03:00:00Z",
        manual: true,
        requestedTime: "2026-11-23T10:15:42Z",
      },
    ],
    [
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z", attempt: 2, retry: RETRY },
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z", attempt: 2, retry: RETRY },
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
      `launch event.job: "pi;reboot" is not a job name (1-24 lowercase letters, digits and "-", starting with a letter)`,
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
    [
      "a request time on a scheduled run",
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z", requestedTime: "2026-11-23T03:00:00Z" },
      `launch event.requestedTime: only a manual launch ("manual": true) may carry it; a scheduled run's deadline counts from its scheduledTime`,
    ],
    [
      "a malformed request time",
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z", manual: true, requestedTime: 5 },
      "launch event.requestedTime: number 5 is not an ISO-8601 time with a zone, e.g. 2026-11-23T03:00:00Z",
    ],
    [
      "attempt 1 as a retry",
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z", attempt: 1, retry: RETRY },
      "launch event.attempt: number 1 is not a later attempt; use a whole number from 2 to 11 (attempt 1 is the scheduled launch, which has none)",
    ],
    [
      "an attempt beyond the most retries",
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z", attempt: 12, retry: RETRY },
      "launch event.attempt: number 12 is not a later attempt; use a whole number from 2 to 11 (attempt 1 is the scheduled launch, which has none)",
    ],
    [
      "an attempt without its retry",
      { job: "pi", scheduledTime: "2026-11-23T03:00:00Z", attempt: 2 },
      "launch event.retry: expected { purchaseOption, notBefore, deadlineMinutes } with attempt 2, got nothing",
    ],
    [
      "a retry with an unknown purchase option",
      {
        job: "pi",
        scheduledTime: "2026-11-23T03:00:00Z",
        attempt: 2,
        retry: { ...RETRY, purchaseOption: "reserved" },
      },
      'launch event.retry.purchaseOption: string "reserved" is not one of on-demand, spot, spot-then-on-demand',
    ],
    [
      "a retry with a deadline shorter than an attempt needs",
      {
        job: "pi",
        scheduledTime: "2026-11-23T03:00:00Z",
        attempt: 2,
        retry: { ...RETRY, deadlineMinutes: 9 },
      },
      "launch event.retry.deadlineMinutes: number 9 must be a whole number of minutes from 10 to 10080",
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

/** A DescribeInstances answer listing one instance of run `runId`. */
function oneInstance(instanceId: string, state: string, runId: string) {
  return {
    Reservations: [
      {
        Instances: [
          {
            InstanceId: instanceId,
            State: { Name: state as "running" },
            Tags: [{ Key: "transient-jobs:run-id", Value: runId }],
          },
        ],
      },
    ],
  };
}

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
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolves(oneInstance("i-0prev", "running", "pi-20261123T0200Z"));
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

  describe("runs it did not launch", () => {
    const s3 = new S3Client({ region: "eu-west-1" });
    const s3Mock = mockClient(s3);
    const sns = new SNSClient({ region: "eu-west-1" });
    const snsMock = mockClient(sns);
    const cloudwatch = new CloudWatchClient({ region: "eu-west-1" });
    const cloudwatchMock = mockClient(cloudwatch);
    const topic = "arn:aws:sns:eu-west-1:123456789012:tj-dev-eu-west-1-notifications-topic";
    const reporting = () => ({
      ...deps(),
      jobs: { pi: specFixture({ topicArn: topic }) },
      s3,
      sns,
      cloudwatch,
      launcherLogGroup: "/aws/lambda/launcher",
    });
    const event = { job: "pi", scheduledTime: "2026-11-23T03:00:00Z" };

    beforeEach(() => {
      s3Mock.reset();
      snsMock.reset();
      cloudwatchMock.reset();
      snsMock.on(PublishCommand).resolves({});
      cloudwatchMock.on(PutMetricDataCommand).resolves({});
      ec2Mock.on(RunInstancesCommand).rejects(
        new EC2ServiceException({
          name: "InsufficientInstanceCapacity",
          message: "no capacity",
          $fault: "server",
          $metadata: { httpStatusCode: 500 },
        }),
      );
    });

    it("writes a failed run's record once, with the reason and the attempts, then fails", async () => {
      s3Mock.on(PutObjectCommand).resolves({});
      await assert.rejects(handleLaunchEvent(event, reporting()), LaunchFailedError);
      const [put] = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
      const { Body, ...input } = put;
      // If-None-Match: S3 refuses to overwrite, so a retried invocation keeps the first record.
      assert.deepEqual(input, {
        Bucket: "tj-results-dev-eu-west-1",
        Key: "jobs/pi/runs/pi-20261123T0300Z.json",
        ContentType: "application/json",
        IfNoneMatch: "*",
      });
      const record = JSON.parse(String(Body));
      assert.deepEqual(
        { ...record, attempts: record.attempts.length },
        {
          runId: "pi-20261123T0300Z",
          job: "pi",
          environment: "dev",
          region: "eu-west-1",
          status: "failed",
          phase: "launch",
          exitCode: null,
          message:
            "no capacity: every purchase option, instance type and subnet was tried (4 attempts)",
          scheduledTime: "2026-11-23T03:00:00Z",
          manual: false,
          attempt: 1,
          startedAt: null,
          endedAt: "2026-11-23T03:00:10Z",
          instanceId: null,
          attempts: 4,
          logGroup: "/aws/lambda/launcher",
        },
      );
      assert.deepEqual(record.attempts[0], {
        purchaseOption: "on-demand",
        instanceType: "m7i.large",
        subnetId: "subnet-aaaa",
        outcome: "capacity",
        errorCode: "InsufficientInstanceCapacity",
        message: "no capacity",
      });
      assert.equal(snsMock.commandCalls(PublishCommand).length, 1);
    });

    it("notifies once: a retried invocation finds the record and only counts", async () => {
      s3Mock.on(PutObjectCommand).rejects(s3PreconditionFailed());
      await assert.rejects(handleLaunchEvent(event, reporting()), LaunchFailedError);
      assert.equal(s3Mock.commandCalls(PutObjectCommand).length, 1);
      assert.equal(snsMock.commandCalls(PublishCommand).length, 0);
      assert.equal(cloudwatchMock.commandCalls(PutMetricDataCommand).length, 1);
    });

    it("still fails, notifies and logs when the record cannot be written", async () => {
      s3Mock.on(PutObjectCommand).rejects(new Error("AccessDenied"));
      await assert.rejects(handleLaunchEvent(event, reporting()), LaunchFailedError);
      assert.equal(snsMock.commandCalls(PublishCommand).length, 1);
      assert.ok(
        logs.some((l) => JSON.parse(l).status === "record-failed"),
        logs.join("\n"),
      );
    });

    it("records a skipped run, naming the live run that blocked it", async () => {
      s3Mock.on(PutObjectCommand).resolves({});
      ec2Mock
        .on(DescribeInstancesCommand)
        .resolves(oneInstance("i-0prev", "running", "pi-20261123T0200Z"));
      const result = await handleLaunchEvent(event, reporting());
      assert.equal(result.status, "skipped");
      const record = JSON.parse(
        String(s3Mock.commandCalls(PutObjectCommand)[0].args[0].input.Body),
      );
      assert.deepEqual(
        [record.status, record.phase, record.liveRuns, record.attempts],
        ["skipped", "launch", ["pi-20261123T0200Z"], []],
      );
      assert.match(record.message, /^concurrencyPolicy forbid: run pi-20261123T0200Z/);
    });

    it("neither records nor notifies a run that already ended, and does not fail", async () => {
      ec2Mock
        .on(DescribeInstancesCommand)
        .resolves(oneInstance("i-0done", "terminated", "pi-20261123T0300Z"));
      const result = await handleLaunchEvent(event, reporting());
      assert.equal(result.status, "ended");
      assert.equal(s3Mock.commandCalls(PutObjectCommand).length, 0);
      assert.equal(snsMock.commandCalls(PublishCommand).length, 0);
      assert.equal(ec2Mock.commandCalls(RunInstancesCommand).length, 0);
    });
  });
});
