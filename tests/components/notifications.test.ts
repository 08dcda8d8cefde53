/**
 * Run notifications: the regional topic and its key, the subscriptions from stack config, the
 * encrypted log groups, the publish and metric permissions, and the deployed launcher actually
 * publishing and putting metrics (its serialized code against moto).
 */
import * as assert from "node:assert/strict";
import { imageKey } from "../../lib/resourceNames";
import * as http from "node:http";
import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { CloudWatchClient, ListMetricsCommand } from "@aws-sdk/client-cloudwatch";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import type { StackConfig } from "../../config";
import { subscriptionsFor, validateRolePrefix } from "../../components/notifications";
import {
  notificationKeyPolicy,
  notificationTopicPolicy,
  PolicyDocument,
  PolicyStatement,
} from "../../components/policies";
import {
  Evaluation,
  loadStackConfig,
  MOCK_ACCOUNT_ID,
  RecordedResource,
} from "../../offline/engine";
import {
  ec2Xml,
  invokeSerializedHandler,
  startEc2Stub,
  type Ec2Stub,
} from "../../testing/serializedClosure";
import { evaluatedStack, evaluatedWith } from "../../testing/evaluations";
import { MOTO_CLIENT_CONFIG, resetMoto, startMoto } from "../../testing/moto";

const EMAILS = ["ops@example.com", "oncall@example.com", "OPS@example.com"];
const HOOKS = ["https://hooks.example.com/transient-jobs"];

/** Every resource below the regional stack of `region`. */
function inRegion(resources: RecordedResource[], stack: string, region: string) {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const top = resources.find(
    (r) => r.type === "transient-jobs:index:RegionalJobStack" && r.name === `tj-${stack}-${region}`,
  );
  assert.ok(top, `no regional stack for ${region}`);
  return resources.filter((r) => {
    for (let p = r.parent && byUrn.get(r.parent); p; p = p.parent && byUrn.get(p.parent)) {
      if (p === top) return true;
    }
    return false;
  });
}

function one(resources: RecordedResource[], type: string, name?: string): RecordedResource {
  const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  assert.equal(found.length, 1, `${type} ${name ?? ""}: ${found.map((r) => r.name).join(", ")}`);
  return found[0];
}

function statements(resource: RecordedResource): PolicyStatement[] {
  return (JSON.parse(String(resource.inputs.policy)) as PolicyDocument).Statement;
}

describe("subscriptionsFor", () => {
  it("makes one subscription per distinct endpoint, named by the endpoint, not its position", () => {
    const specs = subscriptionsFor({ emails: EMAILS, httpsEndpoints: HOOKS });
    assert.deepEqual(
      specs.map((s) => [s.protocol, s.endpoint]),
      [
        ["email", "ops@example.com"],
        ["email", "oncall@example.com"],
        ["https", "https://hooks.example.com/transient-jobs"],
      ],
    );
    for (const spec of specs) assert.match(spec.key, /^(email|https)-[0-9a-f]{8}$/);
    const reordered = subscriptionsFor({
      emails: ["oncall@example.com"],
      httpsEndpoints: HOOKS,
    });
    assert.deepEqual(
      reordered.map((s) => s.key),
      [specs[1].key, specs[2].key],
    );
  });

  it("makes none without subscribers", () =>
    assert.deepEqual(subscriptionsFor({ emails: [], httpsEndpoints: [] }), []));
});

describe("validateRolePrefix", () => {
  it("accepts a stack name followed by a dash", () => validateRolePrefix("tj-dev-eu-west-1-"));
  for (const bad of ["tj-dev-eu-west-1", "tj-", "tj dev-", ""]) {
    it(`rejects ${JSON.stringify(bad)}, which could match other stacks' roles`, () =>
      assert.throws(
        () => validateRolePrefix(bad),
        (error: unknown) =>
          error instanceof pulumi.ResourceError &&
          new RegExp(
            `RunNotifications rolePrefix: ${JSON.stringify(bad).replace(/[-/\\^$*+?.()|[\]{}]/g, "\\$&")} must be the regional stack's name followed by "-"`,
          ).test(error.message),
      ));
  }
});

