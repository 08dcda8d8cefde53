/**
 * The whole program under Pulumi's mocks, with the real Pulumi.dev.yaml and Pulumi.prod.yaml.
 */
import * as assert from "node:assert/strict";
import { IMAGE_BUILD_TYPE } from "../../lib/codeBuild";
import type { StackConfig } from "../../config";
import { evaluatedStack } from "../../testing/evaluations";
import { scheduleInput } from "../../components/jobSchedule";
import { offsetSchedule } from "../../lib/scheduleExpression";
import { PolicyDocument } from "../../components/policies";
import { Evaluation, RecordedResource } from "../../offline/engine";

const T = {
  regional: "transient-jobs:index:RegionalJobStack",
  job: "transient-jobs:index:ScheduledJob",
  bucket: "aws:s3/bucket:Bucket",
  launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  schedule: "aws:scheduler/schedule:Schedule",
  lambda: "aws:lambda/function:Function",
} as const;

/** Every resource below `ancestor` in the tree. */
function descendants(
  resources: RecordedResource[],
  ancestor: RecordedResource,
): RecordedResource[] {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  return resources.filter((r) => {
    for (let p = r.parent && byUrn.get(r.parent); p; p = p.parent && byUrn.get(p.parent)) {
      if (p === ancestor) return true;
    }
    return false;
  });
}

function only(
  resources: RecordedResource[],
  type: string,
  where: (r: RecordedResource) => boolean = () => true,
) {
  const found = resources.filter((r) => r.type === type && where(r));
  assert.equal(
    found.length,
    1,
    `expected one ${type}, found ${found.map((r) => r.name).join(", ") || "none"}`,
  );
  return found[0];
}

/** Every IAM policy document the program declares, with where it came from. */
export function declaredPolicies(
  resources: RecordedResource[],
): Array<{ source: string; document: PolicyDocument }> {
  const policies: Array<{ source: string; document: PolicyDocument }> = [];
  for (const r of resources) {
    for (const key of ["policy", "assumeRolePolicy"]) {
      const text = r.inputs[key];
      if (typeof text === "string" && text.trim().startsWith("{") && text.includes("Statement")) {
        policies.push({
          source: `${r.type} ${r.name}.${key}`,
          document: JSON.parse(text) as PolicyDocument,
        });
      }
    }
  }
  return policies;
}

const asList = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

