import * as assert from "node:assert/strict";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, SNSClient, SNSServiceException } from "@aws-sdk/client-sns";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { LaunchFailedError } from "../../launcher/errors";
import { handleLaunchEvent } from "../../launcher/handler";
import type { FailedResult, LaunchedResult, SkippedResult } from "../../launcher/launch";
import { launchMetricData, launchNotification, reportLaunchOutcome } from "../../launcher/outcomes";
import { METRIC_NAMESPACE as REAPER_NAMESPACE, reapExpired } from "../../launcher/reaper";
import { logsConsoleUrl, METRIC_NAMESPACE, METRICS } from "../../launcher/telemetry";
import { NOW, specFixture } from "../../testing/fixtures";

const TOPIC = "arn:aws:sns:eu-west-1:123456789012:tj-dev-eu-west-1-notifications-topic";
const spec = specFixture({ topicArn: TOPIC, instanceTypes: ["t3.medium"], maxRuntimeMinutes: 120 });
const identity = {
  job: "pi",
  environment: "dev",
  region: "eu-west-1",
  runId: "pi-20261123T0300Z",
  scheduledTime: "2026-11-23T03:00:00Z",
  manual: false,
  attempt: 1,
};
const LOGS =
  "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Ftransient-jobs$252Fdev$252Fpi";
const attempt = {
  purchaseOption: "on-demand" as const,
  instanceType: "t3.medium",
  subnetId: "subnet-aaaa",
  clientToken: "tj-x",
};
const launched: LaunchedResult = {
  status: "launched",
  ...identity,
  instanceId: "i-0abc",
  instanceType: "t3.medium",
  availabilityZone: "eu-west-1b",
  purchaseOption: "on-demand",
  deadline: "2026-11-23T05:00:10Z",
  existing: false,
  replacedInstanceIds: [],
  attempts: [{ ...attempt, outcome: "launched" }],
  warnings: [],
  // The price the launcher found for it (on-demand: the spec's, from the Price List).
  usdPerHour: 0.0456,
};
const skipped: SkippedResult = {
  status: "skipped",
  ...identity,
  reason:
    "concurrencyPolicy forbid: run pi-20261122T0300Z (i-0old, running, deadline 2026-11-22T05:00:00Z) of job pi is still alive",
  liveInstances: [{ instanceId: "i-0old", state: "running", runId: "pi-20261122T0300Z" }],
};
const failed: FailedResult = {
  status: "failed",
  ...identity,
  manual: true,
  reason: "no capacity: every purchase option, instance type and subnet was tried (1 attempts)",
  attempts: [{ ...attempt, outcome: "capacity", errorCode: "InsufficientInstanceCapacity" }],
};
const context = { spec, launcherLogGroup: "/aws/lambda/tj-dev-launcher" };

describe("logsConsoleUrl", () => {
  it("encodes the group and stream the way the console's router expects", () => {
    assert.equal(logsConsoleUrl("eu-west-1", "/transient-jobs/dev/pi"), LOGS);
    assert.equal(
      logsConsoleUrl("us-east-1", "tj-logs-1a2b", "pi-20261123T0300Z"),
      "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/tj-logs-1a2b/log-events/pi-20261123T0300Z",
    );
  });
});

describe("launchNotification", () => {
  it("says what was launched, where, until when, at what estimated price, and links the run's log", () => {
    assert.deepEqual(launchNotification(launched, context), {
      subject: "[transient-jobs dev] pi launched in eu-west-1",
      message: [
        "pi-20261123T0300Z launched: t3.medium on-demand in eu-west-1b (i-0abc), deadline 2026-11-23T05:00:10Z, after 1 attempt(s).",
        "Job pi, environment dev, region eu-west-1, scheduled 2026-11-23T03:00:00Z.",
        "Estimated $0.0456/h, at most $0.0912 by the deadline.",
        `Logs: ${LOGS}/log-events/pi-20261123T0300Z`,
      ].join("\n"),
    });
  });

  it("names the replaced runs and says when no price is known", () => {
    const message = launchNotification(
      { ...launched, usdPerHour: undefined, replacedInstanceIds: ["i-0old"] },
      context,
    ).message;
    assert.match(
      message,
      /\nNo cost estimate: AWS's price of this instance type and market in this region was not found \(see the launcher's warnings\)\.\n/,
    );
    assert.match(message, /\nReplaced the earlier run\(s\) on i-0old\.\n/);
  });

  it("says why a run was skipped and links the running run's log", () => {
    assert.deepEqual(launchNotification(skipped, context), {
      subject: "[transient-jobs dev] pi skipped in eu-west-1",
      message: [
        `pi-20261123T0300Z skipped: ${skipped.reason}.`,
        "Job pi, environment dev, region eu-west-1, scheduled 2026-11-23T03:00:00Z.",
        `Logs of the running pi-20261122T0300Z: ${LOGS}/log-events/pi-20261122T0300Z`,
      ].join("\n"),
    });
  });

  it("says a launch failed, with each attempt's error and the launcher's log", () => {
    assert.deepEqual(launchNotification(failed, context), {
      subject: "[transient-jobs dev] pi failed at launch in eu-west-1",
      message: [
        `pi-20261123T0300Z failed at launch: ${failed.reason}.`,
        "Job pi, environment dev, region eu-west-1, scheduled 2026-11-23T03:00:00Z (manual launch).",
        "Attempts: on-demand t3.medium subnet-aaaa: InsufficientInstanceCapacity.",
        "Launcher logs: https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Ftj-dev-launcher",
      ].join("\n"),
    });
  });

  it("says in subject and message what to fix when the launch came with a warning", () => {
    const { subject, message } = launchNotification(
      { ...launched, warnings: ["spot is not available in this account: create the role"] },
      context,
    );
    assert.equal(subject, "[transient-jobs dev] pi launched with a warning in eu-west-1");
    assert.match(message, /\nWarning: spot is not available in this account: create the role\.\n/);
  });

  it("never carries the job's parameters", () => {
    const secret = specFixture({ topicArn: TOPIC, parameters: { TOKEN: "s3cr3t-value" } });
    for (const result of [launched, skipped, failed]) {
      const { subject, message } = launchNotification(result, { spec: secret });
      assert.ok(!`${subject}${message}`.includes("s3cr3t"), result.status);
    }
  });
});

