import * as assert from "node:assert/strict";
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { launchRun, type LaunchOptions } from "../../launcher/launch";
import { attemptInputs } from "../../launcher/initScript";
import { clientTokenFor, CLIENT_TOKEN_MAX_LENGTH } from "../../launcher/runId";
import { TAGS } from "../../launcher/contract";
import { ec2Error, SCHEDULED, specFixture } from "../../testing/fixtures";

const ec2 = new EC2Client({ region: "eu-west-1" });
const ec2Mock = mockClient(ec2);
const RUN_ID = "pi-20261123T0300Z";
// Attempt 1 ended at 03:41; one minute of backoff.
const NOT_BEFORE = new Date("2026-11-23T03:42:00Z");
const NOW = new Date("2026-11-23T03:42:20Z");
const LAUNCH_TIME = new Date("2026-11-23T03:42:21Z");

const options = (now = NOW): LaunchOptions => ({
  now: () => now,
  remainingTimeMs: () => 100000,
  sleep: async () => undefined,
  random: () => 0.5,
  log: () => undefined,
});

function tagged(id: string, state: string, attempt?: string, runId = RUN_ID): Instance {
  return {
    InstanceId: id,
    InstanceType: "m7i.large",
    Placement: { AvailabilityZone: "eu-west-1a" },
    State: { Name: state as NonNullable<Instance["State"]>["Name"] },
    Tags: [
      { Key: TAGS.runId, Value: runId },
      ...(attempt ? [{ Key: TAGS.attempt, Value: attempt }] : []),
    ],
  };
}

const secondAttempt = (spec = specFixture()) =>
  launchRun(
    ec2,
    {
      spec,
      scheduledTime: SCHEDULED,
      attempt: 2,
      retry: { purchaseOption: "on-demand", notBefore: NOT_BEFORE, deadlineMinutes: 100 },
    },
    options(),
  );

const tagsOf = (input: { TagSpecifications?: { Tags?: { Key?: string; Value?: string }[] }[] }) =>
  Object.fromEntries((input.TagSpecifications?.[0].Tags ?? []).map((t) => [t.Key, t.Value]));

describe("ClientToken: EC2's rules", () => {
  // https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html: "a unique,
  // case-sensitive string of up to 64 ASCII characters".
  const base = {
    environment: "a-very-long-environment-name-that-is-still-allowed",
    launchTemplateId: "lt-0123456789abcdef0",
    runId: "abcdefghijklmnopqrstuvwx-20261123T0300Z",
    purchaseOption: "spot" as const,
    instanceType: "m7i.48xlarge",
    subnetId: "subnet-0123456789abcdef0",
  };
  it("is at most 64 ASCII characters whatever the run and attempt", () => {
    for (const attempt of [1, 2, 11]) {
      const token = clientTokenFor({ ...base, attempt });
      assert.ok(token.length <= CLIENT_TOKEN_MAX_LENGTH, token);
      assert.equal(CLIENT_TOKEN_MAX_LENGTH, 64);
      assert.match(token, /^[\x21-\x7e]+$/);
    }
  });
  it("is the same for a repeated attempt and new for the run's next attempt", () => {
    assert.equal(clientTokenFor({ ...base, attempt: 2 }), clientTokenFor({ ...base, attempt: 2 }));
    assert.equal(clientTokenFor(base), clientTokenFor({ ...base, attempt: 1 }));
    assert.notEqual(clientTokenFor({ ...base, attempt: 2 }), clientTokenFor(base));
    assert.notEqual(
      clientTokenFor({ ...base, attempt: 3 }),
      clientTokenFor({ ...base, attempt: 2 }),
    );
  });
});

