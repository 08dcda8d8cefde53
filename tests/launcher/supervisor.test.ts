import * as assert from "node:assert/strict";
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  type Instance,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { handleLaunchEvent } from "../../launcher/handler";
import {
  handleSupervisorEvent,
  retryScheduleExpression,
  SUPERVISED_EVENTS,
  type SupervisorSettings,
} from "../../launcher/supervisor";
import { METRICS } from "../../launcher/telemetry";
import { RUN_RECORDS, TAGS, type RunRecord, type RunRetryPolicy } from "../../launcher/contract";
import { specFixture } from "../../testing/fixtures";
import { attemptRecordFixture, supervisorFakes } from "../../testing/supervisorFakes";

const RUN_ID = "pi-20261123T0300Z";
const BUCKET = "tj-results-dev-eu-west-1";
const TOPIC = "arn:aws:sns:eu-west-1:123456789012:tj-dev-eu-west-1-notifications-topic";
const ENDED = "2026-11-23T03:41:00Z";
const NOW = new Date("2026-11-23T03:41:30Z");
const POLICY: RunRetryPolicy = {
  attempts: 2,
  on: ["interrupted", "lost", "failed"],
  backoffMinutes: 1,
};

const fakes = supervisorFakes();

function settings(policy: RunRetryPolicy = POLICY): SupervisorSettings {
  return {
    environment: "dev",
    region: "eu-west-1",
    bucket: BUCKET,
    topicArn: TOPIC,
    jobs: {
      pi: specFixture({
        purchaseOption: "spot-then-on-demand",
        runRetries: policy,
        topicArn: TOPIC,
      }),
    },
    launcherArn: "arn:aws:lambda:eu-west-1:123456789012:function:tj-dev-eu-west-1-launcher-fn",
    schedulerRoleArn: "arn:aws:iam::123456789012:role/tj-dev-eu-west-1-supervisor-invoke",
    scheduleGroup: "tj-dev-eu-west-1-retries",
  };
}

function instance(attempt: number, spot = true, tags: Record<string, string> = {}): Instance {
  const all: Record<string, string> = {
    [TAGS.project]: "transient-jobs",
    [TAGS.environment]: "dev",
    [TAGS.job]: "pi",
    [TAGS.runId]: RUN_ID,
    [TAGS.scheduledTime]: "2026-11-23T03:00:00Z",
    [TAGS.deadline]: "2026-11-23T07:02:00Z",
    [TAGS.attempt]: String(attempt),
    ...tags,
  };
  return {
    InstanceId: `i-0000000000000000${attempt}`,
    InstanceType: "m7i.large",
    Placement: { AvailabilityZone: "eu-west-1a" },
    LaunchTime: new Date("2026-11-23T03:00:30Z"),
    State: { Name: "terminated" },
    ...(spot ? { InstanceLifecycle: "spot" as const } : {}),
    Tags: Object.entries(all).map(([Key, Value]) => ({ Key, Value })),
  };
}

const terminated = (attempt: number, time = ENDED) => ({
  version: "0",
  "detail-type": SUPERVISED_EVENTS.stateChange,
  source: "aws.ec2",
  time,
  region: "eu-west-1",
  detail: { "instance-id": `i-0000000000000000${attempt}`, state: "terminated" },
});

/** An attempt record as the init script writes it (the contract's format), by hand. */
function writeAttempt(attempt: number, fields: Partial<RunRecord>): void {
  const record = attemptRecordFixture(attempt, {
    instanceId: `i-0000000000000000${attempt}`,
    instanceType: "m7i.large",
    purchaseOption: "spot",
    ...fields,
  });
  const key = RUN_RECORDS.attemptKey("jobs/pi", RUN_ID, attempt);
  fakes.objects.set(`${BUCKET}/${key}`, JSON.stringify(record));
}

const object = (key: string) => {
  const text = fakes.objects.get(`${BUCKET}/${key}`);
  return text === undefined ? undefined : (JSON.parse(text) as RunRecord);
};
const runRecord = () => object(RUN_RECORDS.recordKey("jobs/pi", RUN_ID));
const metricNames = () => fakes.metrics().map((m) => m.MetricName);

async function handle(event: unknown, s = settings()) {
  return handleSupervisorEvent(event, fakes.clients, s, { now: () => NOW, log: () => undefined });
}