describe("notification key and topic policies", () => {
  const scope = { partition: "aws", accountId: "123456789012", region: "eu-west-1" };

  it("lets CloudWatch alarms and the stack's roles (through SNS only) use the key, and never grants kms:*", () => {
    const doc = notificationKeyPolicy({ ...scope, rolePrefix: "tj-dev-eu-west-1-" });
    const bySid = Object.fromEntries(doc.Statement.map((s) => [s.Sid, s]));
    assert.deepEqual(Object.keys(bySid), [
      "AccountAdministersKey",
      "AlarmsPublishToTopic",
      "StackRolesPublishThroughSns",
      "LogsEncryptOwnLogGroups",
    ]);
    assert.deepEqual(bySid.AlarmsPublishToTopic, {
      Sid: "AlarmsPublishToTopic",
      Effect: "Allow",
      Principal: { Service: "cloudwatch.amazonaws.com" },
      Action: ["kms:GenerateDataKey", "kms:Decrypt"],
      Resource: "*",
      Condition: {
        StringEquals: { "aws:SourceAccount": "123456789012" },
        ArnLike: { "aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*" },
      },
    });
    assert.deepEqual(bySid.StackRolesPublishThroughSns.Condition, {
      StringEquals: {
        "kms:CallerAccount": "123456789012",
        "kms:ViaService": "sns.eu-west-1.amazonaws.com",
      },
      ArnLike: { "aws:PrincipalArn": "arn:aws:iam::123456789012:role/tj-dev-eu-west-1-*" },
    });
    assert.deepEqual(bySid.LogsEncryptOwnLogGroups.Condition, {
      ArnLike: {
        "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:123456789012:log-group:*",
      },
    });
    for (const statement of doc.Statement) {
      for (const action of [statement.Action].flat()) {
        assert.ok(!action.includes("*"), `${statement.Sid} grants ${action}`);
      }
    }
    assert.ok((bySid.AccountAdministersKey.Action as string[]).includes("kms:PutKeyPolicy"));
  });

  it("lets only this region's alarms publish to the topic, and only over TLS", () => {
    const topicArn = "arn:aws:sns:eu-west-1:123456789012:t";
    assert.deepEqual(notificationTopicPolicy({ ...scope, topicArn }).Statement, [
      {
        Sid: "AlarmsPublish",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: "sns:Publish",
        Resource: topicArn,
        Condition: {
          StringEquals: { "aws:SourceAccount": "123456789012" },
          ArnLike: { "aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*" },
        },
      },
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "sns:Publish",
        Resource: topicArn,
        Condition: { Bool: { "aws:SecureTransport": false } },
      },
    ]);
  });
});