describe("launchRun: a run's later attempt", () => {
  beforeEach(() => ec2Mock.reset());

  it("launches attempt 2 with its number in the tags and the ClientToken, its purchase option, and a deadline from its own start", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [tagged("i-0first", "terminated")] }],
    });
    ec2Mock.on(RunInstancesCommand).callsFake((input) => ({
      Instances: [
        { InstanceId: "i-0second", InstanceType: input.InstanceType, LaunchTime: LAUNCH_TIME },
      ],
    }));
    ec2Mock.on(CreateTagsCommand).resolves({});
    const spec = specFixture({ purchaseOption: "spot-then-on-demand" });
    const result = await secondAttempt(spec);
    assert.equal(result.status, "launched");
    assert.equal(result.attempt, 2);
    const [input] = ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
    assert.equal(input.InstanceMarketOptions, undefined, "on-demand after the interruption");
    const tags = tagsOf(input);
    assert.equal(tags[TAGS.attempt], "2");
    assert.equal(tags[TAGS.runId], RUN_ID);
    // notBefore + maxLaunchDelaySeconds (7320 s) + the attempt's 100 minutes.
    assert.equal(tags[TAGS.deadline], "2026-11-23T07:24:00Z");
    assert.equal(
      input.ClientToken,
      clientTokenFor({
        environment: "dev",
        launchTemplateId: spec.launchTemplateId,
        runId: RUN_ID,
        purchaseOption: "on-demand",
        instanceType: "m7i.large",
        subnetId: "subnet-aaaa",
        attempt: 2,
      }),
    );
  });

  it("adds the launch-time tags after RunInstances, with CreateTags, outside the request", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).resolves({
      Instances: [{ InstanceId: "i-0second", InstanceType: "m7i.large", LaunchTime: LAUNCH_TIME }],
    });
    ec2Mock.on(CreateTagsCommand).resolves({});
    await secondAttempt();
    const [input] = ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
    assert.equal(tagsOf(input)[TAGS.launchRequestedAt], undefined);
    assert.deepEqual(
      ec2Mock.commandCalls(CreateTagsCommand).map((c) => c.args[0].input),
      [
        {
          Resources: ["i-0second"],
          Tags: [
            { Key: TAGS.launchRequestedAt, Value: NOW.toISOString() },
            { Key: TAGS.launchAcceptedAt, Value: NOW.toISOString() },
            { Key: TAGS.instanceLaunchTime, Value: LAUNCH_TIME.toISOString() },
          ],
        },
      ],
    );
  });

  it("still reports the launch when CreateTags is refused, with a warning", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).resolves({
      Instances: [{ InstanceId: "i-0second", InstanceType: "m7i.large" }],
    });
    ec2Mock.on(CreateTagsCommand).rejects(ec2Error("UnauthorizedOperation", "denied"));
    const result = await secondAttempt();
    assert.equal(result.status, "launched");
    assert.deepEqual(result.status === "launched" && result.warnings, [
      "the launch-time tags were not added: CreateTags failed with UnauthorizedOperation: denied; the run's record has no launch timings",
    ]);
  });

  it("a repeated event for attempt 2 finds attempt 2's instance and launches nothing", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [tagged("i-0first", "terminated"), tagged("i-0second", "running", "2")] },
      ],
    });
    const result = await secondAttempt();
    assert.equal(result.status === "launched" && result.existing, true);
    assert.equal(result.status === "launched" && result.instanceId, "i-0second");
    assert.equal(ec2Mock.commandCalls(RunInstancesCommand).length, 0);
  });

  it("is not stopped by attempt 1's ended instance, which a repeated attempt-1 event reports as ended", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [tagged("i-0first", "terminated")] }],
    });
    const first = await launchRun(
      ec2,
      { spec: specFixture(), scheduledTime: SCHEDULED },
      options(),
    );
    assert.equal(first.status, "ended");
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: "i-0second" }] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    assert.equal((await secondAttempt()).status, "launched");
  });

  for (const concurrencyPolicy of ["forbid", "replace"] as const) {
    it(`${concurrencyPolicy}: an earlier attempt of the same run still alive is the run itself, not another run`, async () => {
      ec2Mock.on(DescribeInstancesCommand).resolves({
        Reservations: [{ Instances: [tagged("i-0first", "stopping", "1")] }],
      });
      ec2Mock.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: "i-0second" }] });
      ec2Mock.on(CreateTagsCommand).resolves({});
      const result = await secondAttempt(specFixture({ concurrencyPolicy }));
      assert.equal(result.status, "launched");
      assert.equal(ec2Mock.commandCalls(TerminateInstancesCommand).length, 0);
    });
  }

  it("forbid: another run alive still skips the attempt", async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [tagged("i-0other", "running", "1", "pi-20261123T0200Z")] }],
    });
    const result = await secondAttempt();
    assert.equal(result.status, "skipped");
  });

  it("gives every attempt of a run the same checkpoint prefix", () => {
    const [first, third] = [1, 3].map((n) => attemptInputs(specFixture(), RUN_ID, n));
    assert.equal(first.checkpointUri, third.checkpointUri);
    assert.equal(
      third.checkpointUri,
      "s3://tj-results-dev-eu-west-1/jobs/pi/checkpoints/pi-20261123T0300Z/",
    );
    assert.deepEqual([first.attempt, third.attempt], [1, 3]);
  });
});
