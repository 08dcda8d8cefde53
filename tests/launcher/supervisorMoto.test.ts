/**
 * The run supervisor as deployed: the closure the dev stack serializes, run in a fresh Node
 * process (standing in for the Lambda runtime) against moto's EC2, S3 (which honours
 * `If-None-Match: *`) and Scheduler (which refuses a second schedule of one name). The attempt
 * records are written by hand, in the contract's format.
 */
import * as assert from "node:assert/strict";
import {
  DescribeImagesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  CreateScheduleGroupCommand,
  ListSchedulesCommand,
  SchedulerClient,
} from "@aws-sdk/client-scheduler";
import { RUN_RECORDS, TAGS, type RunRecord } from "../../launcher/contract";
import { SUPERVISED_EVENTS } from "../../launcher/supervisor";
import type { RecordedResource } from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";
import { MOTO_CLIENT_CONFIG, releaseMoto, resetMoto, startMoto } from "../../testing/moto";
import { attemptRecordFixture } from "../../testing/supervisorFakes";
import {
  assertSelfContained,
  startSerializedContainer,
  SUPERVISOR_SDK_SPECIFIERS,
  type SerializedContainer,
} from "../../testing/serializedClosure";

const RUN_ID = "pi-20261123T0300Z";

async function functionCode(resources: RecordedResource[], part: string): Promise<string> {
  const fn = resources.find(
    (r) => r.type === "aws:lambda/function:Function" && r.name === `tj-dev-eu-west-1-${part}-fn`,
  );
  assert.ok(fn, `no ${part} function`);
  const assets = await (
    fn.inputs.code as { assets: Promise<Record<string, { text: Promise<string> }>> }
  ).assets;
  return assets["__index.js"].text;
}