describe("notifications under mocks: prod with subscribers in stack config", function () {
  this.timeout(120000);
  let evaluation: Evaluation;
  let config: StackConfig;

  before(async () => {
    const raw = loadStackConfig("prod");
    raw["transient-jobs:notifications"] = JSON.stringify({ emails: EMAILS, httpsEndpoints: HOOKS });
    // Subscribers change no Lambda's code (the topic is baked in either way, as checked on the
    // committed stack below): it is not serialized.
    ({ config, evaluation } = await evaluatedWith("prod", raw, { closures: "placeholder" }));
  });

  for (const region of ["eu-west-1", "us-east-1"]) {
    describe(region, () => {
      let resources: RecordedResource[];
      let key: RecordedResource;
      let topic: RecordedResource;
      before(() => {
        resources = inRegion(evaluation.resources, "prod", region);
        key = one(resources, "aws:kms/key:Key");
        topic = one(resources, "aws:sns/topic:Topic");
      });

      it("has one topic, encrypted with the region's own rotating key", () => {
        assert.equal(topic.name, `tj-prod-${region}-notifications-topic`);
        assert.equal(topic.providerRegion, region);
        assert.equal(topic.inputs.kmsMasterKeyId, key.state.arn);
        assert.match(String(key.state.arn), new RegExp(`^arn:aws:kms:${region}:`));
        assert.equal(key.inputs.enableKeyRotation, true);
        assert.equal(key.inputs.deletionWindowInDays, 30);
        assert.deepEqual(
          JSON.parse(String(key.inputs.policy)),
          notificationKeyPolicy({
            partition: "aws",
            accountId: MOCK_ACCOUNT_ID,
            region,
            rolePrefix: `tj-prod-${region}-`,
          }),
        );
        assert.equal(
          one(resources, "aws:kms/alias:Alias").inputs.name,
          `alias/tj-prod-${region}-notifications`,
        );
        const policy = one(resources, "aws:sns/topicPolicy:TopicPolicy");
        assert.equal(policy.inputs.arn, topic.state.arn);
        assert.equal(statements(policy)[0].Resource, topic.state.arn);
      });

      it("subscribes exactly the configured addresses and endpoints", () => {
        const subscriptions = resources
          .filter((r) => r.type === "aws:sns/topicSubscription:TopicSubscription")
          .map((r) => [r.inputs.protocol, r.inputs.endpoint, r.inputs.topic]);
        assert.deepEqual(subscriptions.sort(), [
          ["email", "oncall@example.com", topic.state.arn],
          ["email", "ops@example.com", topic.state.arn],
          ["https", HOOKS[0], topic.state.arn],
        ]);
      });

      it("keeps launcher, reaper, supervisor and job logs for the configured days, encrypted with the key", () => {
        const groups = resources.filter((r) => r.type === "aws:cloudwatch/logGroup:LogGroup");
        const jobs = config.jobs.filter((j) => !j.regions || j.regions.includes(region));
        assert.deepEqual(
          groups.map((g) => g.name).sort(),
          [
            `tj-prod-${region}-launcher-logs`,
            `tj-prod-${region}-reaper-logs`,
            `tj-prod-${region}-supervisor-logs`,
            ...jobs.map((j) => `tj-prod-${region}-${j.name}-logs`),
            // With the codebuild builder, each image's build logs too.
            ...(config.imageBuilder === "codebuild"
              ? [...new Set(jobs.map((j) => imageKey(j.image, j.architecture)))].map(
                  (key) => `tj-prod-${region}-${key}-build-logs`,
                )
              : []),
          ].sort(),
        );
        for (const group of groups) {
          assert.equal(group.inputs.retentionInDays, config.logRetentionDays, group.name);
          assert.equal(group.inputs.kmsKeyId, key.state.arn, group.name);
        }
      });

      it("names every role of the region with the prefix the key trusts", () => {
        const roles = resources.filter((r) => r.type === "aws:iam/role:Role");
        assert.ok(roles.length >= 4);
        for (const role of roles) {
          assert.ok(
            String(role.state.name).startsWith(`tj-prod-${region}-`),
            String(role.state.name),
          );
        }
      });

      // The job instances publish nothing: the run supervisor notifies, once per run.
      it("lets the launcher, the reaper and the run supervisor publish to the topic and nothing else", () => {
        const publishers = resources
          .filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy")
          .filter((r) => statements(r).some((s) => [s.Action].flat().includes("sns:Publish")));
        assert.deepEqual(
          publishers.map((p) => p.name).sort(),
          [
            `tj-prod-${region}-launcher-policy`,
            `tj-prod-${region}-reaper-policy`,
            `tj-prod-${region}-supervisor-policy`,
          ].sort(),
        );
        for (const policy of publishers) {
          const publish = statements(policy).filter((s) =>
            [s.Action].flat().includes("sns:Publish"),
          );
          assert.deepEqual(
            publish.map((s) => s.Resource),
            [topic.state.arn],
            policy.name,
          );
        }
      });

      it("lets the launcher and the job instances put metrics in the TransientJobs namespace only", () => {
        const jobs = config.jobs.filter((j) => !j.regions || j.regions.includes(region));
        for (const name of [
          `tj-prod-${region}-launcher-policy`,
          ...jobs.map((j) => `tj-prod-${region}-${j.name}-instance-policy`),
        ]) {
          const put = statements(one(resources, "aws:iam/rolePolicy:RolePolicy", name)).filter(
            (s) => s.Action === "cloudwatch:PutMetricData",
          );
          assert.deepEqual(
            put.map((s) => [s.Resource, s.Condition]),
            [["*", { StringEquals: { "cloudwatch:namespace": "TransientJobs" } }]],
            name,
          );
        }
      });

      it("bakes the topic into the launcher and exports it", async () => {
        const committed = inRegion(
          (await evaluatedStack("prod")).evaluation.resources,
          "prod",
          region,
        );
        const fn = one(committed, "aws:lambda/function:Function", `tj-prod-${region}-launcher-fn`);
        const assets = await (
          fn.inputs.code as { assets: Promise<Record<string, { text: Promise<string> }>> }
        ).assets;
        const code = await assets["__index.js"].text;
        const committedTopic = one(committed, "aws:sns/topic:Topic");
        assert.equal(committedTopic.state.arn, topic.state.arn);
        assert.ok(code.includes(String(topic.state.arn)), "the launcher's specs lack the topic");
        const outputs = evaluation.outputs.regions as Record<string, { topicArn: string }>;
        assert.equal(outputs[region].topicArn, topic.state.arn);
      });
    });
  }
});