describe("launchMetricData", () => {
  const dims = [
    { Name: "Environment", Value: "dev" },
    { Name: "Region", Value: "eu-west-1" },
    { Name: "Job", Value: "pi" },
  ];
  const count = (name: string, value: number, extra: object[] = []) => ({
    MetricName: name,
    Dimensions: [...dims, ...extra],
    Timestamp: NOW,
    Value: value,
    Unit: "Count",
  });

  it("counts a launch, by instance type and market too, and its attempts", () =>
    assert.deepEqual(launchMetricData(launched, NOW), [
      count("RunLaunched", 1),
      count("Launches", 1, [
        { Name: "InstanceType", Value: "t3.medium" },
        { Name: "PurchaseOption", Value: "on-demand" },
      ]),
      count("LaunchAttempts", 1),
    ]));
  it("counts a skipped run", () =>
    assert.deepEqual(launchMetricData(skipped, NOW), [count("RunSkipped", 1)]));
  it("counts a launch failure as a failed run", () =>
    assert.deepEqual(launchMetricData(failed, NOW), [
      count("RunFailed", 1),
      count("LaunchAttempts", 1),
    ]));
});

describe("reportLaunchOutcome", () => {
  let sns: AwsClientStub<SNSClient>;
  let cloudwatch: AwsClientStub<CloudWatchClient>;
  before(() => {
    sns = mockClient(SNSClient);
    cloudwatch = mockClient(CloudWatchClient);
  });
  after(() => {
    sns.restore();
    cloudwatch.restore();
  });
  beforeEach(() => {
    sns.reset();
    cloudwatch.reset();
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    cloudwatch.on(PutMetricDataCommand).resolves({});
  });
  const clients = () => ({ sns: new SNSClient({}), cloudwatch: new CloudWatchClient({}) });

  it("publishes the notification to the spec's topic and puts the metrics", async () => {
    const report = await reportLaunchOutcome(clients(), launched, context, NOW);
    assert.deepEqual(report, { notified: true, metrics: true, errors: [] });
    const { subject, message } = launchNotification(launched, context);
    assert.deepEqual(
      sns.commandCalls(PublishCommand).map((c) => c.args[0].input),
      [{ TopicArn: TOPIC, Subject: subject, Message: message }],
    );
    assert.deepEqual(
      cloudwatch.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input),
      [{ Namespace: "TransientJobs", MetricData: launchMetricData(launched, NOW) }],
    );
  });

  it("does not report again a run an earlier invocation launched", async () => {
    const report = await reportLaunchOutcome(
      clients(),
      { ...launched, existing: true },
      context,
      NOW,
    );
    assert.deepEqual(report, { notified: false, metrics: false, errors: [] });
    assert.equal(sns.calls().length + cloudwatch.calls().length, 0);
  });

  it("puts metrics but publishes nothing without a topic", async () => {
    const report = await reportLaunchOutcome(clients(), skipped, { spec: specFixture() }, NOW);
    assert.deepEqual(report, { notified: false, metrics: true, errors: [] });
    assert.equal(sns.calls().length, 0);
  });

  it("returns each failure instead of throwing, and still does the other half", async () => {
    sns.on(PublishCommand).rejects(
      new SNSServiceException({
        name: "AuthorizationError",
        $fault: "client",
        $metadata: {},
        message: "not authorized to perform: sns:Publish",
      }),
    );
    const report = await reportLaunchOutcome(clients(), failed, context, NOW);
    assert.deepEqual(report, {
      notified: false,
      metrics: true,
      errors: ["sns:Publish AuthorizationError: not authorized to perform: sns:Publish"],
    });
  });
});

