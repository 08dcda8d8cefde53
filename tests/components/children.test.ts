/**
 * Each component's exact set of child resources (type and name after the component's own name),
 * from the recorded resources of the dev evaluation (one region, one job) and the prod one (two
 * regions, two jobs of two architectures). A child added, removed, renamed or re-parented fails
 * here: in a real stack that replaces the resource. Only what the program decides is asserted
 * (types, names, parents), never a value the mocks make up (ids, ARNs, physical names).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ImageBuilder, StackConfig } from "../../config";
import { IMAGE_BUILD_TYPE } from "../../lib/codeBuild";
import type { RecordedResource } from "../../offline/engine";
import { PROJECT_ROOT } from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";

const C = (name: string) => `transient-jobs:index:${name}`;

/**
 * The jobs and image keys of every region of each stack, as Pulumi.<stack>.yaml declares them
 * (each job runs in every region; the test checks the config still says so).
 */
const STACKS: Record<string, { jobs: string[]; images: string[]; builder: ImageBuilder }> = {
  dev: { jobs: ["pi"], images: ["job-image-amd64"], builder: "codebuild" },
  prod: {
    jobs: ["nightly-pi", "hourly-pi"],
    images: ["job-image-amd64", "job-image-arm64"],
    builder: "codebuild",
  },
};

/** Children of each component type: `type suffix`, where the child is named `<component><suffix>`. */
function childrenOf(
  jobs: string[],
  images: string[],
  builder: ImageBuilder = "codebuild",
): Record<string, string[]> {
  return {
    RegionalJobStack: [
      "aws:ec2/securityGroup:SecurityGroup -sg",
      ...images.map((image) => `${C("JobImage")} -${image}`),
      `${C("Launcher")} -launcher`,
      `${C("Reaper")} -reaper`,
      `${C("RegionalAlarms")} -alarms`,
      `${C("RunSupervisor")} -supervisor`,
      `${C("ResultsBucket")} -results`,
      `${C("RunNotifications")} -notifications`,
      ...jobs.map((job) => `${C("ScheduledJob")} -${job}`),
    ],
    JobsDashboard: ["aws:cloudwatch/dashboard:Dashboard -dashboard"],
    ResultsBucket: [
      "aws:s3/bucket:Bucket ",
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration -lifecycle",
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls -ownership",
      "aws:s3/bucketPolicy:BucketPolicy -policy",
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock -public-access",
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration -encryption",
      "aws:s3/bucketVersioning:BucketVersioning -versioning",
    ],
    JobImage: [
      "aws:ecr/lifecyclePolicy:LifecyclePolicy -lifecycle",
      "aws:ecr/repository:Repository -repo",
      builder === "docker" ? "awsx:ecr:Image -image" : `${C("CodeBuildImage")} `,
    ],
    CodeBuildImage: [
      `${C("ResultsBucket")} -src`,
      "aws:s3/bucketObjectv2:BucketObjectv2 -context",
      "aws:cloudwatch/logGroup:LogGroup -build-logs",
      "aws:iam/role:Role -build",
      "aws:iam/rolePolicy:RolePolicy -build",
      "aws:codebuild/project:Project -build",
      `${IMAGE_BUILD_TYPE} -image`,
    ],
    // No subscriptions: neither stack configures notifications.
    RunNotifications: [
      "aws:kms/alias:Alias -key",
      "aws:kms/key:Key -key",
      "aws:sns/topic:Topic -topic",
      "aws:sns/topicPolicy:TopicPolicy -topic",
    ],
    Launcher: [
      "aws:cloudwatch/logGroup:LogGroup -logs",
      "aws:iam/role:Role -role",
      "aws:iam/rolePolicy:RolePolicy -policy",
      "aws:lambda/function:Function -fn",
      "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig -async",
      "aws:sqs/queue:Queue -failed",
    ],
    ScheduledJob: [
      "aws:cloudwatch/logGroup:LogGroup -logs",
      `${C("JobInstanceProfile")} -instance`,
      `${C("JobLaunchTemplate")} `,
      `${C("JobSchedule")} `,
    ],
    Reaper: [
      "aws:cloudwatch/logGroup:LogGroup -logs",
      "aws:iam/role:Role -invoke",
      "aws:iam/role:Role -role",
      "aws:iam/rolePolicy:RolePolicy -invoke",
      "aws:iam/rolePolicy:RolePolicy -policy",
      "aws:lambda/function:Function -fn",
      "aws:scheduler/schedule:Schedule -schedule",
    ],
    RunSupervisor: [
      "aws:cloudwatch/eventRule:EventRule -interruption",
      "aws:cloudwatch/eventRule:EventRule -terminated",
      "aws:cloudwatch/eventTarget:EventTarget -interruption",
      "aws:cloudwatch/eventTarget:EventTarget -terminated",
      "aws:cloudwatch/logGroup:LogGroup -logs",
      "aws:iam/role:Role -invoke",
      "aws:iam/role:Role -role",
      "aws:iam/rolePolicy:RolePolicy -invoke",
      "aws:iam/rolePolicy:RolePolicy -policy",
      "aws:lambda/function:Function -fn",
      "aws:lambda/permission:Permission -interruption",
      "aws:lambda/permission:Permission -terminated",
      "aws:scheduler/scheduleGroup:ScheduleGroup -retries",
      "aws:sqs/queue:Queue -dlq",
      "aws:sqs/queuePolicy:QueuePolicy -dlq",
    ],
    RegionalAlarms: [
      "aws:cloudwatch/metricAlarm:MetricAlarm -launcher-errors",
      "aws:cloudwatch/metricAlarm:MetricAlarm -launcher-failed-events",
      "aws:cloudwatch/metricAlarm:MetricAlarm -over-deadline",
      ...jobs.flatMap((job) => [
        `aws:cloudwatch/metricAlarm:MetricAlarm -${job}-dead-letters`,
        `aws:cloudwatch/metricAlarm:MetricAlarm -${job}-failed`,
        `aws:cloudwatch/metricAlarm:MetricAlarm -${job}-interruptions`,
        `aws:cloudwatch/metricAlarm:MetricAlarm -${job}-memory`,
        `aws:cloudwatch/metricAlarm:MetricAlarm -${job}-missed-run`,
      ]),
    ],
    JobInstanceProfile: [
      "aws:iam/instanceProfile:InstanceProfile -profile",
      "aws:iam/role:Role -role",
      "aws:iam/rolePolicy:RolePolicy -policy",
    ],
    JobLaunchTemplate: ["aws:ec2/launchTemplate:LaunchTemplate -template"],
    JobSchedule: [
      "aws:iam/role:Role -invoke",
      "aws:iam/rolePolicy:RolePolicy -invoke",
      "aws:scheduler/schedule:Schedule -schedule",
      "aws:sqs/queue:Queue -dlq",
    ],
  };
}

