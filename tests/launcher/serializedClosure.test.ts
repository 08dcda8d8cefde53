import * as assert from "node:assert/strict";
import {
  CreateLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  EC2Client,
  type Instance,
} from "@aws-sdk/client-ec2";
import { attemptInputs, renderInitScript, decodeUserData } from "../../launcher/initScript";
import { clientTokenFor } from "../../launcher/runId";
import type { JobLaunchSpec } from "../../launcher/contract";
import type { RecordedResource } from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";
import { MOTO_CLIENT_CONFIG, resetMoto, startMoto } from "../../testing/moto";
import { specFixture } from "../../testing/fixtures";
import {
  assertSelfContained,
  deployedLauncherCode,
  ec2Xml,
  EC2_CLIENT_SPECIFIERS,
  sdkClientSpecifiers,
  requiredModules,
  serializeLauncherClosure,
  startEc2Stub,
  startLaunchingEc2Stub,
  startSerializedContainer,
  type Ec2Stub,
  type SerializedContainer,
} from "../../testing/serializedClosure";

const EVENT = { job: "pi", scheduledTime: "2026-11-23T03:00:00Z" };
/** The child's clock: 20 s after the scheduled time, as when Scheduler invokes on time. */
const ON_TIME = { clock: "2026-11-23T03:00:20Z" };
const RUN_ID = "pi-20261123T0300Z";

function expectedUserData(spec: JobLaunchSpec): string {
  return renderInitScript({
    ...spec,
    runId: RUN_ID,
    ...attemptInputs(spec, RUN_ID, 1),
    scheduledTime: "2026-11-23T03:00:00Z",
    deadlineMinutes: spec.maxRuntimeMinutes,
  });
}

/** Tag params of the EC2 Query API (`TagSpecification.N.Tag.M.Key/Value`) as a map. */
function queryTags(params: Record<string, string>, spec: number): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let m = 1; params[`TagSpecification.${spec}.Tag.${m}.Key`] !== undefined; m++) {
    tags[params[`TagSpecification.${spec}.Tag.${m}.Key`]] =
      params[`TagSpecification.${spec}.Tag.${m}.Value`];
  }
  return tags;
}

