/**
 * The Reaper component as the program declares it, under mocks, for every region of dev and prod.
 */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { validateReaperArgs } from "../../components/reaper";
import { invokeFunctionPolicy, reaperPolicy, serviceTrustPolicy } from "../../components/policies";
import { MOCK_ACCOUNT_ID, RecordedResource } from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";

for (const stack of ["dev", "prod"]) {
  describe(`Reaper under mocks: stack ${stack}`, function () {
    this.timeout(60000);
    let resources: RecordedResource[];
    let regions: string[];

    before(async () => {
      const { config, evaluation } = await evaluatedStack(stack);
      resources = evaluation.resources;
      regions = config.regions.map((r) => r.name);
    });

    const one = (type: string, name: string): RecordedResource => {
      const found = resources.filter((r) => r.type === type && r.name === name);
      assert.equal(found.length, 1, `expected one ${type} ${name}, found ${found.length}`);
      return found[0];
    };

    it("declares one reaper per region, inside the region's stack, with exactly its resources", () => {
      const reapers = resources.filter((r) => r.type === "transient-jobs:index:Reaper");
      assert.deepEqual(
        reapers.map((r) => r.name).sort(),
        regions.map((region) => `tj-${stack}-${region}-reaper`).sort(),
      );
      for (const region of regions) {
        const name = `tj-${stack}-${region}-reaper`;
        const reaper = one("transient-jobs:index:Reaper", name);
        const regional = one("transient-jobs:index:RegionalJobStack", `tj-${stack}-${region}`);
        assert.equal(reaper.parent, regional.urn);
        const children = resources
          .filter((r) => r.parent === reaper.urn)
          .map((r) => `${r.type} ${r.name}`)
          .sort();
        assert.deepEqual(children, [
          `aws:cloudwatch/logGroup:LogGroup ${name}-logs`,
          `aws:iam/role:Role ${name}-invoke`,
          `aws:iam/role:Role ${name}-role`,
          `aws:iam/rolePolicy:RolePolicy ${name}-invoke`,
          `aws:iam/rolePolicy:RolePolicy ${name}-policy`,
          `aws:lambda/function:Function ${name}-fn`,
          `aws:scheduler/schedule:Schedule ${name}-schedule`,
        ]);
        for (const child of resources.filter((r) => r.parent === reaper.urn)) {
          assert.equal(child.providerRegion, region, `${child.name} uses another provider`);
        }
      }
    });

    it("grants the reaper role exactly the reaper policy, with this region's ARNs", () => {
      for (const region of regions) {
        const name = `tj-${stack}-${region}-reaper`;
        const bucket = one("aws:s3/bucket:Bucket", `tj-${stack}-${region}-results`);
        const logGroup = one("aws:cloudwatch/logGroup:LogGroup", `${name}-logs`);
        const topic = one("aws:sns/topic:Topic", `tj-${stack}-${region}-notifications-topic`);
        const key = one("aws:kms/key:Key", `tj-${stack}-${region}-notifications-key`);
        assert.equal(logGroup.inputs.kmsKeyId, key.state.arn);
        const role = one("aws:iam/role:Role", `${name}-role`);
        assert.deepEqual(
          JSON.parse(String(role.inputs.assumeRolePolicy)),
          serviceTrustPolicy("lambda.amazonaws.com"),
        );
        assert.deepEqual(
          JSON.parse(String(one("aws:iam/rolePolicy:RolePolicy", `${name}-policy`).inputs.policy)),
          reaperPolicy({
            partition: "aws",
            accountId: MOCK_ACCOUNT_ID,
            region,
            environment: stack,
            bucketArn: String(bucket.state.arn),
            logGroupArn: String(logGroup.state.arn),
            metricNamespace: "TransientJobs",
            topicArn: String(topic.state.arn),
          }),
        );
        assert.equal(
          resources.filter(
            (r) =>
              r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment" &&
              r.name.startsWith(name),
          ).length,
          0,
        );
      }
    });

    it("deploys the function with its own role, a current runtime, limits and no bundled packages", async () => {
      for (const region of regions) {
        const name = `tj-${stack}-${region}-reaper`;
        const fn = one("aws:lambda/function:Function", `${name}-fn`);
        const inputs = fn.inputs as Record<string, any>;
        assert.equal(inputs.role, one("aws:iam/role:Role", `${name}-role`).state.arn);
        assert.equal(inputs.runtime, "nodejs22.x");
        assert.equal(inputs.timeout, 60);
        assert.equal(inputs.memorySize, 256);
        assert.deepEqual(inputs.loggingConfig, {
          logFormat: "Text",
          logGroup: one("aws:cloudwatch/logGroup:LogGroup", `${name}-logs`).state.name,
        });
        const assets = await inputs.code.assets;
        assert.deepEqual(Object.keys(assets), ["__index.js"]);
        const code: string = await assets["__index.js"].text;
        const bucket = one("aws:s3/bucket:Bucket", `tj-${stack}-${region}-results`);
        assert.ok(code.includes(JSON.stringify(bucket.state.bucket)), "bucket not embedded");
        const topic = one("aws:sns/topic:Topic", `tj-${stack}-${region}-notifications-topic`);
        assert.ok(code.includes(JSON.stringify(topic.state.arn)), "topic not embedded");
      }
    });

    it("runs every 5 minutes, always enabled, through an invoke role limited to the function", () => {
      for (const region of regions) {
        const name = `tj-${stack}-${region}-reaper`;
        const fn = one("aws:lambda/function:Function", `${name}-fn`);
        const invokeRole = one("aws:iam/role:Role", `${name}-invoke`);
        assert.deepEqual(
          JSON.parse(String(invokeRole.inputs.assumeRolePolicy)),
          serviceTrustPolicy("scheduler.amazonaws.com", MOCK_ACCOUNT_ID),
        );
        assert.deepEqual(
          JSON.parse(String(one("aws:iam/rolePolicy:RolePolicy", `${name}-invoke`).inputs.policy)),
          invokeFunctionPolicy(String(fn.state.arn)),
        );
        const schedule = one("aws:scheduler/schedule:Schedule", `${name}-schedule`).inputs as any;
        assert.equal(schedule.scheduleExpression, "rate(5 minutes)");
        assert.equal(schedule.state, "ENABLED");
        assert.deepEqual(schedule.flexibleTimeWindow, { mode: "OFF" });
        assert.deepEqual(schedule.target, {
          arn: fn.state.arn,
          roleArn: invokeRole.state.arn,
          input: "{}",
          retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60 },
        });
      }
    });
  });
}

describe("validateReaperArgs", () => {
  it("accepts the defaults and other rates", () => {
    validateReaperArgs({});
    validateReaperArgs({ graceMinutes: 0, rate: "rate(1 minute)" });
  });
  for (const [args, message] of [
    [{ graceMinutes: -5 }, "Reaper graceMinutes: -5 must be an integer from 0 to 1440"],
    [{ graceMinutes: 1441 }, "Reaper graceMinutes: 1441 must be an integer from 0 to 1440"],
    [{ rate: "cron(0 * * * ? *)" }, 'Reaper rate: "cron(0 * * * ? *)" must be a rate expression'],
    [
      { rate: "rate(5 minute)" },
      'Reaper rate: "rate(5 minute)" is not valid: rate unit "minute" is singular, which is valid only with the value 1',
    ],
  ] as const) {
    it(`rejects ${JSON.stringify(args)} with a ResourceError`, () =>
      assert.throws(
        () => validateReaperArgs(args),
        (error: unknown) =>
          error instanceof pulumi.ResourceError && new RegExp(escape(message)).test(error.message),
      ));
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