describe("notifications under mocks: dev without subscribers", function () {
  this.timeout(120000);
  it("still has the topic (alarms use it), and no subscription", async () => {
    const { evaluation } = await evaluatedStack("dev");
    const resources = inRegion(evaluation.resources, "dev", "eu-west-1");
    const topic = one(resources, "aws:sns/topic:Topic");
    assert.ok(topic.inputs.kmsMasterKeyId);
    assert.equal(
      resources.filter((r) => r.type === "aws:sns/topicSubscription:TopicSubscription").length,
      0,
    );
    assert.equal(one(resources, "aws:kms/key:Key").inputs.deletionWindowInDays, 7);
  });
});

/** A local HTTP endpoint subscribed to the topic: moto posts each notification to it. */
async function startHttpSubscriber() {
  const received: Array<Record<string, string>> = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      try {
        received.push(JSON.parse(body) as Record<string, string>);
      } catch {
        // not a notification
      }
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("the deployed launcher reports a launch (its code from the program, against moto)", function () {
  this.timeout(120000);
  let code: string;
  let topicArn: string;
  let stub: Ec2Stub;
  let moto: string;
  let subscriber: Awaited<ReturnType<typeof startHttpSubscriber>>;

  before(async () => {
    const [{ evaluation }, endpoint] = await Promise.all([evaluatedStack("dev"), startMoto()]);
    moto = endpoint;
    await resetMoto();
    const resources = inRegion(evaluation.resources, "dev", "eu-west-1");
    topicArn = String(one(resources, "aws:sns/topic:Topic").state.arn);
    const fn = one(resources, "aws:lambda/function:Function", "tj-dev-eu-west-1-launcher-fn");
    const assets = await (
      fn.inputs.code as { assets: Promise<Record<string, { text: Promise<string> }>> }
    ).assets;
    code = await assets["__index.js"].text;
    stub = await startEc2Stub(({ action, params }) => {
      if (action === "DescribeInstances") return { body: ec2Xml.describeInstances([]) };
      // The spot price of the run's estimate, as EC2 answers DescribeSpotPriceHistory.
      if (action === "DescribeSpotPriceHistory") {
        const types = Object.keys(params)
          .filter((key) => /^InstanceType\.\d+$/.test(key))
          .map((key) => params[key]);
        const items = types.map(
          (type) =>
            `<item><instanceType>${type}</instanceType><productDescription>Linux/UNIX</productDescription>` +
            "<spotPrice>0.012300</spotPrice><timestamp>2026-11-24T05:00:00.000Z</timestamp>" +
            "<availabilityZone>eu-west-1c</availabilityZone></item>",
        );
        return {
          body:
            '<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' +
            `<requestId>r-1</requestId><spotPriceHistorySet>${items.join("")}</spotPriceHistorySet>` +
            "<nextToken></nextToken></DescribeSpotPriceHistoryResponse>",
        };
      }
      if (action === "RunInstances") {
        return {
          body: ec2Xml.runInstances({
            instanceId: "i-0reported",
            instanceType: params.InstanceType,
            availabilityZone: "eu-west-1c",
          }),
        };
      }
      // The launch-time tags, added after RunInstances.
      if (action === "CreateTags") return { body: ec2Xml.createTags() };
      return { status: 400, body: ec2Xml.error("InvalidAction", `unexpected ${action}`) };
    });
    subscriber = await startHttpSubscriber();
    // The mock account is moto's default account, so the baked ARN names this topic in moto.
    const sns = new SNSClient({ ...MOTO_CLIENT_CONFIG, endpoint: moto });
    const created = await sns.send(new CreateTopicCommand({ Name: topicArn.split(":").pop() }));
    assert.equal(created.TopicArn, topicArn);
    await sns.send(
      new SubscribeCommand({ TopicArn: topicArn, Protocol: "http", Endpoint: subscriber.url }),
    );
  });

  after(async () => {
    await stub?.close();
    await subscriber?.close();
  });

  it("publishes the launch to the region's topic and puts its metrics", async () => {
    const outcome = await invokeSerializedHandler(
      code,
      { job: "pi", scheduledTime: "2026-11-24T06:00:00Z" },
      stub.endpoint,
      {
        env: { AWS_ENDPOINT_URL_SNS: moto, AWS_ENDPOINT_URL_CLOUDWATCH: moto },
        clock: "2026-11-24T06:00:20Z",
      },
    );
    assert.equal(outcome.ok, true, JSON.stringify(outcome.error) + outcome.stderr);
    assert.ok(!outcome.logs.some((l) => l.includes("report-failed")), outcome.logs.join("\n"));

    const notifications = subscriber.received.filter((m) => m.Type === "Notification");
    assert.equal(notifications.length, 1, JSON.stringify(subscriber.received));
    assert.equal(notifications[0].TopicArn, topicArn);
    assert.equal(
      notifications[0].Subject,
      "[transient-jobs dev] pi launched in eu-west-1",
      notifications[0].Message,
    );
    assert.match(
      notifications[0].Message,
      /^pi-20261124T0600Z launched: t3\.medium spot in eu-west-1c \(i-0reported\), deadline /,
    );
    // Its spot price, read at launch, and no warning.
    assert.match(notifications[0].Message, /\nEstimated \$0\.0123\/h, /);

    const cloudwatch = new CloudWatchClient({ ...MOTO_CLIENT_CONFIG, endpoint: moto });
    const metrics = (await cloudwatch.send(new ListMetricsCommand({ Namespace: "TransientJobs" })))
      .Metrics!.map((m) => [
        m.MetricName,
        Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name, d.Value])),
      ])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    const dims = { Environment: "dev", Region: "eu-west-1", Job: "pi" };
    assert.deepEqual(metrics, [
      ["LaunchAttempts", dims],
      ["Launches", { ...dims, InstanceType: "t3.medium", PurchaseOption: "spot" }],
      ["RunLaunched", dims],
    ]);
  });
});