for (const stack of ["dev", "prod"]) {
  describe(`program under mocks: stack ${stack}`, function () {
    this.timeout(60000);
    let evaluation: Evaluation;
    let resources: RecordedResource[];
    let config: StackConfig;

    before(async () => {
      ({ config, evaluation } = await evaluatedStack(stack));
      resources = evaluation.resources;
    });

    it("declares one regional stack per region, each with exactly its jobs", () => {
      const regional = resources.filter((r) => r.type === T.regional);
      assert.deepEqual(
        regional.map((r) => r.name).sort(),
        config.regions.map((r) => `tj-${stack}-${r.name}`).sort(),
      );
      for (const region of config.regions) {
        const component = only(
          resources,
          T.regional,
          (r) => r.name === `tj-${stack}-${region.name}`,
        );
        const jobs = resources
          .filter((r) => r.type === T.job && r.parent === component.urn)
          .map((r) => r.name);
        const expected = config.jobs
          .filter((j) => !j.regions || j.regions.includes(region.name))
          .map((j) => `tj-${stack}-${region.name}-${j.name}`);
        assert.deepEqual(jobs.sort(), expected.sort());
      }
    });

    it("creates every regional resource with its region's provider", () => {
      for (const region of config.regions) {
        const component = only(
          resources,
          T.regional,
          (r) => r.name === `tj-${stack}-${region.name}`,
        );
        const inside = descendants(resources, component).filter(
          (r) => r.custom || r.type.startsWith("awsx:"),
        );
        assert.ok(inside.length > 20, `only ${inside.length} resources in ${region.name}`);
        for (const r of inside) {
          // The image build has no AWS provider: its provider builds clients for its region.
          const where = r.type === IMAGE_BUILD_TYPE ? r.inputs.region : r.providerRegion;
          assert.equal(
            where,
            region.name,
            `${r.type} ${r.name} uses ${r.providerRegion ?? "the default provider"}`,
          );
        }
      }
      for (const call of evaluation.calls) {
        assert.ok(call.providerRegion, `${call.token} ran with the default provider`);
      }
    });

    it("makes each results bucket encrypted, versioned, fully private and TLS-only", () => {
      for (const bucket of resources.filter((r) => r.type === T.bucket)) {
        const siblings = resources.filter((r) => r.parent === bucket.parent);
        const of = (type: string) => only(siblings, type);
        assert.deepEqual(
          of(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
          ).inputs.rules,
          [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
        );
        assert.deepEqual(
          of("aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration,
          { status: "Enabled" },
        );
        const block = of("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs;
        for (const flag of [
          "blockPublicAcls",
          "blockPublicPolicy",
          "ignorePublicAcls",
          "restrictPublicBuckets",
        ]) {
          assert.equal(block[flag], true, flag);
        }
        const policy = JSON.parse(
          String(of("aws:s3/bucketPolicy:BucketPolicy").inputs.policy),
        ) as PolicyDocument;
        assert.deepEqual(policy.Statement[0].Condition, { Bool: { "aws:SecureTransport": false } });
        assert.equal(policy.Statement[0].Effect, "Deny");
        const rules = of("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs
          .rules as Array<Record<string, unknown>>;
        assert.ok(
          rules.some((r) => r.noncurrentVersionExpiration),
          "no rule expires old versions",
        );
        // Build contexts (CodeBuildImage's source buckets) are not data: never retained.
        const sources = bucket.parent?.includes("transient-jobs:index:CodeBuildImage$") ?? false;
        assert.equal(bucket.inputs.forceDestroy, sources || !config.retainResources);
      }
    });

    it("boots instances with IMDSv2, an encrypted root volume, no SSH key, and terminate on shutdown", () => {
      const templates = resources.filter((r) => r.type === T.launchTemplate);
      const expectedCount = config.regions.reduce(
        (n, region) =>
          n + config.jobs.filter((j) => !j.regions || j.regions.includes(region.name)).length,
        0,
      );
      assert.equal(templates.length, expectedCount);
      for (const lt of templates) {
        const inputs = lt.inputs as Record<string, any>;
        assert.equal(inputs.instanceInitiatedShutdownBehavior, "terminate");
        assert.equal(inputs.metadataOptions.httpTokens, "required");
        assert.equal(inputs.metadataOptions.httpPutResponseHopLimit, 2);
        assert.equal(inputs.metadataOptions.instanceMetadataTags, "enabled");
        assert.equal(inputs.keyName, undefined);
        assert.equal(inputs.blockDeviceMappings[0].ebs.encrypted, "true");
        // Never the account's default EBS key: the AWS-managed aws/ebs key of the region.
        const region = lt.providerRegion;
        const lookup = evaluation.calls.find(
          (c) => c.token === "aws:kms/getKey:getKey" && c.providerRegion === region,
        );
        assert.deepEqual(lookup?.inputs, { keyId: "alias/aws/ebs" });
        assert.match(
          inputs.blockDeviceMappings[0].ebs.kmsKeyId,
          new RegExp(`^arn:aws:kms:${region}:\\d{12}:key/`),
        );
        assert.equal(inputs.blockDeviceMappings[0].ebs.volumeType, "gp3");
        assert.match(Buffer.from(inputs.userData, "base64").toString(), /shutdown -h now/);
        const job = config.jobs.find((j) => lt.name.endsWith(`-${j.name}-template`))!;
        assert.equal(inputs.instanceType, job.instanceTypes[0]);
        assert.equal(inputs.blockDeviceMappings[0].ebs.volumeSize, job.volumeGiB);
      }
    });

    it("gives instances a security group with no inbound rules", () => {
      const groups = resources.filter((r) => r.type === T.securityGroup);
      assert.equal(groups.length, config.regions.length);
      for (const sg of groups) {
        assert.deepEqual(sg.inputs.ingress, []);
        assert.deepEqual(
          (sg.inputs.egress as Array<Record<string, unknown>>).map((e) => [
            e.protocol,
            e.fromPort,
            e.toPort,
          ]),
          [["tcp", 443, 443]],
        );
      }
      assert.equal(
        resources.filter(
          (r) => r.type === "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        ).length,
        0,
      );
    });

    it("schedules each job with its expression, timezone, retries and dead-letter queue", () => {
      for (const region of config.regions) {
        for (const job of config.jobs.filter(
          (j) => !j.regions || j.regions.includes(region.name),
        )) {
          const schedule = only(
            resources,
            T.schedule,
            (r) => r.name === `tj-${stack}-${region.name}-${job.name}-schedule`,
          );
          const inputs = schedule.inputs as Record<string, any>;
          assert.equal(
            inputs.scheduleExpression,
            offsetSchedule(job.schedule, region.scheduleOffsetMinutes),
          );
          assert.equal(inputs.scheduleExpressionTimezone, job.timezone);
          assert.equal(inputs.state, region.enabled ? "ENABLED" : "DISABLED");
          assert.equal(inputs.target.input, scheduleInput(job.name));
          assert.deepEqual(JSON.parse(inputs.target.input), {
            job: job.name,
            scheduledTime: "<aws.scheduler.scheduled-time>",
          });
          assert.deepEqual(inputs.target.retryPolicy, {
            maximumRetryAttempts: job.retry.maximumRetryAttempts,
            maximumEventAgeInSeconds: job.retry.maximumEventAgeSeconds,
          });
          assert.match(inputs.target.deadLetterConfig.arn, /^arn:aws:sqs:/);
          assert.match(inputs.target.arn, new RegExp(`^arn:aws:lambda:${region.name}:`));
        }
      }
    });

    it("grants no '*' action and no ec2:RunInstances on every resource", () => {
      const policies = declaredPolicies(resources);
      assert.ok(
        policies.length >= 4 * config.regions.length,
        `only ${policies.length} policies found`,
      );
      for (const { source, document } of policies) {
        for (const statement of document.Statement.filter((s) => s.Effect === "Allow")) {
          for (const action of asList(statement.Action)) {
            assert.ok(!action.includes("*"), `${source} allows ${action}`);
          }
          if (asList(statement.Action).includes("ec2:RunInstances")) {
            assert.ok(
              !asList(statement.Resource).includes("*"),
              `${source} allows ec2:RunInstances on *`,
            );
            // ec2:LaunchTemplate does not apply to spot requests (AWS service reference); the
            // instance of a spot launch still needs the launch template.
            const onlySpotRequests = asList(statement.Resource).every((r) =>
              /:spot-instances-request\/\*$/.test(r),
            );
            assert.ok(
              onlySpotRequests || statement.Condition?.ArnEquals?.["ec2:LaunchTemplate"],
              `${source}: RunInstances without a launch template condition`,
            );
          }
          if (asList(statement.Action).includes("iam:PassRole")) {
            assert.ok(!asList(statement.Resource).includes("*"), `${source} passes any role`);
          }
        }
      }
    });

    it("deploys the launcher with its own role, a current runtime and no bundled packages", async () => {
      for (const fn of resources.filter(
        (r) => r.type === T.lambda && r.name.endsWith("-launcher-fn"),
      )) {
        const inputs = fn.inputs as Record<string, any>;
        assert.equal(inputs.runtime, "nodejs22.x");
        assert.match(inputs.role, /launcher-role/);
        assert.equal(inputs.timeout, 120);
        assert.deepEqual(Object.keys(await inputs.code.assets), ["__index.js"]);
        const role = only(resources, "aws:iam/role:Role", (r) => r.parent === fn.parent);
        assert.equal(
          resources.filter(
            (r) =>
              r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment" &&
              r.parent === role.parent,
          ).length,
          0,
        );
      }
    });

    it("gives failed launch events Lambda retries from config and a 14-day failure queue", () => {
      const configs = resources.filter(
        (r) => r.type === "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
      );
      assert.equal(configs.length, config.regions.length);
      for (const invokeConfig of configs) {
        const fn = only(resources, T.lambda, (r) => r.parent === invokeConfig.parent);
        const queue = only(
          resources,
          "aws:sqs/queue:Queue",
          (r) => r.parent === invokeConfig.parent,
        );
        assert.deepEqual(invokeConfig.inputs, {
          functionName: fn.state.name,
          maximumRetryAttempts: config.launcherRetry.maximumRetryAttempts,
          maximumEventAgeInSeconds: config.launcherRetry.maximumEventAgeSeconds,
          destinationConfig: { onFailure: { destination: queue.state.arn } },
        });
        assert.deepEqual(
          [queue.inputs.sqsManagedSseEnabled, queue.inputs.messageRetentionSeconds],
          [true, 14 * 24 * 3600],
        );
      }
    });

    it("exports per-region, per-job outputs", () => {
      const regions = evaluation.outputs.regions as Record<string, any>;
      assert.deepEqual(Object.keys(regions).sort(), config.regions.map((r) => r.name).sort());
      for (const [region, out] of Object.entries(regions)) {
        assert.match(out.bucketName, new RegExp(`tj-${stack}-${region}-results`));
        assert.match(out.launcherFunctionName, /launcher-fn/);
        // The exports are what the region's resources report, not values of their own: the
        // formats of ids and URLs are the mock's invention, the relations are the program's.
        const stateOf = (type: string, name: string) =>
          only(resources, type, (r) => r.name === name && r.providerRegion === region).state;
        const prefix = `tj-${stack}-${region}`;
        assert.equal(out.bucketName, stateOf("aws:s3/bucket:Bucket", `${prefix}-results`).bucket);
        assert.equal(
          out.launcherFunctionName,
          stateOf("aws:lambda/function:Function", `${prefix}-launcher-fn`).name,
        );
        for (const [name, job] of Object.entries(out.jobs) as Array<
          [string, Record<string, string>]
        >) {
          const spec = config.jobs.find((j) => j.name === name);
          assert.ok(spec, `exported job ${name} is not configured`);
          const repository = resources.find(
            (r) =>
              r.type === "aws:ecr/repository:Repository" &&
              r.providerRegion === region &&
              r.state.repositoryUrl === job.repositoryUrl,
          );
          assert.ok(repository, `${name}: ${job.repositoryUrl} is no repository of ${region}`);
          // Whichever builder built it (config imageBuilder), pinned by digest.
          const image = resources.find(
            (r) =>
              r.type ===
                (config.imageBuilder === "codebuild" ? IMAGE_BUILD_TYPE : "awsx:ecr:Image") &&
              r.inputs.repositoryUrl === job.repositoryUrl &&
              r.state.imageUri === job.imageUri,
          );
          assert.match(job.imageUri, /@sha256:[0-9a-f]{64}$/);
          assert.ok(image, `${name}: ${job.imageUri} is no image pushed to ${job.repositoryUrl}`);
          assert.equal(
            job.launchTemplateId,
            only(
              resources,
              "aws:ec2/launchTemplate:LaunchTemplate",
              (r) => r.name === `${prefix}-${name}-template`,
            ).id,
          );
          assert.equal(
            job.scheduleName,
            stateOf("aws:scheduler/schedule:Schedule", `${prefix}-${name}-schedule`).name,
          );
        }
      }
    });
  });
}
