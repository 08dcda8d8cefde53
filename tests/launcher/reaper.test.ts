import * as assert from "node:assert/strict";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type { Instance } from "@aws-sdk/client-ec2";
import { PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { attemptInputs, renderInitScript } from "../../launcher/initScript";
import {
  decideReaping,
  handleReaperInvocation,
  InvalidReaperSettingsError,
  parseDeadline,
  reapExpired,
  ReapFailedError,
  reaperFilters,
} from "../../launcher/reaper";
import { s3PreconditionFailed, specFixture } from "../../testing/fixtures";
import { runRecordKey } from "../../launcher/runRecord";

/** The reaper's clock throughout: 2026-11-23 06:00 UTC. */
const NOW = new Date("2026-11-23T06:00:00Z");

const SETTINGS = {
  environment: "dev",
  region: "eu-west-1",
  bucket: "tj-results-dev-eu-west-1",
  topicArn: "arn:aws:sns:eu-west-1:123456789012:tj-dev-runs",
};

/** An instance of run `pi-<stamp>` of `dev`, with a deadline; override tags with `tags`. */
function instance(
  id: string,
  deadline: string | undefined,
  tags: Record<string, string | undefined> = {},
  state = "running",
): Instance {
  const all: Record<string, string | undefined> = {
    "transient-jobs:project": "transient-jobs",
    "transient-jobs:environment": "dev",
    "transient-jobs:job": "pi",
    "transient-jobs:run-id": "pi-20261123T0300Z",
    "transient-jobs:scheduled-time": "2026-11-23T03:00:00Z",
    "transient-jobs:deadline": deadline,
    ...tags,
  };
  return {
    InstanceId: id,
    InstanceType: "t3.medium",
    LaunchTime: new Date("2026-11-23T03:00:10Z"),
    Placement: { AvailabilityZone: "eu-west-1a" },
    State: { Name: state as "running" },
    Tags: Object.entries(all)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([Key, Value]) => ({ Key, Value })),
  };
}