describe("the run supervisor", () => {
  beforeEach(() => fakes.reset());

  it("a spot interruption leads to exactly one next attempt, on-demand, and a repeated event to none", async () => {
    fakes.instances.push(instance(1));
    writeAttempt(1, { status: "interrupted", exitCode: 143 });
    const first = await handle(terminated(1));
    assert.equal(first.status, "retry-scheduled");
    assert.equal(fakes.schedules.length, 1);
    const [schedule] = fakes.schedules;
    assert.equal(schedule.Name, `${RUN_ID}-a2`);
    assert.equal(schedule.GroupName, "tj-dev-eu-west-1-retries");
    assert.equal(schedule.ScheduleExpression, "at(2026-11-23T03:43:00)");
    assert.equal(schedule.ActionAfterCompletion, "DELETE");
    assert.deepEqual(JSON.parse(schedule.Target!.Input!), {
      job: "pi",
      scheduledTime: "2026-11-23T03:00:00Z",
      attempt: 2,
      retry: {
        purchaseOption: "on-demand",
        notBefore: "2026-11-23T03:42:00.000Z",
        deadlineMinutes: 120,
      },
    });
    assert.deepEqual(metricNames(), [METRICS.interrupted, METRICS.retried]);
    assert.equal(runRecord(), undefined);

    const again = await handle(terminated(1));
    assert.equal(again.status, "retry-exists");
    assert.equal(fakes.schedules.length, 1);
    assert.deepEqual(metricNames(), [METRICS.interrupted, METRICS.retried]);
    assert.deepEqual(fakes.subjects(), []);
  });

  it("spot tries spot again after an interruption", async () => {
    fakes.instances.push(instance(1));
    writeAttempt(1, { status: "interrupted" });
    const s = settings();
    s.jobs.pi = { ...s.jobs.pi, purchaseOption: "spot" };
    await handle(terminated(1), s);
    assert.equal(JSON.parse(fakes.schedules[0].Target!.Input!).retry.purchaseOption, "spot");
  });

  it("a failing exit code among exitCodes leads to one next attempt; another exit code finalizes the run as failed, once", async () => {
    const policy = { ...POLICY, exitCodes: [3] };
    fakes.instances.push(instance(1, false));
    writeAttempt(1, { status: "failed", exitCode: 3, purchaseOption: "on-demand" });
    assert.equal((await handle(terminated(1), settings(policy))).status, "retry-scheduled");
    assert.equal(fakes.schedules.length, 1);

    fakes.reset();
    fakes.instances.push(instance(1, false));
    writeAttempt(1, { status: "failed", exitCode: 4, purchaseOption: "on-demand" });
    const result = await handle(terminated(1), settings(policy));
    assert.equal(result.status, "finalized");
    assert.equal(fakes.schedules.length, 0);
    assert.equal(runRecord()?.status, "failed");
    assert.deepEqual(metricNames(), [METRICS.failed]);
    assert.deepEqual(fakes.subjects(), ["[transient-jobs dev] pi ended failed in eu-west-1"]);
    assert.equal((await handle(terminated(1), settings(policy))).status, "final-exists");
    assert.equal(fakes.subjects().length, 1);
  });

  it("an instance terminated without a record is recorded lost and leads to one next attempt", async () => {
    fakes.instances.push({
      ...instance(1),
      StateReason: {
        Code: "Server.InternalError",
        Message: "Server.InternalError: Internal error on launch",
      },
    });
    const result = await handle(terminated(1));
    assert.equal(result.status, "retry-scheduled");
    const lost = object(RUN_RECORDS.attemptKey("jobs/pi", RUN_ID, 1));
    assert.equal(lost?.status, "lost");
    assert.equal(lost?.attempt, 1);
    assert.equal(lost?.endedAt, ENDED);
    assert.match(lost?.message ?? "", /Internal error on launch/);
    assert.deepEqual(metricNames(), [METRICS.lost, METRICS.retried]);
    // A lost attempt of a spot run is not an interruption: spot-then-on-demand stays as it is.
    assert.equal(
      JSON.parse(fakes.schedules[0].Target!.Input!).retry.purchaseOption,
      "spot-then-on-demand",
    );
    await handle(terminated(1));
    assert.equal(fakes.schedules.length, 1);
    assert.deepEqual(metricNames(), [METRICS.lost, METRICS.retried]);
  });

  it("starts no attempt after the policy's last", async () => {
    fakes.instances.push(instance(3));
    writeAttempt(1, { status: "interrupted" });
    writeAttempt(2, { status: "interrupted" });
    writeAttempt(3, { status: "interrupted" });
    const result = await handle(terminated(3));
    assert.equal(result.status, "finalized");
    assert.equal(fakes.schedules.length, 0);
    assert.equal(
      result.status === "finalized" && result.why,
      "attempt 3 was the last (runRetries.attempts: 2)",
    );
    assert.equal(runRecord()?.runAttempts?.length, 3);
  });

  it("a run that succeeds on attempt 2 finalizes as one succeeded run with two attempts, one notification and one RunSucceeded", async () => {
    fakes.instances.push(instance(1), instance(2, false));
    writeAttempt(1, { status: "interrupted", exitCode: 143 });
    writeAttempt(2, {
      status: "succeeded",
      purchaseOption: "on-demand",
      startedAt: "2026-11-23T03:44:00Z",
      endedAt: "2026-11-23T04:20:00Z",
    });
    const result = await handle(terminated(2, "2026-11-23T04:20:30Z"));
    assert.equal(result.status, "finalized");
    const record = runRecord()!;
    assert.equal(record.status, "succeeded");
    assert.equal(record.attempt, 2);
    assert.deepEqual(
      record.runAttempts?.map((a) => a.story),
      [
        "attempt 1 (m7i.large spot): interrupted by a spot interruption notice after 40m",
        "attempt 2 (m7i.large on-demand): succeeded after 36m",
      ],
    );
    assert.deepEqual(metricNames(), [METRICS.succeeded]);
    assert.deepEqual(fakes.subjects(), [
      "[transient-jobs dev] pi succeeded after 2 attempts in eu-west-1",
    ]);
    // The interruption's terminated event, late and out of order: nothing more.
    assert.equal((await handle(terminated(1))).status, "final-exists");
    assert.equal((await handle(terminated(2))).status, "final-exists");
    assert.equal(fakes.subjects().length, 1);
    assert.deepEqual(metricNames(), [METRICS.succeeded]);
    assert.equal(fakes.schedules.length, 0);
  });

  it("never retries a reaped run: its record is final", async () => {
    fakes.instances.push(instance(1));
    fakes.objects.set(
      `${BUCKET}/${RUN_RECORDS.recordKey("jobs/pi", RUN_ID)}`,
      JSON.stringify({ runId: RUN_ID, job: "pi", status: "reaped" }),
    );
    assert.equal((await handle(terminated(1))).status, "final-exists");
    assert.equal(fakes.schedules.length, 0);
    assert.equal(object(RUN_RECORDS.attemptKey("jobs/pi", RUN_ID, 1)), undefined);
  });

  it("never retries an instance that ended without a record past its deadline (the reaper terminated it)", async () => {
    fakes.instances.push(instance(1));
    const result = await handle(terminated(1, "2026-11-23T07:12:00Z"));
    assert.equal(result.status, "finalized");
    assert.equal(fakes.schedules.length, 0);
  });

  it("ignores instances that are not this stack's, and events it does not handle", async () => {
    fakes.instances.push(instance(1, true, { [TAGS.environment]: "prod" }));
    assert.deepEqual(await handle(terminated(1)), {
      status: "ignored",
      why: "an instance of environment prod, not dev",
    });
    fakes.reset();
    fakes.instances.push({ ...instance(1), Tags: [] });
    assert.equal((await handle(terminated(1))).status, "ignored");
    assert.equal((await handle(terminated(7))).status, "ignored");
    assert.equal(
      (
        await handle({
          ...terminated(1),
          detail: { "instance-id": "i-00000000000000001", state: "running" },
        })
      ).status,
      "ignored",
    );
    assert.deepEqual(fakes.objects.size, 0);
  });

  it("an interruption warning is noticed; the decision waits for terminated", async () => {
    fakes.instances.push(instance(1));
    const result = await handle({
      "detail-type": SUPERVISED_EVENTS.interruptionWarning,
      source: "aws.ec2",
      time: "2026-11-23T03:39:00Z",
      detail: { "instance-id": "i-00000000000000001", "instance-action": "terminate" },
    });
    assert.equal(result.status, "noticed");
    assert.equal(fakes.schedules.length, 0);
  });

  it("the scheduled attempt goes through the launcher's own code, as attempt 2", async () => {
    fakes.instances.push(instance(1));
    writeAttempt(1, { status: "interrupted" });
    await handle(terminated(1));
    const event = JSON.parse(fakes.schedules[0].Target!.Input!);
    const ec2 = new EC2Client({ region: "eu-west-1" });
    const ec2Mock = mockClient(ec2);
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance(1)] }] });
    ec2Mock
      .on(RunInstancesCommand)
      .resolves({ Instances: [{ InstanceId: "i-00000000000000002" }] });
    ec2Mock.on(CreateTagsCommand).resolves({});
    const result = await handleLaunchEvent(event, {
      ec2,
      jobs: settings().jobs,
      now: () => new Date("2026-11-23T03:43:05Z"),
      log: () => undefined,
    });
    assert.equal(result.status, "launched");
    const [run] = ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
    const tags = Object.fromEntries(run.TagSpecifications![0].Tags!.map((t) => [t.Key, t.Value]));
    assert.equal(tags[TAGS.attempt], "2");
    assert.equal(run.InstanceMarketOptions, undefined);
  });

  it("schedules a next attempt at its backoff's end, never sooner than a minute from now", () => {
    const now = new Date("2026-11-23T03:41:30Z");
    assert.equal(
      retryScheduleExpression(new Date("2026-11-23T03:50:00Z"), now),
      "at(2026-11-23T03:50:00)",
    );
    assert.equal(
      retryScheduleExpression(new Date("2026-11-23T03:41:00Z"), now),
      "at(2026-11-23T03:43:00)",
    );
  });
});
