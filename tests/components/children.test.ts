/**
 * Each component's exact set of child resources (type and name after the component's own name),
 * from the recorded resources of the dev evaluation (one region, eu-west-1, one job, pi). A child
 * added, removed, renamed or re-parented fails here: in a real stack that replaces the resource.
 */
import * as assert from "node:assert/strict";
import type { RecordedResource } from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";

const C = (name: string) => `transient-jobs:index:${name}`;

/** Children of each component type: `type suffix`, where the child is named `<component><suffix>`. */
const CHILDREN: Record<string, string[]> = {
  RegionalJobStack: [
    "aws:ec2/securityGroup:SecurityGroup -sg",
    `${C("JobImage")} -job-image-amd64`,
    `${C("Launcher")} -launcher`,
    `${C("Reaper")} -reaper`,
    `${C("RegionalAlarms")} -alarms`,
    `${C("ResultsBucket")} -results`,
    `${C("RunNotifications")} -notifications`,
    `${C("ScheduledJob")} -pi`,
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
    "awsx:ecr:Image -image",
  ],
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
  RegionalAlarms: [
    "aws:cloudwatch/metricAlarm:MetricAlarm -launcher-errors",
    "aws:cloudwatch/metricAlarm:MetricAlarm -launcher-failed-events",
    "aws:cloudwatch/metricAlarm:MetricAlarm -over-deadline",
    "aws:cloudwatch/metricAlarm:MetricAlarm -pi-dead-letters",
    "aws:cloudwatch/metricAlarm:MetricAlarm -pi-failed",
    "aws:cloudwatch/metricAlarm:MetricAlarm -pi-missed-run",
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

/** Where each component sits: its parent's type (the stack for the top-level ones). */
const PARENT: Record<string, string> = {
  RegionalJobStack: "pulumi:pulumi:Stack",
  JobsDashboard: "pulumi:pulumi:Stack",
  ...Object.fromEntries(
    [
      "ResultsBucket",
      "JobImage",
      "RunNotifications",
      "Launcher",
      "ScheduledJob",
      "Reaper",
      "RegionalAlarms",
    ].map((c) => [c, C("RegionalJobStack")]),
  ),
  JobInstanceProfile: C("ScheduledJob"),
  JobLaunchTemplate: C("ScheduledJob"),
  JobSchedule: C("ScheduledJob"),
};

const typeOfUrn = (urn: string): string => urn.split("::")[2].split("$").pop()!;

describe("component children under mocks: stack dev", function () {
  this.timeout(60000);
  let resources: RecordedResource[];

  before(async () => {
    ({ resources } = (await evaluatedStack("dev")).evaluation);
  });

  it("declares each component type the repository defines, and no other", () => {
    const declared = new Set(
      resources.filter((r) => r.type.startsWith("transient-jobs:")).map((r) => r.type),
    );
    assert.deepEqual([...declared].sort(), Object.keys(CHILDREN).map(C).sort());
  });

  for (const [component, children] of Object.entries(CHILDREN)) {
    it(`${component}: exactly ${children.length} children, named after it, under a ${PARENT[component].split(":").pop()}`, () => {
      const instances = resources.filter((r) => r.type === C(component));
      assert.ok(instances.length > 0, `no ${component} in dev`);
      for (const instance of instances) {
        assert.ok(instance.parent, `${instance.name} has no parent`);
        assert.equal(typeOfUrn(instance.parent), PARENT[component], instance.urn);
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