describe("handleLaunchEvent reports outcomes", () => {
  let ec2: AwsClientStub<EC2Client>;
  let sns: AwsClientStub<SNSClient>;
  let cloudwatch: AwsClientStub<CloudWatchClient>;
  before(() => {
    ec2 = mockClient(EC2Client);
    sns = mockClient(SNSClient);
    cloudwatch = mockClient(CloudWatchClient);
  });
  after(() => [ec2, sns, cloudwatch].forEach((mock) => mock.restore()));
  beforeEach(() => {
    for (const mock of [ec2, sns, cloudwatch]) mock.reset();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    cloudwatch.on(PutMetricDataCommand).resolves({});
  });
  const deps = (lines: string[]) => ({
    ec2: new EC2Client({}),
    sns: new SNSClient({}),
    cloudwatch: new CloudWatchClient({}),
    jobs: {
      pi: specFixture({
        topicArn: TOPIC,
        subnetIds: ["subnet-aaaa"],
        instanceTypes: ["t3.medium"],
      }),
    },
    launcherLogGroup: "/aws/lambda/tj-dev-launcher",
    now: () => NOW,
    log: (line: string) => lines.push(line),
    sleep: async () => undefined,
  });
  const event = { job: "pi", scheduledTime: "2026-11-23T03:00:00Z" };

  it("publishes and counts a launch", async () => {
    ec2.on(RunInstancesCommand).resolves({
      Instances: [
        {
          InstanceId: "i-0new",
          InstanceType: "t3.medium",
          Placement: { AvailabilityZone: "eu-west-1a" },
        },
      ],
    });
    const result = await handleLaunchEvent(event, deps([]));
    assert.equal(result.status, "launched");
    const publish = sns.commandCalls(PublishCommand)[0].args[0].input;
    assert.equal(publish.TopicArn, TOPIC);
    assert.equal(publish.Subject, "[transient-jobs dev] pi launched in eu-west-1");
    assert.match(
      publish.Message!,
      /^pi-20261123T0300Z launched: t3\.medium on-demand in eu-west-1a \(i-0new\)/,
    );
    assert.deepEqual(
      cloudwatch
        .commandCalls(PutMetricDataCommand)[0]
        .args[0].input.MetricData!.map((d) => [d.MetricName, d.Value]),
      [
        ["RunLaunched", 1],
        ["Launches", 1],
        ["LaunchAttempts", 1],
      ],
    );
  });

  it("publishes a launch failure before failing the invocation", async () => {
    ec2.on(RunInstancesCommand).rejects(
      new EC2ServiceException({
        name: "InsufficientInstanceCapacity",
        $fault: "server",
        $metadata: {},
        message: "no capacity",
      }),
    );
    await assert.rejects(handleLaunchEvent(event, deps([])), LaunchFailedError);
    assert.equal(
      sns.commandCalls(PublishCommand)[0].args[0].input.Subject,
      "[transient-jobs dev] pi failed at launch in eu-west-1",
    );
    assert.equal(
      cloudwatch.commandCalls(PutMetricDataCommand)[0].args[0].input.MetricData![0].MetricName,
      "RunFailed",
    );
  });

  it("logs a failure to report as a warning and still returns the launch", async () => {
    ec2
      .on(RunInstancesCommand)
      .resolves({ Instances: [{ InstanceId: "i-0new", InstanceType: "t3.medium" }] });
    cloudwatch.on(PutMetricDataCommand).rejects(new Error("connect ETIMEDOUT"));
    const lines: string[] = [];
    const result = await handleLaunchEvent(event, deps(lines));
    assert.equal(result.status, "launched");
    assert.deepEqual(JSON.parse(lines.at(-1)!), {
      level: "warn",
      status: "report-failed",
      runId: "pi-20261123T0300Z",
      errors: ["cloudwatch:PutMetricData Error: connect ETIMEDOUT"],
    });
  });
});

describe("metric names shared with the reaper", () => {
  it("use the reaper's namespace, and its InstancesReaped metric feeds the over-deadline alarm", async () => {
    assert.equal(METRIC_NAMESPACE, REAPER_NAMESPACE);
    const ec2 = mockClient(EC2Client);
    const cloudwatch = mockClient(CloudWatchClient);
    try {
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
      cloudwatch.on(PutMetricDataCommand).resolves({});
      await reapExpired(
        {
          ec2: new EC2Client({}),
          s3: new S3Client({}),
          cloudwatch: new CloudWatchClient({}),
          sns: new SNSClient({}),
        },
        {
          environment: "dev",
          region: "eu-west-1",
          bucket: "tj-results",
          topicArn: "arn:aws:sns:eu-west-1:123456789012:tj-dev-runs",
        },
        { now: () => NOW, log: () => undefined },
      );
      const input = cloudwatch.commandCalls(PutMetricDataCommand)[0].args[0].input;
      assert.equal(input.Namespace, METRIC_NAMESPACE);
      assert.ok(input.MetricData!.some((d) => d.MetricName === METRICS.reaped));
    } finally {
      ec2.restore();
      cloudwatch.restore();
    }
  });
});
