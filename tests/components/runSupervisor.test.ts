/**
 * The RunSupervisor as the dev program declares it under mocks, the checkpoints' lifecycle rules,
 * and the offline engine's refusals of what EventBridge would not deliver.
 */
import * as assert from "node:assert/strict";
import { SUPERVISOR_EVENT_PATTERNS } from "../../launcher/supervisor";
import {
  eventPatternProblem,
  eventTargetProblems,
  type RecordedResource,
} from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";

describe("RunSupervisor under mocks: stack dev", function () {
  this.timeout(60000);
  let resources: RecordedResource[];
  const prefix = "tj-dev-eu-west-1-supervisor";

  before(async () => {
    resources = (await evaluatedStack("dev")).evaluation.resources;
  });

  const one = (type: string, name: string): RecordedResource => {
    const found = resources.filter((r) => r.type === type && r.name === name);
    assert.equal(found.length, 1, `expected one ${type} ${name}, found ${found.length}`);
    return found[0];
  };

  it("declares exactly its resources, inside the region's stack", () => {
    const component = one("transient-jobs:index:RunSupervisor", prefix);
    assert.match(component.parent ?? "", /RegionalJobStack::tj-dev-eu-west-1$/);
    const children = resources
      .filter((r) => r.parent === component.urn)
      .map((r) => `${r.type} ${r.name}`)
      .sort();
    assert.deepEqual(children, [
      `aws:cloudwatch/eventRule:EventRule ${prefix}-interruption`,
      `aws:cloudwatch/eventRule:EventRule ${prefix}-terminated`,
      `aws:cloudwatch/eventTarget:EventTarget ${prefix}-interruption`,
      `aws:cloudwatch/eventTarget:EventTarget ${prefix}-terminated`,
      `aws:cloudwatch/logGroup:LogGroup ${prefix}-logs`,
      `aws:iam/role:Role ${prefix}-invoke`,
      `aws:iam/role:Role ${prefix}-role`,
      `aws:iam/rolePolicy:RolePolicy ${prefix}-invoke`,
      `aws:iam/rolePolicy:RolePolicy ${prefix}-policy`,
      `aws:lambda/function:Function ${prefix}-fn`,
      `aws:lambda/permission:Permission ${prefix}-interruption`,
      `aws:lambda/permission:Permission ${prefix}-terminated`,
      `aws:scheduler/scheduleGroup:ScheduleGroup ${prefix}-retries`,
      `aws:sqs/queue:Queue ${prefix}-dlq`,
      `aws:sqs/queuePolicy:QueuePolicy ${prefix}-dlq`,
    ]);
  });

  it("routes each event to the function with a retry policy, a dead-letter queue and a permission for that rule only", () => {
    const fn = one("aws:lambda/function:Function", `${prefix}-fn`);
    const dlq = one("aws:sqs/queue:Queue", `${prefix}-dlq`);
    const rules = {
      interruption: SUPERVISOR_EVENT_PATTERNS.interruptionWarning,
      terminated: SUPERVISOR_EVENT_PATTERNS.terminated,
    };
    for (const [event, pattern] of Object.entries(rules)) {
      const rule = one("aws:cloudwatch/eventRule:EventRule", `${prefix}-${event}`);
      assert.deepEqual(JSON.parse(String(rule.inputs.eventPattern)), pattern);
      const target = one("aws:cloudwatch/eventTarget:EventTarget", `${prefix}-${event}`);
      assert.equal(target.inputs.arn, fn.state.arn);
      assert.equal(target.inputs.rule, rule.state.name);
      assert.deepEqual(target.inputs.deadLetterConfig, { arn: dlq.state.arn });
      assert.deepEqual(target.inputs.retryPolicy, {
        maximumRetryAttempts: 10,
        maximumEventAgeInSeconds: 3600,
      });
      const permission = one("aws:lambda/permission:Permission", `${prefix}-${event}`);
      assert.deepEqual(
        [permission.inputs.principal, permission.inputs.sourceArn, permission.inputs.function],
        ["events.amazonaws.com", rule.state.arn, fn.state.name],
      );
    }
    const queuePolicy = JSON.parse(
      String(one("aws:sqs/queuePolicy:QueuePolicy", `${prefix}-dlq`).inputs.policy),
    );
    assert.deepEqual(
      queuePolicy.Statement[0].Condition.ArnEquals["aws:SourceArn"].sort(),
      [
        one("aws:cloudwatch/eventRule:EventRule", `${prefix}-interruption`).state.arn,
        one("aws:cloudwatch/eventRule:EventRule", `${prefix}-terminated`).state.arn,
      ].sort(),
    );
  });

  it("expires each job's checkpoints by its own lifecycle rule, keeping the bucket's other rule", () => {
    const lifecycle = one(
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
      "tj-dev-eu-west-1-results-lifecycle",
    );
    const rules = lifecycle.inputs.rules as { id: string; filter: unknown; expiration?: unknown }[];
    assert.deepEqual(
      rules.map((r) => [r.id, r.filter, r.expiration]),
      [
        ["expire-old-versions", {}, undefined],
        ["expire-jobs-pi-checkpoints", { prefix: "jobs/pi/checkpoints/" }, { days: 7 }],
      ],
    );
  });

  it("the offline engine refuses a Lambda target whose permission is missing or for another rule", () => {
    assert.deepEqual(eventTargetProblems(resources), []);
    const withoutPermissions = resources.filter(
      (r) => !(r.type === "aws:lambda/permission:Permission" && r.name.endsWith("-terminated")),
    );
    assert.deepEqual(eventTargetProblems(withoutPermissions), [
      `aws:cloudwatch/eventTarget:EventTarget "${prefix}-terminated": function ${String(one("aws:lambda/function:Function", `${prefix}-fn`).state.name)} has no permission for events.amazonaws.com from rule ${String(one("aws:cloudwatch/eventRule:EventRule", `${prefix}-terminated`).state.name)}; EventBridge could not invoke it`,
    ]);
    const crossed = resources.map((r) =>
      r.type === "aws:lambda/permission:Permission" && r.name.endsWith("-terminated")
        ? { ...r, inputs: { ...r.inputs, sourceArn: "arn:aws:events:eu-west-1:1:rule/other" } }
        : r,
    );
    assert.equal(eventTargetProblems(crossed).length, 1);
  });
});

describe("eventPatternProblem", () => {
  it("accepts the supervisor's patterns", () => {
    for (const pattern of Object.values(SUPERVISOR_EVENT_PATTERNS)) {
      assert.equal(eventPatternProblem(JSON.stringify(pattern)), undefined);
    }
  });
  const cases: [string, unknown, string][] = [
    ["not JSON", "{source: aws.ec2}", 'event pattern "{source: aws.ec2}" is not JSON'],
    ["a list", "[]", "an event pattern must be a JSON object"],
    ["an empty pattern", "{}", "event pattern (top) is an empty object"],
    [
      "a bare value",
      JSON.stringify({ source: "aws.ec2" }),
      'event pattern field source is "aws.ec2"; a pattern\'s values must be lists, e.g. ["terminated"]',
    ],
    [
      "a nested bare value",
      JSON.stringify({ source: ["aws.ec2"], detail: { state: "terminated" } }),
      'event pattern field detail.state is "terminated"; a pattern\'s values must be lists, e.g. ["terminated"]',
    ],
    [
      "an empty list",
      JSON.stringify({ source: [] }),
      "event pattern field source matches an empty list",
    ],
  ];
  for (const [what, pattern, problem] of cases) {
    it(`refuses ${what}`, () => assert.equal(eventPatternProblem(pattern), problem));
  }
});