describe("the serialized launcher closure", function () {
  this.timeout(60000);
  let ec2: EC2Client;
  let endpoint: string;
  /**
   * One spec and one serialized closure for the stub and for moto (serializing takes a second or
   * more): a launch template and a subnet that exist in moto, which the stub echoes as they are.
   */
  let spec: JobLaunchSpec;
  let code: string;

  before(async () => {
    endpoint = await startMoto();
    await resetMoto();
    ec2 = new EC2Client({ ...MOTO_CLIENT_CONFIG, endpoint });
    const image = (await ec2.send(new DescribeImagesCommand({}))).Images?.[0]?.ImageId;
    assert.ok(image, "moto has no AMI");
    const template = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "tj-dev-eu-west-1-pi",
        LaunchTemplateData: { ImageId: image, InstanceInitiatedShutdownBehavior: "terminate" },
      }),
    );
    const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
    spec = specFixture({
      launchTemplateId: template.LaunchTemplate?.LaunchTemplateId ?? "",
      subnetIds: subnets
        .map((s) => s.SubnetId ?? "")
        .sort()
        .slice(0, 1),
    });
    code = await serializeLauncherClosure({ pi: spec });
  });

  describe("against a local EC2 stub", () => {
    let stub: Ec2Stub;
    let lambda: SerializedContainer;

    before(async () => {
      stub = await startEc2Stub(({ action, params }) => {
        if (action === "DescribeInstances") return { body: ec2Xml.describeInstances([]) };
        if (action === "CreateTags") return { body: ec2Xml.createTags() };
        if (action === "RunInstances" && params.InstanceType === "m7i.large") {
          return {
            status: 500,
            body: ec2Xml.error(
              "InsufficientInstanceCapacity",
              "We currently do not have sufficient m7i.large capacity",
            ),
          };
        }
        if (action === "RunInstances") {
          return {
            body: ec2Xml.runInstances({
              instanceId: "i-0stub",
              instanceType: params.InstanceType,
              availabilityZone: "eu-west-1a",
            }),
          };
        }
        return { status: 400, body: ec2Xml.error("InvalidAction", `unexpected ${action}`) };
      });
      lambda = startSerializedContainer(code, stub.endpoint);
    });

    after(async () => {
      await lambda?.close();
      await stub?.close();
    });
    beforeEach(() => stub.requests.splice(0));

    it("is small, requires only node built-ins and the runtime's SDK clients, and bundles no SDK", () => {
      assertSelfContained(code);
      assert.deepEqual(
        requiredModules(code),
        [
          EC2_CLIENT_SPECIFIERS[1],
          // Required by name on first use, after the launch (launcher/lazySdk.ts).
          sdkClientSpecifiers("@aws-sdk/client-sns")[0],
          sdkClientSpecifiers("@aws-sdk/client-cloudwatch")[0],
          sdkClientSpecifiers("@aws-sdk/client-s3")[0],
          "crypto",
          // The user data is gzip-compressed (encodeUserData).
          "zlib",
        ].sort(),
      );
      // The launcher's own code is about 100 kB; one bundled SDK client would be megabytes.
      assert.ok(code.length < 150_000, `serialized closure is ${code.length} bytes`);
      assert.match(code, /exports\.handler = /);
    });

    it("rejects code that bundles or needs more than the runtime has", () => {
      assert.throws(
        () => assertSelfContained(`${code}\nrequire("zod");`),
        /requires modules the runtime lacks: zod/,
      );
      assert.throws(
        () => assertSelfContained(`${code}\n// @smithy/smithy-client`),
        /has AWS SDK code inlined/,
      );
      assert.throws(
        () => assertSelfContained("exports.handler = () => 1;"),
        /does not require @aws-sdk\/client-ec2/,
      );
    });

    it("launches over real HTTP, falling back to the second instance type", async () => {
      const outcome = await lambda.invoke(EVENT, ON_TIME);
      assert.equal(outcome.ok, true, JSON.stringify(outcome.error) + outcome.stderr);
      const result = outcome.result ?? {};
      assert.deepEqual(
        [
          result.status,
          result.runId,
          result.instanceId,
          result.instanceType,
          result.availabilityZone,
          result.existing,
        ],
        ["launched", RUN_ID, "i-0stub", "m6i.large", "eu-west-1a", false],
      );
      assert.deepEqual(
        outcome.logs.map((l) => JSON.parse(l)),
        [{ level: "info", ...result }],
      );

      const [describe, ...sent] = stub.requests;
      assert.equal(describe.action, "DescribeInstances");
      const runs = sent.slice(0, -1);
      // The launch-time tags come after the launch, on the launched instance only.
      const tagging = sent[sent.length - 1];
      assert.deepEqual(
        [tagging.action, tagging.params["ResourceId.1"], tagging.params["Tag.1.Key"]],
        ["CreateTags", "i-0stub", "transient-jobs:launch-requested-at"],
      );
      assert.deepEqual(
        [1, 2, 3].map((n) => [
          describe.params[`Filter.${n}.Name`],
          describe.params[`Filter.${n}.Value.1`],
        ]),
        [
          ["tag:transient-jobs:project", "transient-jobs"],
          ["tag:transient-jobs:environment", "dev"],
          ["tag:transient-jobs:job", "pi"],
        ],
      );
      const token = (instanceType: string) =>
        clientTokenFor({
          environment: "dev",
          launchTemplateId: spec.launchTemplateId,
          runId: RUN_ID,
          purchaseOption: "on-demand",
          instanceType,
          subnetId: spec.subnetIds[0],
        });
      // The SDK itself retries HTTP 500 a few times; each retry carries the same ClientToken.
      const first = runs.filter((r) => r.params.InstanceType === "m7i.large");
      assert.ok(first.length >= 1);
      assert.deepEqual(
        new Set(first.map((r) => r.params.ClientToken)),
        new Set([token("m7i.large")]),
      );
      const last = runs[runs.length - 1];
      assert.equal(runs.length, first.length + 1);
      const { params } = last;
      assert.deepEqual(
        {
          action: last.action,
          template: params["LaunchTemplate.LaunchTemplateId"],
          version: params["LaunchTemplate.Version"],
          type: params.InstanceType,
          subnet: params.SubnetId,
          min: params.MinCount,
          max: params.MaxCount,
          token: params.ClientToken,
          market: params["InstanceMarketOptions.MarketType"],
          resourceTypes: [
            params["TagSpecification.1.ResourceType"],
            params["TagSpecification.2.ResourceType"],
          ],
        },
        {
          action: "RunInstances",
          template: spec.launchTemplateId,
          version: "$Latest",
          type: "m6i.large",
          subnet: spec.subnetIds[0],
          min: "1",
          max: "1",
          token: token("m6i.large"),
          market: undefined,
          resourceTypes: ["instance", "volume"],
        },
      );
      assert.equal(decodeUserData(params.UserData), expectedUserData(spec));
      const tags = queryTags(params, 1);
      assert.deepEqual(queryTags(params, 2), tags);
      const { "transient-jobs:deadline": deadline, ...rest } = tags;
      assert.deepEqual(rest, {
        Name: `tj-dev-${RUN_ID}`,
        "transient-jobs:project": "transient-jobs",
        "transient-jobs:environment": "dev",
        "transient-jobs:job": "pi",
        "transient-jobs:run-id": RUN_ID,
        "transient-jobs:scheduled-time": "2026-11-23T03:00:00Z",
        "transient-jobs:attempt": "1",
      });
      // From the scheduled time, not the clock: a retried invocation tags the same deadline.
      assert.equal(
        deadline,
        new Date(
          Date.parse(EVENT.scheduledTime) +
            spec.maxLaunchDelaySeconds * 1000 +
            spec.maxRuntimeMinutes * 60000,
        )
          .toISOString()
          .replace(/\.000Z$/, "Z"),
      );
    });

    it("fails the invocation with a clear error for a malformed or unknown event", async () => {
      const malformed = await lambda.invoke({ job: "pi" });
      assert.deepEqual(malformed.error, {
        name: "InvalidLaunchEventError",
        message: `launch event.scheduledTime: expected an ISO-8601 time string, got nothing; e.g. {"job": "pi", "scheduledTime": "2026-11-23T03:00:00Z"}`,
        hasStack: true,
      });
      const unknown = await lambda.invoke({ ...EVENT, job: "nightly" });
      assert.deepEqual(unknown.error, {
        name: "UnknownJobError",
        message: `launch event.job: no job "nightly" in this launcher (deployed jobs: pi); check the job name or deploy it to this region`,
        hasStack: true,
      });
      assert.deepEqual(stub.requests, []);
    });
  });

  describe("against moto", () => {
    /** The container that launches the run, and one that has not seen it, as a retry may find. */
    let launching: SerializedContainer;
    let retrying: SerializedContainer;

    before(() => {
      launching = startSerializedContainer(code, endpoint);
      retrying = startSerializedContainer(code, endpoint);
    });

    after(async () => {
      await launching?.close();
      await retrying?.close();
    });

    async function runInstances(runId: string): Promise<Instance[]> {
      const out = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: "tag:transient-jobs:run-id", Values: [runId] }],
        }),
      );
      return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    }

    it("launches once per scheduled run, with the run's tags and user data, and honours forbid", async () => {
      const first = await launching.invoke(EVENT, ON_TIME);
      assert.equal(first.ok, true, JSON.stringify(first.error) + first.stderr);
      assert.equal(first.result?.status, "launched");
      assert.equal(first.result?.existing, false);

      const instances = await runInstances(RUN_ID);
      assert.equal(instances.length, 1);
      const [instance] = instances;
      assert.equal(instance.InstanceId, first.result?.instanceId);
      // The first type: the stub's capacity error is the stub's; moto has capacity for it.
      assert.equal(instance.InstanceType, spec.instanceTypes[0]);
      assert.equal(instance.SubnetId, spec.subnetIds[0]);
      const tags = Object.fromEntries((instance.Tags ?? []).map((t) => [t.Key, t.Value]));
      assert.deepEqual(
        {
          job: tags["transient-jobs:job"],
          environment: tags["transient-jobs:environment"],
          project: tags["transient-jobs:project"],
          scheduled: tags["transient-jobs:scheduled-time"],
          deadline: tags["transient-jobs:deadline"],
        },
        {
          job: "pi",
          environment: "dev",
          project: "transient-jobs",
          scheduled: "2026-11-23T03:00:00Z",
          deadline: first.result?.deadline,
        },
      );
      const volumes = await ec2.send(
        new DescribeVolumesCommand({
          Filters: [{ Name: "tag:transient-jobs:run-id", Values: [RUN_ID] }],
        }),
      );
      assert.deepEqual(
        volumes.Volumes?.map((v) => v.Attachments?.[0]?.InstanceId),
        [instance.InstanceId],
      );
      const userData = await ec2.send(
        new DescribeInstanceAttributeCommand({
          InstanceId: instance.InstanceId,
          Attribute: "userData",
        }),
      );
      assert.equal(decodeUserData(userData.UserData?.Value ?? ""), expectedUserData(spec));

      // A retried invocation of the same run finds the instance instead of launching another
      // (moto ignores ClientToken, and this container has not seen the launch, so this is the
      // launcher's own run-id lookup at work).
      const retry = await retrying.invoke(EVENT, ON_TIME);
      assert.deepEqual(
        [retry.result?.status, retry.result?.existing, retry.result?.instanceId],
        ["launched", true, instance.InstanceId],
      );
      assert.equal((await runInstances(RUN_ID)).length, 1);

      // The next run is due while this one is alive: forbid skips it.
      const next = await retrying.invoke(
        { ...EVENT, scheduledTime: "2026-11-23T04:00:00Z" },
        { clock: "2026-11-23T04:00:20Z" },
      );
      assert.equal(next.result?.status, "skipped");
      assert.match(String(next.result?.reason), /concurrencyPolicy forbid: run pi-20261123T0300Z/);
      assert.equal((await runInstances("pi-20261123T0400Z")).length, 0);
    });
  });

  /**
   * The launcher exactly as `pulumi up` would upload it: the code asset the Launcher component
   * hands to aws:lambda/function under mocks (from the real Pulumi.dev.yaml), run in a fresh Node
   * process against a local EC2 endpoint.
   */
  describe("as the Launcher component uploads it (stack dev, from the program under mocks)", function () {
    this.timeout(60000);
    let code: string;
    let launchTemplate: RecordedResource;
    let stub: Ec2Stub;
    let lambda: SerializedContainer;

    before(async () => {
      const { resources } = (await evaluatedStack("dev")).evaluation;
      code = await deployedLauncherCode(resources);
      launchTemplate = resources.find((r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate")!;
      stub = await startLaunchingEc2Stub("i-0artifact");
      lambda = startSerializedContainer(code, stub.endpoint);
    });

    after(async () => {
      await lambda?.close();
      await stub?.close();
    });

    it("bundles no AWS SDK and no other package", () => {
      assertSelfContained(code);
      assert.ok(Buffer.byteLength(code) < 150_000, `${Buffer.byteLength(code)} bytes`);
    });

    it("launches the configured job from its launch template, with the deployed config baked in", async () => {
      const outcome = await lambda.invoke(
        { job: "pi", scheduledTime: "2026-11-24T06:00:00Z" },
        { clock: "2026-11-24T06:00:20Z" },
      );
      assert.equal(outcome.ok, true, JSON.stringify(outcome.error) + outcome.stderr);
      assert.equal(outcome.result?.status, "launched");
      assert.equal(outcome.result?.instanceId, "i-0artifact");
      const run = stub.requests.find((r) => r.action === "RunInstances");
      assert.ok(run, "no RunInstances request");
      assert.equal(run.params["LaunchTemplate.LaunchTemplateId"], launchTemplate.id);
      // dev's first preference, spot first (purchaseOption spot-then-on-demand).
      assert.equal(run.params.InstanceType, "t3.medium");
      assert.equal(run.params["InstanceMarketOptions.MarketType"], "spot");
      const userData = decodeUserData(run.params.UserData);
      assert.match(userData, /DURATION_SECONDS/);
      assert.match(userData, /pi-20261124T0600Z/);
      // A cold start loads EC2 alone before its first request; the reporting clients after.
      assert.equal(outcome.coldStart, true, "the container's first invocation");
      assert.deepEqual(outcome.clientsAtFirstRequest, ["client-ec2"]);
      assert.deepEqual(outcome.clientsAtEnd, ["client-cloudwatch", "client-ec2", "client-sns"]);
    });

    it("rejects an event for a job it was not deployed with, naming the job", async () => {
      const before = stub.requests.length;
      const outcome = await lambda.invoke({
        job: "nightly-pi",
        scheduledTime: "2026-11-24T06:00:00Z",
      });
      assert.equal(outcome.ok, false);
      assert.match(outcome.error!.message, /nightly-pi/);
      assert.equal(
        stub.requests.slice(before).filter((r) => r.action === "RunInstances").length,
        0,
      );
    });
  });
});