describe("the serialized run supervisor against moto", function () {
  this.timeout(120000);
  let endpoint: string;
  let code: string;
  let bucket: string;
  let group: string;
  let ec2: EC2Client;
  let s3: S3Client;
  let scheduler: SchedulerClient;
  let image: string;
  /**
   * The container the first event of each run reaches, and another for its repetition: a
   * repeated event may reach any container, and one that has not seen the first proves that
   * the records and the schedule, not the process's memory, make the second a no-op.
   */
  let first: SerializedContainer;
  let repeated: SerializedContainer;

  before(async () => {
    const { evaluation } = await evaluatedStack("dev");
    const { resources } = evaluation;
    code = await functionCode(resources, "supervisor");
    const named = (type: string, name: string) =>
      resources.find((r) => r.type === type && r.name === name)!.state;
    bucket = String(named("aws:s3/bucket:Bucket", "tj-dev-eu-west-1-results").bucket);
    group = String(
      named("aws:scheduler/scheduleGroup:ScheduleGroup", "tj-dev-eu-west-1-supervisor-retries")
        .name,
    );
    endpoint = await startMoto();
    const options = { env: { AWS_ENDPOINT_URL_SCHEDULER: endpoint } };
    first = startSerializedContainer(code, endpoint, options);
    repeated = startSerializedContainer(code, endpoint, options);
    ec2 = new EC2Client({ ...MOTO_CLIENT_CONFIG, endpoint });
    s3 = new S3Client({ ...MOTO_CLIENT_CONFIG, endpoint, forcePathStyle: true });
    scheduler = new SchedulerClient({ ...MOTO_CLIENT_CONFIG, endpoint });
  });
  after(async () => {
    await first?.close();
    await repeated?.close();
    await releaseMoto();
  });

  beforeEach(async () => {
    await resetMoto();
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: "eu-west-1" },
      }),
    );
    await scheduler.send(new CreateScheduleGroupCommand({ Name: group }));
    image = (await ec2.send(new DescribeImagesCommand({}))).Images?.[0]?.ImageId ?? "";
  });

  /** A terminated instance of attempt `attempt` of the run, tagged as the launcher tags it. */
  async function endedInstance(attempt: number, environment = "dev"): Promise<string> {
    const tags = {
      Name: `tj-dev-${RUN_ID}`,
      [TAGS.project]: "transient-jobs",
      [TAGS.environment]: environment,
      [TAGS.job]: "pi",
      [TAGS.runId]: RUN_ID,
      [TAGS.scheduledTime]: "2026-11-23T03:00:00Z",
      [TAGS.deadline]: "2026-11-23T07:02:00Z",
      [TAGS.attempt]: String(attempt),
    };
    const out = await ec2.send(
      new RunInstancesCommand({
        ImageId: image,
        InstanceType: "t3.medium",
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          {
            ResourceType: "instance",
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          },
        ],
      }),
    );
    const id = out.Instances![0].InstanceId!;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    return id;
  }

  const terminated = (instanceId: string, time = "2026-11-23T03:41:00Z") => ({
    version: "0",
    "detail-type": SUPERVISED_EVENTS.stateChange,
    source: "aws.ec2",
    time,
    region: "eu-west-1",
    detail: { "instance-id": instanceId, state: "terminated" },
  });

  async function writeAttempt(attempt: number, fields: Partial<RunRecord>): Promise<void> {
    const record = attemptRecordFixture(attempt, {
      instanceType: "t3.medium",
      purchaseOption: "on-demand",
      ...fields,
    });
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: RUN_RECORDS.attemptKey("jobs/pi", RUN_ID, attempt),
        Body: JSON.stringify(record),
      }),
    );
  }

  async function read(key: string): Promise<RunRecord | undefined> {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return JSON.parse(await out.Body!.transformToString()) as RunRecord;
    } catch {
      return undefined;
    }
  }

  const CLOCK = { clock: "2026-11-23T03:41:30Z" };
  const schedules = async () =>
    (await scheduler.send(new ListSchedulesCommand({ GroupName: group }))).Schedules ?? [];

  it("is self-contained: node built-ins and the runtime's SDK clients only", () => {
    assertSelfContained(code, SUPERVISOR_SDK_SPECIFIERS);
  });

  it("records an instance that ended without a record as lost and schedules exactly one next attempt", async () => {
    const id = await endedInstance(1);
    const outcome = await first.invoke(terminated(id), CLOCK);
    assert.equal(outcome.ok, true, JSON.stringify(outcome.error) + outcome.stderr);
    assert.equal(outcome.result?.status, "retry-scheduled");
    const lost = await read(RUN_RECORDS.attemptKey("jobs/pi", RUN_ID, 1));
    assert.equal(lost?.status, "lost");
    assert.equal(lost?.instanceId, id);
    assert.deepEqual(
      (await schedules()).map((s) => s.Name),
      [`${RUN_ID}-a2`],
    );
    const again = await repeated.invoke(terminated(id), CLOCK);
    assert.equal(again.result?.status, "retry-exists", again.stderr);
    assert.equal((await schedules()).length, 1);
  });

  it("finalizes a run that succeeded on attempt 2 once, with both attempts", async () => {
    await endedInstance(1);
    await writeAttempt(1, { status: "interrupted", exitCode: 143 });
    const second = await endedInstance(2);
    await writeAttempt(2, { startedAt: "2026-11-23T03:44:00Z", endedAt: "2026-11-23T04:20:00Z" });
    const outcome = await first.invoke(terminated(second, "2026-11-23T04:20:30Z"), CLOCK);
    assert.equal(
      outcome.result?.status,
      "finalized",
      JSON.stringify(outcome.error) + outcome.stderr,
    );
    const run = await read(RUN_RECORDS.recordKey("jobs/pi", RUN_ID));
    assert.equal(run?.status, "succeeded");
    assert.deepEqual(
      run?.runAttempts?.map((a) => [a.attempt, a.status]),
      [
        [1, "interrupted"],
        [2, "succeeded"],
      ],
    );
    const again = await repeated.invoke(terminated(second, "2026-11-23T04:20:30Z"), CLOCK);
    assert.equal(again.result?.status, "final-exists");
    assert.equal((await schedules()).length, 0);
  });

  it("ignores another environment's instance", async () => {
    const id = await endedInstance(1, "prod");
    const outcome = await first.invoke(terminated(id), CLOCK);
    assert.equal(outcome.result?.status, "ignored", outcome.stderr);
    assert.equal(await read(RUN_RECORDS.attemptKey("jobs/pi", RUN_ID, 1)), undefined);
  });
});