/** Where each component sits: its parents' types (the stack for the top-level ones). */
const PARENT: Record<string, string[]> = {
  RegionalJobStack: ["pulumi:pulumi:Stack"],
  JobsDashboard: ["pulumi:pulumi:Stack"],
  ...Object.fromEntries(
    [
      "JobImage",
      "RunNotifications",
      "Launcher",
      "ScheduledJob",
      "Reaper",
      "RegionalAlarms",
      "RunSupervisor",
    ].map((c) => [c, [C("RegionalJobStack")]]),
  ),
  // A region's results, and each image's build contexts.
  ResultsBucket: [C("RegionalJobStack"), C("CodeBuildImage")],
  CodeBuildImage: [C("JobImage")],
  JobInstanceProfile: [C("ScheduledJob")],
  JobLaunchTemplate: [C("ScheduledJob")],
  JobSchedule: [C("ScheduledJob")],
};

/** Every component type the source declares (`super("transient-jobs:index:<Type>", …)`). */
function componentTypesInSource(): string[] {
  const folder = path.join(PROJECT_ROOT, "components");
  return fs
    .readdirSync(folder)
    .filter((file) => file.endsWith(".ts"))
    .flatMap((file) =>
      [
        ...fs
          .readFileSync(path.join(folder, file), "utf8")
          .matchAll(/"transient-jobs:index:(\w+)"/g),
      ].map((match) => match[1]),
    )
    .sort();
}

const typeOfUrn = (urn: string): string => urn.split("::")[2].split("$").pop()!;

describe("component children: the table", () => {
  it("covers each component type the source declares, and no other", () => {
    const covered = Object.keys(childrenOf([], [])).sort();
    assert.deepEqual(componentTypesInSource(), covered);
    assert.deepEqual(Object.keys(PARENT).sort(), covered);
  });
});

for (const [stack, { jobs, images, builder }] of Object.entries(STACKS)) {
  describe(`component children under mocks: stack ${stack}`, function () {
    this.timeout(60000);
    const CHILDREN = childrenOf(jobs, images, builder);
    let resources: RecordedResource[];
    let config: StackConfig;

    before(async () => {
      ({
        config,
        evaluation: { resources },
      } = await evaluatedStack(stack));
      assert.deepEqual(config.jobs.map((j) => j.name).sort(), [...jobs].sort());
      assert.ok(
        config.jobs.every((j) => !j.regions),
        "a job limited to some regions: the table assumes every job runs everywhere",
      );
      assert.deepEqual(config.notifications, { emails: [], httpsEndpoints: [] });
      assert.equal(config.imageBuilder, builder);
    });

    it("declares each component type, and no other", () => {
      const declared = new Set(
        resources.filter((r) => r.type.startsWith("transient-jobs:")).map((r) => r.type),
      );
      assert.deepEqual([...declared].sort(), Object.keys(CHILDREN).map(C).sort());
    });

    it("declares one regional stack per region and one dashboard at the top", () => {
      const top = resources
        .filter((r) => r.parent !== undefined && typeOfUrn(r.parent) === "pulumi:pulumi:Stack")
        .map((r) => `${r.type} ${r.name}`)
        .sort();
      assert.deepEqual(
        top,
        [
          `${C("JobsDashboard")} tj-${stack}`,
          ...config.regions.map((r) => `${C("RegionalJobStack")} tj-${stack}-${r.name}`),
        ].sort(),
      );
    });

    for (const [component, children] of Object.entries(CHILDREN)) {
      it(`${component}: exactly ${children.length} children, named after it, under a ${PARENT[component].map((p) => p.split(":").pop()).join(" or ")}`, () => {
        const instances = resources.filter((r) => r.type === C(component));
        assert.ok(instances.length > 0, `no ${component} in ${stack}`);
        for (const instance of instances) {
          assert.ok(instance.parent, `${instance.name} has no parent`);
          assert.ok(PARENT[component].includes(typeOfUrn(instance.parent)), instance.urn);
          const actual = resources
            .filter((r) => r.parent === instance.urn)
            .map((r) => {
              assert.ok(
                r.name.startsWith(instance.name),
                `${r.type} ${r.name} under ${instance.name}`,
              );
              return `${r.type} ${r.name.slice(instance.name.length)}`;
            })
            .sort();
          assert.deepEqual(actual, [...children].sort(), instance.name);
        }
      });
    }
  });
}