describe("reaper decisions", () => {
  const settings = { environment: "dev", graceMinutes: 10 };
  const cases: Array<[string, Instance, string, string | number]> = [
    ["11 minutes past its deadline", instance("i-1", "2026-11-23T05:49:00Z"), "reap", 11],
    [
      "3 hours past its deadline, stopped",
      instance("i-1", "2026-11-23T03:00:00Z", {}, "stopped"),
      "reap",
      180,
    ],
    [
      "exactly at the end of the grace",
      instance("i-1", "2026-11-23T05:50:00Z"),
      "keep",
      "within the grace of 10 minutes after its deadline",
    ],
    ["before its deadline", instance("i-1", "2026-11-23T06:20:00Z"), "keep", "before its deadline"],
    [
      "without a deadline tag",
      instance("i-1", undefined),
      "report",
      "no transient-jobs:deadline tag; the reaper never terminates an instance without one",
    ],
    [
      "with a deadline that is not a time",
      instance("i-1", "yesterday"),
      "report",
      'transient-jobs:deadline tag "yesterday" is not an ISO-8601 UTC time such as 2026-11-23T05:00:00Z; the reaper never terminates it',
    ],
    [
      "with a deadline on the 30th of February",
      instance("i-1", "2026-02-30T00:00:00Z"),
      "report",
      'transient-jobs:deadline tag "2026-02-30T00:00:00Z" is not an ISO-8601 UTC time such as 2026-11-23T05:00:00Z; the reaper never terminates it',
    ],
    [
      "with a deadline in another zone",
      instance("i-1", "2026-11-23T01:00:00+01:00"),
      "report",
      'transient-jobs:deadline tag "2026-11-23T01:00:00+01:00" is not an ISO-8601 UTC time such as 2026-11-23T05:00:00Z; the reaper never terminates it',
    ],
    [
      "of another project",
      instance("i-1", "2026-11-23T01:00:00Z", { "transient-jobs:project": "other" }),
      "keep",
      'not an instance of transient-jobs dev (tags transient-jobs:project="other", transient-jobs:environment="dev")',
    ],
    [
      "without the project tag",
      instance("i-1", "2026-11-23T01:00:00Z", { "transient-jobs:project": undefined }),
      "keep",
      'not an instance of transient-jobs dev (tags transient-jobs:project=null, transient-jobs:environment="dev")',
    ],
    [
      "of another environment",
      instance("i-1", "2026-11-23T01:00:00Z", { "transient-jobs:environment": "prod" }),
      "keep",
      'not an instance of transient-jobs dev (tags transient-jobs:project="transient-jobs", transient-jobs:environment="prod")',
    ],
    [
      "already shutting down",
      instance("i-1", "2026-11-23T01:00:00Z", {}, "shutting-down"),
      "keep",
      "state shutting-down",
    ],
  ];
  for (const [title, described, action, detail] of cases) {
    it(`${action === "reap" ? "reaps" : action === "keep" ? "keeps" : "reports"} an instance ${title}`, () => {
      const decision = decideReaping(described, settings, NOW);
      assert.equal(decision.action, action);
      if (decision.action === "reap") assert.equal(decision.overdueMinutes, detail);
      else assert.equal(decision.reason, detail);
    });
  }

  it("applies the grace it is given", () => {
    const late = instance("i-1", "2026-11-23T05:58:00Z");
    assert.equal(decideReaping(late, { environment: "dev", graceMinutes: 0 }, NOW).action, "reap");
    assert.equal(decideReaping(late, { environment: "dev", graceMinutes: 2 }, NOW).action, "keep");
  });

  it("parses only real ISO-8601 UTC deadlines", () => {
    assert.deepEqual(parseDeadline("2026-11-23T05:00:00Z"), new Date("2026-11-23T05:00:00Z"));
    assert.deepEqual(parseDeadline("2026-11-23T05:00:00.5Z"), new Date("2026-11-23T05:00:00.5Z"));
    for (const bad of [
      undefined,
      "",
      "2026-11-23",
      "2026-11-23T25:00:00Z",
      "x2026-11-23T05:00:00Z",
    ]) {
      assert.equal(parseDeadline(bad), undefined, String(bad));
    }
  });

  it("finds instances by project and environment tags, in live states only", () => {
    assert.deepEqual(reaperFilters("prod"), [
      { Name: "tag:transient-jobs:project", Values: ["transient-jobs"] },
      { Name: "tag:transient-jobs:environment", Values: ["prod"] },
      { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
    ]);
  });

  it("writes the run's record, beside the attempt records the instance's init script writes", () => {
    const script = renderInitScript({
      ...specFixture(),
      runId: "pi-20261123T0300Z",
      ...attemptInputs(specFixture(), "pi-20261123T0300Z", 1),
      scheduledTime: "2026-11-23T03:00:00Z",
      deadlineMinutes: 120,
    });
    const key = runRecordKey("pi", "pi-20261123T0300Z");
    assert.equal(key, "jobs/pi/runs/pi-20261123T0300Z.json");
    // The script writes its attempt's record under the run's prefix; the run's own record (the
    // reaper's here, the run supervisor's otherwise) is the run's outcome.
    assert.ok(
      script.includes(`readonly RECORD_KEY='jobs/pi/runs/pi-20261123T0300Z/attempt-1.json'`),
      "the init script writes elsewhere",
    );
  });

  for (const [job, runId] of [
    ["../pi", "pi-20261123T0300Z"],
    ["pi", "../../secrets"],
    ["pi", "nightly-20261123T0300Z"],
    ["pi", undefined],
    [undefined, "pi-20261123T0300Z"],
  ]) {
    it(`writes no record for job ${JSON.stringify(job)} run ${JSON.stringify(runId)}`, () =>
      assert.equal(runRecordKey(job, runId), undefined));
  }
});

describe("reapExpired", () => {
  const clients = {
    ec2: new EC2Client({ region: "eu-west-1" }),
    s3: new S3Client({ region: "eu-west-1" }),
    cloudwatch: new CloudWatchClient({ region: "eu-west-1" }),
    sns: new SNSClient({ region: "eu-west-1" }),
  };
  // Instance mocks: other test files mock these client classes too.
  const ec2Mock = mockClient(clients.ec2);
  const s3Mock = mockClient(clients.s3);
  const cwMock = mockClient(clients.cloudwatch);
  const snsMock = mockClient(clients.sns);
  let logs: string[];
  const options = () => ({ now: () => NOW, log: (line: string) => void logs.push(line) });

  const expired = instance("i-expired", "2026-11-23T05:00:00Z");
  const fresh = instance("i-fresh", "2026-11-23T07:00:00Z", {
    "transient-jobs:run-id": "pi-20261123T0500Z",
  });
  const malformed = instance("i-malformed", "soon");
  const noDeadline = instance("i-nodeadline", undefined);
  const noRunTags = instance("i-norun", "2026-11-23T04:00:00Z", {
    "transient-jobs:job": undefined,
    "transient-jobs:run-id": undefined,
    "transient-jobs:scheduled-time": undefined,
  });

  const metricInput = (reaped: number, unreapable: number) => ({
    Namespace: "TransientJobs",
    MetricData: ["InstancesReaped", "UnreapableInstances"].map((MetricName, i) => ({
      MetricName,
      Dimensions: [
        { Name: "Environment", Value: "dev" },
        { Name: "Region", Value: "eu-west-1" },
      ],
      Timestamp: NOW,
      Value: i === 0 ? reaped : unreapable,
      Unit: "Count",
    })),
  });
  const inputs = (mock: { commandCalls(c: any): Array<{ args: any[] }> }, command: any) =>
    mock.commandCalls(command).map((c) => c.args[0].input);

  beforeEach(() => {
    for (const mock of [ec2Mock, s3Mock, cwMock, snsMock]) mock.reset();
    logs = [];
    ec2Mock.on(TerminateInstancesCommand).resolves({});
    s3Mock.on(PutObjectCommand).resolves({});
    cwMock.on(PutMetricDataCommand).resolves({});
    snsMock.on(PublishCommand).resolves({ MessageId: "m-1" });
  });

  it("terminates only expired instances, records, notifies and counts them, over every page", async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [expired, fresh] }], NextToken: "page-2" })
      .resolvesOnce({
        Reservations: [{ Instances: [malformed] }, { Instances: [noDeadline, noRunTags] }],
      });

    const result = await reapExpired(clients, SETTINGS, options());

    const filters = reaperFilters("dev");
    assert.deepEqual(inputs(ec2Mock, DescribeInstancesCommand), [
      { Filters: filters, MaxResults: 1000 },
      { Filters: filters, MaxResults: 1000, NextToken: "page-2" },
    ]);
    assert.deepEqual(inputs(ec2Mock, TerminateInstancesCommand), [
      { InstanceIds: ["i-expired"] },
      { InstanceIds: ["i-norun"] },
    ]);
    const message =
      "terminated by the reaper: its deadline 2026-11-23T05:00:00Z passed 60 minutes ago (grace 10 minutes) and the instance was still running";
    const puts = inputs(s3Mock, PutObjectCommand);
    assert.equal(puts.length, 1);
    const { Body, ...put } = puts[0];
    assert.deepEqual(put, {
      Bucket: "tj-results-dev-eu-west-1",
      Key: "jobs/pi/runs/pi-20261123T0300Z.json",
      ContentType: "application/json",
      IfNoneMatch: "*",
    });
    assert.ok((Body as string).endsWith("}\n"));
    assert.deepEqual(JSON.parse(Body as string), {
      runId: "pi-20261123T0300Z",
      job: "pi",
      environment: "dev",
      region: "eu-west-1",
      status: "reaped",
      phase: "reaper",
      exitCode: null,
      message,
      scheduledTime: "2026-11-23T03:00:00Z",
      startedAt: "2026-11-23T03:00:10Z",
      endedAt: "2026-11-23T06:00:00Z",
      instanceId: "i-expired",
      instanceType: "t3.medium",
      availabilityZone: "eu-west-1a",
      imageUri: null,
      imageDigest: null,
      deadline: "2026-11-23T05:00:00Z",
      reapedAt: "2026-11-23T06:00:00Z",
    });
    assert.deepEqual(inputs(snsMock, PublishCommand), [
      {
        TopicArn: SETTINGS.topicArn,
        Message: `transient-jobs pi (dev) run pi-20261123T0300Z reaped: ${message}`,
      },
      {
        TopicArn: SETTINGS.topicArn,
        Message:
          "transient-jobs ? (dev) run i-norun reaped: terminated by the reaper: its deadline 2026-11-23T04:00:00Z passed 120 minutes ago (grace 10 minutes) and the instance was still running",
      },
    ]);
    assert.deepEqual(inputs(cwMock, PutMetricDataCommand), [metricInput(2, 2)]);

    assert.deepEqual(
      result.reaped.map((r) => [r.instanceId, r.overdueMinutes, r.record, r.recordKey]),
      [
        ["i-expired", 60, "written", "jobs/pi/runs/pi-20261123T0300Z.json"],
        ["i-norun", 120, "skipped", undefined],
      ],
    );
    assert.deepEqual(
      { ...result, reaped: undefined },
      {
        status: "reaped",
        environment: "dev",
        region: "eu-west-1",
        checkedAt: "2026-11-23T06:00:00Z",
        graceMinutes: 10,
        examined: 5,
        reaped: undefined,
        kept: 1,
        unreapable: [
          {
            instanceId: "i-malformed",
            reason:
              'transient-jobs:deadline tag "soon" is not an ISO-8601 UTC time such as 2026-11-23T05:00:00Z; the reaper never terminates it',
          },
          {
            instanceId: "i-nodeadline",
            reason:
              "no transient-jobs:deadline tag; the reaper never terminates an instance without one",
          },
        ],
        failures: [],
      },
    );
    assert.equal(logs.length, 1);
    assert.equal(JSON.parse(logs[0]).level, "info");
    assert.equal(JSON.parse(logs[0]).reaped.length, 2);
  });

  it("never terminates an untagged instance, even if the filter let it through", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            { ...expired, InstanceId: "i-foreign", Tags: [] },
            instance("i-other-env", "2026-11-23T01:00:00Z", {
              "transient-jobs:environment": "prod",
            }),
          ],
        },
      ],
    });
    const result = await reapExpired(clients, SETTINGS, options());
    assert.equal(ec2Mock.commandCalls(TerminateInstancesCommand).length, 0);
    assert.equal(s3Mock.calls().length, 0);
    assert.equal(snsMock.calls().length, 0);
    assert.equal(result.kept, 2);
    assert.deepEqual(inputs(cwMock, PutMetricDataCommand), [metricInput(0, 0)]);
  });

  it("keeps the record a run wrote itself, and does not notify twice", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [expired] }] });
    s3Mock.on(PutObjectCommand).rejects(s3PreconditionFailed());
    const result = await handleReaperInvocation(clients, SETTINGS, options());
    assert.equal(result.reaped[0].record, "exists");
    assert.deepEqual(result.failures, []);
    assert.equal(snsMock.calls().length, 0);
  });

  it("counts a notification it could not send as a failure, after terminating and recording", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [expired] }] });
    snsMock.on(PublishCommand).rejects(new Error("KMS key disabled"));
    const result = await reapExpired(clients, SETTINGS, options());
    assert.equal(ec2Mock.commandCalls(TerminateInstancesCommand).length, 1);
    assert.equal(result.reaped[0].record, "written");
    assert.deepEqual(
      result.failures.map((f) => [f.instanceId, f.step, f.error]),
      [["i-expired", "notify", "Error: KMS key disabled"]],
    );
  });

  it("reaps the others when one termination is refused, then fails the invocation", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [expired, instance("i-second", "2026-11-23T05:00:00Z")] }],
    });
    ec2Mock.on(TerminateInstancesCommand, { InstanceIds: ["i-expired"] }).rejects(
      new EC2ServiceException({
        name: "UnauthorizedOperation",
        message: "You are not authorized to perform this operation.",
        $fault: "client",
        $metadata: {},
      }),
    );
    await assert.rejects(
      handleReaperInvocation(clients, SETTINGS, options()),
      (e: Error) =>
        e instanceof ReapFailedError &&
        e.message ===
          "reaper dev eu-west-1: 1 step(s) failed: terminate i-expired: UnauthorizedOperation: You are not authorized to perform this operation." &&
        e.result.reaped.map((r) => r.instanceId).join() === "i-second",
    );
    assert.deepEqual(inputs(ec2Mock, TerminateInstancesCommand), [
      { InstanceIds: ["i-expired"] },
      { InstanceIds: ["i-second"] },
    ]);
    assert.deepEqual(inputs(cwMock, PutMetricDataCommand), [metricInput(1, 0)]);
    assert.equal(JSON.parse(logs[0]).level, "error");
  });

  it("still notifies when the record cannot be written, and reports it", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [expired] }] });
    s3Mock.on(PutObjectCommand).rejects(
      new S3ServiceException({
        name: "AccessDenied",
        message: "Access Denied",
        $fault: "client",
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const result = await reapExpired(clients, SETTINGS, options());
    assert.equal(result.reaped[0].record, "failed");
    assert.deepEqual(result.failures, [
      { instanceId: "i-expired", step: "record", error: "AccessDenied: Access Denied" },
    ]);
    assert.equal(snsMock.commandCalls(PublishCommand).length, 1);
  });

  it("fails the invocation when the metric cannot be published", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    cwMock.on(PutMetricDataCommand).rejects(new Error("connect ECONNREFUSED"));
    await assert.rejects(
      handleReaperInvocation(clients, SETTINGS, options()),
      (e: Error) =>
        e instanceof ReapFailedError &&
        e.message === "reaper dev eu-west-1: 1 step(s) failed: metric: Error: connect ECONNREFUSED",
    );
  });

  it("fails without touching anything when DescribeInstances fails", async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(
      new EC2ServiceException({
        name: "UnauthorizedOperation",
        message: "not allowed",
        $fault: "client",
        $metadata: {},
      }),
    );
    await assert.rejects(
      handleReaperInvocation(clients, SETTINGS, options()),
      (e: Error) => e.name === "UnauthorizedOperation",
    );
    assert.equal(ec2Mock.commandCalls(TerminateInstancesCommand).length, 0);
    assert.equal(cwMock.calls().length, 0);
    assert.deepEqual(JSON.parse(logs[0]), {
      level: "error",
      status: "error",
      environment: "dev",
      region: "eu-west-1",
      error: "UnauthorizedOperation",
      message: "not allowed",
    });
  });

  for (const [field, value, message] of [
    ["graceMinutes", -1, "reaper graceMinutes: -1 must be an integer from 0 to 1440"],
    ["graceMinutes", 2.5, "reaper graceMinutes: 2.5 must be an integer from 0 to 1440"],
    ["bucket", "", 'reaper bucket: "" must be a non-empty string'],
  ] as const) {
    it(`rejects ${field} ${JSON.stringify(value)} before any call`, async () => {
      await assert.rejects(
        reapExpired(clients, { ...SETTINGS, [field]: value }, options()),
        (e: Error) => e instanceof InvalidReaperSettingsError && e.message === message,
      );
      assert.equal(ec2Mock.calls().length, 0);
    });
  }
});
