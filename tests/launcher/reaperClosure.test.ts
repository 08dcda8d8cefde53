/**
 * The reaper Lambda as deployed: the closure Pulumi serialized for the dev stack's eu-west-1
 * Reaper, loaded in a fresh Node process and run once against moto over real HTTP (EC2, S3,
 * CloudWatch).
 */
import * as assert from "node:assert/strict";
import { CloudWatchClient, GetMetricStatisticsCommand } from "@aws-sdk/client-cloudwatch";
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import type { ReapResult } from "../../launcher/reaper";
import { RecordedResource } from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";
import { MOTO_CLIENT_CONFIG, resetMoto, startMoto } from "../../testing/moto";
import {
  assertSelfContained,
  invokeSerializedHandler,
  LAUNCHER_SDK_SPECIFIERS,
} from "../../testing/serializedClosure";

describe("the serialized reaper closure against moto", function () {
  this.timeout(90000);
  let code: string;
  let bucket: string;
  let topicArn: string;
  let endpoint: string;
  let ec2: EC2Client;
  let s3: S3Client;

  before(async () => {
    const { evaluation } = await evaluatedStack("dev");
    const find = (type: string, name: string): RecordedResource => {
      const found = evaluation.resources.find((r) => r.type === type && r.name === name);
      assert.ok(found, `no ${type} ${name}`);
      return found;
    };
    const fn = find("aws:lambda/function:Function", "tj-dev-eu-west-1-reaper-fn");
    code = await (await (fn.inputs.code as any).assets)["__index.js"].text;
    bucket = String(find("aws:s3/bucket:Bucket", "tj-dev-eu-west-1-results").state.bucket);
    topicArn = String(
      find("aws:sns/topic:Topic", "tj-dev-eu-west-1-notifications-topic").state.arn,
    );

    endpoint = await startMoto();
    await resetMoto();
    ec2 = new EC2Client({ ...MOTO_CLIENT_CONFIG, endpoint });
    s3 = new S3Client({ ...MOTO_CLIENT_CONFIG, endpoint, forcePathStyle: true });
  });

  it("requires only Node built-ins and the SDK clients the runtime provides", () => {
    // The reaper's clients are the launcher's: EC2, S3, CloudWatch and SNS.
    assertSelfContained(code, LAUNCHER_SDK_SPECIFIERS);
  });

  it("terminates only this stack's expired runs, writes their records, keeps a run's own record, and counts them", async () => {
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: "eu-west-1" },
      }),
    );
    // The mocks' account is moto's default one, so the topic gets the ARN the closure holds.
    const sns = new SNSClient({ ...MOTO_CLIENT_CONFIG, endpoint });
    const created = await sns.send(new CreateTopicCommand({ Name: topicArn.split(":").pop() }));
    assert.equal(created.TopicArn, topicArn);
    const image = (await ec2.send(new DescribeImagesCommand({}))).Images?.[0]?.ImageId;
    assert.ok(image, "moto has no AMI");
    const hourAgo = new Date(Date.now() - 3600000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const inAnHour = new Date(Date.now() + 3600000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const launch = async (tags: Record<string, string>): Promise<string> => {
      const out = await ec2.send(
        new RunInstancesCommand({
          ImageId: image,
          InstanceType: "t3.micro",
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
      return out.Instances?.[0]?.InstanceId ?? "";
    };
    const run = (job: string, runId: string, deadline: string) => ({
      "transient-jobs:project": "transient-jobs",
      "transient-jobs:environment": "dev",
      "transient-jobs:job": job,
      "transient-jobs:run-id": runId,
      "transient-jobs:scheduled-time": "2026-11-23T03:00:00Z",
      "transient-jobs:deadline": deadline,
    });
    const expired = await launch(run("pi", "pi-20261123T0300Z", hourAgo));
    const ownRecord = await launch(run("pi", "pi-20261123T0200Z", hourAgo));
    const fresh = await launch(run("pi", "pi-20261123T0400Z", inAnHour));
    const malformed = await launch(run("pi", "pi-20261123T0500Z", "not-a-time"));
    const otherEnvironment = await launch({
      ...run("pi", "pi-20261123T0300Z", hourAgo),
      "transient-jobs:environment": "prod",
    });
    const untagged = await launch({ "transient-jobs:deadline": hourAgo, Name: "someone else's" });
    const ownBody = '{"status":"failed","note":"written by the run itself"}\n';
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "jobs/pi/runs/pi-20261123T0200Z.json",
        Body: ownBody,
      }),
    );

    const outcome = await invokeSerializedHandler(code, {}, endpoint, { budgetMs: 60000 });
    assert.equal(outcome.ok, true, `${JSON.stringify(outcome.error)}\n${outcome.stderr}`);
    // JSON over the process boundary: what the handler returned, as Lambda would return it.
    const result = outcome.result as unknown as ReapResult;
    assert.deepEqual(
      result.reaped.map((r) => [r.instanceId, r.record]).sort(),
      [
        [expired, "written"],
        [ownRecord, "exists"],
      ].sort(),
    );
    assert.deepEqual(
      result.unreapable.map((u) => u.instanceId),
      [malformed],
    );
    assert.deepEqual(result.failures, []);
    const log = JSON.parse(outcome.logs.at(-1) ?? "{}");
    assert.equal(log.level, "info");
    assert.equal(log.environment, "dev");

    const described = await ec2.send(new DescribeInstancesCommand({}));
    const states = Object.fromEntries(
      (described.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .map((i) => [i.InstanceId, i.State?.Name]),
    );
    for (const id of [expired, ownRecord]) {
      assert.ok(["shutting-down", "terminated"].includes(states[id] ?? ""), `${id}: ${states[id]}`);
    }
    for (const id of [fresh, malformed, otherEnvironment, untagged]) {
      assert.equal(states[id], "running", `${id} was touched`);
    }

    const read = async (key: string) =>
      (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString();
    const record = JSON.parse((await read("jobs/pi/runs/pi-20261123T0300Z.json")) ?? "{}");
    assert.equal(record.status, "reaped");
    assert.equal(record.instanceId, expired);
    assert.equal(record.deadline, hourAgo);
    assert.equal(await read("jobs/pi/runs/pi-20261123T0200Z.json"), ownBody);

    const cloudwatch = new CloudWatchClient({ ...MOTO_CLIENT_CONFIG, endpoint });
    const stats = await cloudwatch.send(
      new GetMetricStatisticsCommand({
        Namespace: "TransientJobs",
        MetricName: "InstancesReaped",
        Dimensions: [
          { Name: "Environment", Value: "dev" },
          { Name: "Region", Value: "eu-west-1" },
        ],
        StartTime: new Date(Date.now() - 600000),
        EndTime: new Date(Date.now() + 600000),
        Period: 60,
        Statistics: ["Sum"],
      }),
    );
    assert.deepEqual(
      stats.Datapoints?.map((d) => d.Sum),
      [2],
    );
  });
});
