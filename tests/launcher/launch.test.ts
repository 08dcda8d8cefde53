import * as assert from "node:assert/strict";
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { InvalidLaunchSpecError } from "../../launcher/errors";
import {
  attemptInputs,
  renderInitScript,
  decodeUserData,
  encodeUserData,
} from "../../launcher/initScript";
import {
  buildRunInstancesInput,
  launchRun,
  planLaunchOptions,
  runTags,
  type LaunchOptions,
  type LaunchResult,
} from "../../launcher/launch";
import { clientTokenFor } from "../../launcher/runId";
import type { JobLaunchSpec } from "../../launcher/contract";
import { ec2Error, NOW, SCHEDULED, specFixture } from "../../testing/fixtures";

// Mocks this instance only, so EC2 clients of other suites (moto) stay real.
const ec2 = new EC2Client({ region: "eu-west-1" });
const ec2Mock = mockClient(ec2);

const RUN_ID = "pi-20261123T0300Z";
// SCHEDULED + maxLaunchDelaySeconds (7320 s) + maxRuntimeMinutes (120): not the launch time.
const DEADLINE = "2026-11-23T07:02:00Z";

const JOB_FILTERS = [
  { Name: "tag:transient-jobs:project", Values: ["transient-jobs"] },
  { Name: "tag:transient-jobs:environment", Values: ["dev"] },
  { Name: "tag:transient-jobs:job", Values: ["pi"] },
];

const EXPECTED_TAGS = [
  { Key: "Name", Value: `tj-dev-${RUN_ID}` },
  { Key: "transient-jobs:project", Value: "transient-jobs" },
  { Key: "transient-jobs:environment", Value: "dev" },
  { Key: "transient-jobs:job", Value: "pi" },
  { Key: "transient-jobs:run-id", Value: RUN_ID },
  { Key: "transient-jobs:scheduled-time", Value: "2026-11-23T03:00:00Z" },
  { Key: "transient-jobs:deadline", Value: DEADLINE },
  { Key: "transient-jobs:attempt", Value: "1" },
];

/** The exact RunInstances input of one attempt of run {@link RUN_ID} launched at {@link NOW}. */
function expectedInput(
  spec: JobLaunchSpec,
  purchaseOption: "spot" | "on-demand",
  instanceType: string,
  subnetId: string,
): RunInstancesCommandInput {
  const script = renderInitScript({
    ...spec,
    runId: RUN_ID,
    ...attemptInputs(spec, RUN_ID, 1),
    scheduledTime: "2026-11-23T03:00:00Z",
    deadlineMinutes: spec.maxRuntimeMinutes,
  });
  return {
    LaunchTemplate: { LaunchTemplateId: spec.launchTemplateId, Version: "$Latest" },
    InstanceType: instanceType as RunInstancesCommandInput["InstanceType"],
    SubnetId: subnetId,
    MinCount: 1,
    MaxCount: 1,
    ClientToken: clientTokenFor({
      environment: spec.environment,
      launchTemplateId: spec.launchTemplateId,
      runId: RUN_ID,
      purchaseOption,
      instanceType,
      subnetId,
    }),
    UserData: encodeUserData(script).toString("base64"),
    ...(purchaseOption === "spot"
      ? {
          InstanceMarketOptions: {
            MarketType: "spot",
            SpotOptions: {
              SpotInstanceType: "one-time",
              InstanceInterruptionBehavior: "terminate",
            },
          },
        }
      : {}),
    TagSpecifications: [
      { ResourceType: "instance", Tags: EXPECTED_TAGS },
      { ResourceType: "volume", Tags: EXPECTED_TAGS },
    ],
  };
}

function instance(
  id: string,
  state: string,
  runId: string,
  extra: Partial<Instance> = {},
): Instance {
  return {
    InstanceId: id,
    InstanceType: "m7i.large",
    Placement: { AvailabilityZone: "eu-west-1a" },
    State: { Name: state as NonNullable<Instance["State"]>["Name"] },
    Tags: [
      { Key: "transient-jobs:run-id", Value: runId },
      { Key: "transient-jobs:deadline", Value: "2026-11-23T04:00:00Z" },
    ],
    ...extra,
  };
}

function launchedInstance(input: RunInstancesCommandInput, id = "i-0new"): Instance {
  return {
    InstanceId: id,
    InstanceType: input.InstanceType,
    Placement: { AvailabilityZone: input.SubnetId === "subnet-aaaa" ? "eu-west-1a" : "eu-west-1b" },
  };
}

interface Harness {
  options: LaunchOptions;
  sleeps: number[];
  logs: string[];
}

function harness(remainingMs = 100000): Harness {
  const sleeps: number[] = [];
  const logs: string[] = [];
  return {
    sleeps,
    logs,
    options: {
      now: () => NOW,
      remainingTimeMs: () => remainingMs - sleeps.reduce((a, b) => a + b, 0),
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
      log: (line) => logs.push(line),
    },
  };
}

function run(spec: JobLaunchSpec, h: Harness, scheduledTime = SCHEDULED): Promise<LaunchResult> {
  return launchRun(ec2, { spec, scheduledTime }, h.options);
}

function runInputs(): RunInstancesCommandInput[] {
  return ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
}

function commandNames(): string[] {
  return ec2Mock.calls().map((c) => (c.args[0] as object).constructor.name);
}

const IDENTITY = {
  job: "pi",
  environment: "dev",
  region: "eu-west-1",
  runId: RUN_ID,
  scheduledTime: "2026-11-23T03:00:00Z",
  manual: false,
  attempt: 1,
};

describe("launchRun", () => {
  beforeEach(() => {
    ec2Mock.reset();
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  });

  it("launches from the launch template with the run's tags, user data and ClientToken", async () => {
    const spec = specFixture();
    ec2Mock.on(RunInstancesCommand).callsFake((input) => ({
      Instances: [launchedInstance(input)],
    }));
    const h = harness();
    const result = await run(spec, h);

    assert.deepEqual(
      ec2Mock.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input),
      [{ Filters: JOB_FILTERS, MaxResults: 1000 }],
    );
    assert.deepEqual(runInputs(), [expectedInput(spec, "on-demand", "m7i.large", "subnet-aaaa")]);
    assert.deepEqual(result, {
      status: "launched",
      ...IDENTITY,
      instanceId: "i-0new",
      instanceType: "m7i.large",
      availabilityZone: "eu-west-1a",
      purchaseOption: "on-demand",
      deadline: DEADLINE,
      existing: false,
      replacedInstanceIds: [],
      attempts: [
        {
          purchaseOption: "on-demand",
          instanceType: "m7i.large",
          subnetId: "subnet-aaaa",
          clientToken: expectedInput(spec, "on-demand", "m7i.large", "subnet-aaaa").ClientToken,
          outcome: "launched",
        },
      ],
      warnings: [],
    });
    assert.deepEqual(
      h.logs.map((l) => JSON.parse(l)),
      [{ level: "info", ...result }],
    );
  });

  it("tags the deadline from the scheduled time, launch delay and runtime, never the clock", async () => {
    ec2Mock
      .on(RunInstancesCommand)
      .callsFake((input) => ({ Instances: [launchedInstance(input)] }));
    await run(specFixture({ maxRuntimeMinutes: 45 }), harness());
    const later = harness();
    later.options.now = () => new Date(NOW.getTime() + 90_000); // Lambda's first retry
    await run(specFixture({ maxRuntimeMinutes: 45 }), later);
    const [first, retry] = runInputs();
    assert.deepEqual(retry, first);
    const specs = first.TagSpecifications ?? [];
    assert.deepEqual(
      specs.map((s) => [s.ResourceType, s.Tags?.find((t) => t.Key === "transient-jobs:deadline")]),
      [
        ["instance", { Key: "transient-jobs:deadline", Value: "2026-11-23T05:47:00Z" }],
        ["volume", { Key: "transient-jobs:deadline", Value: "2026-11-23T05:47:00Z" }],
      ],
    );
  });

  describe("idempotency", () => {
    it("sends the same request and ClientToken for the same scheduled time: one instance", async () => {
      // EC2's idempotency, emulated: a repeated ClientToken returns the instance it launched.
      const byToken = new Map<string, string>();
      ec2Mock.on(RunInstancesCommand).callsFake((input: RunInstancesCommandInput) => {
        const token = input.ClientToken ?? "";
        if (!byToken.has(token)) byToken.set(token, `i-${byToken.size + 1}`);
        return { Instances: [launchedInstance(input, byToken.get(token))] };
      });
      // DescribeInstances lags behind the first launch, so the retry does not see it.
      const first = await run(specFixture(), harness());
      const retry = await run(specFixture(), harness());

      const inputs = runInputs();
      assert.equal(inputs.length, 2);
      assert.deepEqual(inputs[1], inputs[0]);
      assert.equal(first.status === "launched" && first.instanceId, "i-1");
      assert.equal(retry.status === "launched" && retry.instanceId, "i-1");
      assert.equal(byToken.size, 1);
    });

    it("uses another ClientToken for another scheduled time", async () => {
      ec2Mock
        .on(RunInstancesCommand)
        .callsFake((input) => ({ Instances: [launchedInstance(input)] }));
      await run(specFixture({ concurrencyPolicy: "allow" }), harness());
      const nextHour = harness();
      nextHour.options.now = () => new Date("2026-11-23T04:00:10Z");
      await run(
        specFixture({ concurrencyPolicy: "allow" }),
        nextHour,
        new Date("2026-11-23T04:00:00Z"),
      );
      const [a, b] = runInputs();
      assert.notEqual(a.ClientToken, b.ClientToken);
    });

    it("returns the instance already tagged with this run id instead of launching", async () => {
      ec2Mock.on(DescribeInstancesCommand).resolves({
        Reservations: [
          { Instances: [instance("i-0old", "terminated", "pi-20261122T0300Z")] },
          {
            Instances: [
              instance("i-0mine", "running", RUN_ID, {
                InstanceLifecycle: "spot",
                InstanceType: "m6i.large",
                Placement: { AvailabilityZone: "eu-west-1b" },
              }),
            ],
          },
        ],
      });
      const result = await run(specFixture({ concurrencyPolicy: "forbid" }), harness());
      assert.equal(ec2Mock.commandCalls(RunInstancesCommand).length, 0);
      assert.deepEqual(result, {
        status: "launched",
        ...IDENTITY,
        instanceId: "i-0mine",
        instanceType: "m6i.large",
        availabilityZone: "eu-west-1b",
        purchaseOption: "spot",
        deadline: "2026-11-23T04:00:00Z",
        existing: true,
        replacedInstanceIds: [],
        attempts: [],
        warnings: [],
      });
    });

    for (const state of ["terminated", "shutting-down"]) {
      it(`reports a run whose instance is ${state} as ended, never as launched`, async () => {
        ec2Mock
          .on(DescribeInstancesCommand)
          .resolves({ Reservations: [{ Instances: [instance("i-0done", state, RUN_ID)] }] });
        const result = await run(specFixture(), harness());
        assert.equal(ec2Mock.commandCalls(RunInstancesCommand).length, 0);
        assert.deepEqual(result, {
          status: "ended",
          ...IDENTITY,
          reason: `run ${RUN_ID} already ran on i-0done (now ${state})`,
          instanceId: "i-0done",
          state,
          attempts: [],
        });
      });
    }

    it("adopts a concurrent launch after IdempotentParameterMismatch", async () => {
      ec2Mock
        .on(DescribeInstancesCommand)
        .resolvesOnce({ Reservations: [] })
        .resolvesOnce({ Reservations: [] })
        .resolves({ Reservations: [{ Instances: [instance("i-0other", "pending", RUN_ID)] }] });
      ec2Mock
        .on(RunInstancesCommand)
        .rejects(ec2Error("IdempotentParameterMismatch", "token reused with other parameters"));
      const h = harness();
      const result = await run(specFixture(), h);
      assert.equal(ec2Mock.commandCalls(RunInstancesCommand).length, 1);
      assert.equal(ec2Mock.commandCalls(DescribeInstancesCommand).length, 3);
      assert.deepEqual(h.sleeps, [375]);
      assert.equal(result.status, "launched");
      assert.equal(result.status === "launched" && result.instanceId, "i-0other");
      assert.equal(result.status === "launched" && result.existing, true);
    });
  });

  describe("concurrency policy", () => {
    const live = {
      Reservations: [
        { Instances: [instance("i-0prev", "running", "pi-20261123T0200Z")] },
        { Instances: [instance("i-0gone", "terminated", "pi-20261123T0100Z")] },
      ],
    };

    it("forbid: skips while an earlier run is alive, and says which", async () => {
      ec2Mock.on(DescribeInstancesCommand).resolves(live);
      const h = harness();
      const result = await run(specFixture({ concurrencyPolicy: "forbid" }), h);
      assert.deepEqual(commandNames(), ["DescribeInstancesCommand"]);
      assert.deepEqual(result, {
        status: "skipped",
        ...IDENTITY,
        reason:
          "concurrencyPolicy forbid: run pi-20261123T0200Z (i-0prev, running, deadline 2026-11-23T04:00:00Z) of job pi is still alive",
        liveInstances: [
          {
            instanceId: "i-0prev",
            state: "running",
            runId: "pi-20261123T0200Z",
            deadline: "2026-11-23T04:00:00Z",
            instanceType: "m7i.large",
            availabilityZone: "eu-west-1a",
          },
        ],
      });
      assert.equal(JSON.parse(h.logs[0]).status, "skipped");
    });

    it("forbid: launches when earlier runs have terminated", async () => {
      ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [live.Reservations[1]] });
      ec2Mock
        .on(RunInstancesCommand)
        .callsFake((input) => ({ Instances: [launchedInstance(input)] }));
      const result = await run(specFixture({ concurrencyPolicy: "forbid" }), harness());
      assert.equal(result.status, "launched");
    });

    it("allow: launches beside a live run", async () => {
      ec2Mock.on(DescribeInstancesCommand).resolves(live);
      ec2Mock
        .on(RunInstancesCommand)
        .callsFake((input) => ({ Instances: [launchedInstance(input)] }));
      const result = await run(specFixture({ concurrencyPolicy: "allow" }), harness());
      assert.deepEqual(commandNames(), [
        "DescribeInstancesCommand",
        "RunInstancesCommand",
        "CreateTagsCommand",
      ]);
      assert.equal(result.status === "launched" && result.replacedInstanceIds.length, 0);
    });

    it("replace: terminates the live run, then launches", async () => {
      ec2Mock.on(DescribeInstancesCommand).resolves(live);
      ec2Mock.on(TerminateInstancesCommand).resolves({});
      ec2Mock
        .on(RunInstancesCommand)
        .callsFake((input) => ({ Instances: [launchedInstance(input)] }));
      const result = await run(specFixture({ concurrencyPolicy: "replace" }), harness());
      assert.deepEqual(commandNames(), [
        "DescribeInstancesCommand",
        "TerminateInstancesCommand",
        "RunInstancesCommand",
        "CreateTagsCommand",
      ]);
      assert.deepEqual(
        ec2Mock.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input),
        [{ InstanceIds: ["i-0prev"] }],
      );
      assert.equal(result.status === "launched" && result.replacedInstanceIds[0], "i-0prev");
    });

    it("replace: fails without launching when the old run cannot be terminated", async () => {
      ec2Mock.on(DescribeInstancesCommand).resolves(live);
      ec2Mock.on(TerminateInstancesCommand).rejects(ec2Error("UnauthorizedOperation", "denied"));
      const result = await run(specFixture({ concurrencyPolicy: "replace" }), harness());
      assert.equal(ec2Mock.commandCalls(RunInstancesCommand).length, 0);
      assert.equal(result.status, "failed");
      assert.equal(
        result.status === "failed" && result.reason,
        "concurrencyPolicy replace: TerminateInstances i-0prev failed: UnauthorizedOperation: denied",
      );
    });

    it("follows DescribeInstances pages", async () => {
      ec2Mock
        .on(DescribeInstancesCommand)
        .resolvesOnce({ Reservations: [], NextToken: "page-2" })
        .resolves(live);
      const result = await run(specFixture(), harness());
      assert.deepEqual(
        ec2Mock.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input),
        [
          { Filters: JOB_FILTERS, MaxResults: 1000 },
          { Filters: JOB_FILTERS, MaxResults: 1000, NextToken: "page-2" },
        ],
      );
      assert.equal(result.status, "skipped");
    });
  });

  describe("capacity fallback", () => {
    it("moves to the next subnet, then the next instance type, on capacity errors", async () => {
      const spec = specFixture();
      ec2Mock
        .on(RunInstancesCommand)
        .rejectsOnce(ec2Error("InsufficientInstanceCapacity", "no m7i.large in 1a", 500))
        .rejectsOnce(ec2Error("Unsupported", "m7i.large is not supported in 1b"))
        .callsFake((input) => ({ Instances: [launchedInstance(input)] }));
      const result = await run(spec, harness());
      assert.deepEqual(runInputs(), [
        expectedInput(spec, "on-demand", "m7i.large", "subnet-aaaa"),
        expectedInput(spec, "on-demand", "m7i.large", "subnet-bbbb"),
        expectedInput(spec, "on-demand", "m6i.large", "subnet-aaaa"),
      ]);
      assert.equal(result.status, "launched");
      assert.equal(result.status === "launched" && result.instanceType, "m6i.large");
      assert.deepEqual(
        result.status === "launched" && result.attempts.map((a) => [a.outcome, a.errorCode]),
        [
          ["capacity", "InsufficientInstanceCapacity"],
          ["capacity", "Unsupported"],
          ["launched", undefined],
        ],
      );
    });

    it("tries every spot option before on-demand with spot-then-on-demand", async () => {
      const spec = specFixture({
        purchaseOption: "spot-then-on-demand",
        instanceTypes: ["m7i.large"],
        subnetIds: ["subnet-aaaa"],
      });
      ec2Mock
        .on(RunInstancesCommand)
        .rejectsOnce(ec2Error("InsufficientInstanceCapacity", "no spot capacity", 500))
        .callsFake((input) => ({ Instances: [launchedInstance(input)] }));
      const result = await run(spec, harness());
      assert.deepEqual(runInputs(), [
        expectedInput(spec, "spot", "m7i.large", "subnet-aaaa"),
        expectedInput(spec, "on-demand", "m7i.large", "subnet-aaaa"),
      ]);
      assert.equal(result.status === "launched" && result.purchaseOption, "on-demand");
    });

    it("plans spot, types, subnets in that order", () => {
      const plan = planLaunchOptions(
        specFixture({
          purchaseOption: "spot-then-on-demand",
          instanceTypes: ["a.large", "b.large"],
        }),
      );
      assert.deepEqual(
        plan.map((o) => `${o.purchaseOption}/${o.instanceType}/${o.subnetId}`),
        [
          "spot/a.large/subnet-aaaa",
          "spot/a.large/subnet-bbbb",
          "spot/b.large/subnet-aaaa",
          "spot/b.large/subnet-bbbb",
          "on-demand/a.large/subnet-aaaa",
          "on-demand/a.large/subnet-bbbb",
          "on-demand/b.large/subnet-aaaa",
          "on-demand/b.large/subnet-bbbb",
        ],
      );
      assert.deepEqual(
        planLaunchOptions(specFixture({ purchaseOption: "spot" })).map((o) => o.purchaseOption),
        ["spot", "spot", "spot", "spot"],
      );
    });

    it("fails with every attempt's error when no option has capacity", async () => {
      ec2Mock
        .on(RunInstancesCommand)
        .callsFake((input: RunInstancesCommandInput) =>
          Promise.reject(
            ec2Error(
              "InsufficientInstanceCapacity",
              `no ${input.InstanceType} in ${input.SubnetId}`,
              500,
            ),
          ),
        );
      const h = harness();
      const result = await run(specFixture(), h);
      assert.equal(result.status, "failed");
      assert.equal(
        result.status === "failed" && result.reason,
        "no capacity: every purchase option, instance type and subnet was tried (4 attempts)",
      );
      assert.deepEqual(result.status === "failed" && result.attempts.map((a) => a.message), [
        "no m7i.large in subnet-aaaa",
        "no m7i.large in subnet-bbbb",
        "no m6i.large in subnet-aaaa",
        "no m6i.large in subnet-bbbb",
      ]);
      assert.equal(JSON.parse(h.logs[0]).level, "error");
    });
  });

  describe("retries", () => {
    it("retries throttling with the same request and a jittered, growing backoff", async () => {
      const spec = specFixture();
      ec2Mock
        .on(RunInstancesCommand)
        .rejectsOnce(ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503))
        .rejectsOnce(ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503))
        .callsFake((input) => ({ Instances: [launchedInstance(input)] }));
      const h = harness();
      const result = await run(spec, h);
      const expected = expectedInput(spec, "on-demand", "m7i.large", "subnet-aaaa");
      assert.deepEqual(runInputs(), [expected, expected, expected]);
      // cap 500 ms then 1000 ms; with random() = 0.5 the wait is 3/4 of the cap.
      assert.deepEqual(h.sleeps, [375, 750]);
      assert.equal(result.status, "launched");
      assert.deepEqual(result.status === "launched" && result.attempts.map((a) => a.outcome), [
        "throttled",
        "throttled",
        "launched",
      ]);
    });

    it("retries while a new instance profile propagates to EC2", async () => {
      ec2Mock
        .on(RunInstancesCommand)
        .rejectsOnce(
          ec2Error(
            "InvalidParameterValue",
            "Value (tj-dev-eu-west-1-pi) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
          ),
        )
        .callsFake((input) => ({ Instances: [launchedInstance(input)] }));
      const h = harness();
      const result = await run(specFixture(), h);
      assert.equal(runInputs().length, 2);
      assert.deepEqual(runInputs()[1], runInputs()[0]);
      assert.deepEqual(h.sleeps, [375]);
      assert.equal(result.status, "launched");
    });

    it("retries throttled DescribeInstances too", async () => {
      ec2Mock
        .on(DescribeInstancesCommand)
        .rejectsOnce(ec2Error("RequestLimitExceeded", "slow down", 503))
        .resolves({ Reservations: [] });
      ec2Mock
        .on(RunInstancesCommand)
        .callsFake((input) => ({ Instances: [launchedInstance(input)] }));
      const h = harness();
      const result = await run(specFixture(), h);
      assert.equal(ec2Mock.commandCalls(DescribeInstancesCommand).length, 2);
      assert.deepEqual(h.sleeps, [375]);
      assert.equal(result.status, "launched");
    });

    it("stops retrying when the Lambda's time budget would run out", async () => {
      ec2Mock.on(RunInstancesCommand).rejects(ec2Error("RequestLimitExceeded", "slow down", 503));
      // 8 s left, 5 s kept in reserve: waits of 375, 750 and 1500 ms fit, 3000 ms does not.
      const h = harness(8000);
      const result = await run(specFixture(), h);
      assert.deepEqual(h.sleeps, [375, 750, 1500]);
      assert.equal(runInputs().length, 4);
      assert.equal(result.status, "failed");
      assert.equal(
        result.status === "failed" && result.reason,
        "the time budget ran out while retrying throttled RunInstances",
      );
      assert.equal(result.status === "failed" && result.attempts.length, 4);
    });
  });

  describe("other errors", () => {
    it("fails at once with the error's code and message", async () => {
      ec2Mock
        .on(RunInstancesCommand)
        .rejects(
          ec2Error(
            "InvalidLaunchTemplateId.NotFound",
            "The specified launch template does not exist",
          ),
        );
      const h = harness();
      const result = await run(specFixture(), h);
      assert.equal(runInputs().length, 1);
      assert.deepEqual(h.sleeps, []);
      assert.deepEqual(result.status === "failed" && result, {
        status: "failed",
        ...IDENTITY,
        reason:
          "RunInstances failed with InvalidLaunchTemplateId.NotFound: The specified launch template does not exist (on-demand m7i.large in subnet-aaaa); not retried",
        attempts: [
          {
            purchaseOption: "on-demand",
            instanceType: "m7i.large",
            subnetId: "subnet-aaaa",
            clientToken: expectedInput(specFixture(), "on-demand", "m7i.large", "subnet-aaaa")
              .ClientToken,
            outcome: "fatal",
            errorCode: "InvalidLaunchTemplateId.NotFound",
            message: "The specified launch template does not exist",
          },
        ],
      });
      assert.deepEqual(JSON.parse(h.logs[0]), { level: "error", ...result });
    });

    it("fails when DescribeInstances is denied", async () => {
      ec2Mock
        .on(DescribeInstancesCommand)
        .rejects(ec2Error("UnauthorizedOperation", "no describe"));
      const result = await run(specFixture(), harness());
      assert.equal(
        result.status === "failed" && result.reason,
        "DescribeInstances failed: UnauthorizedOperation: no describe",
      );
      assert.equal(runInputs().length, 0);
    });

    // The spec's own values were checked at deploy time (checkScriptSettings); what a run derives
    // from it, such as its run id, is checked here.
    it("throws for a spec that gives no valid run id, before touching EC2", async () => {
      await assert.rejects(
        run(specFixture({ job: "Bad_Job" }), harness()),
        (e: Error) =>
          e instanceof InvalidLaunchSpecError &&
          /^job: "Bad_Job" is not a valid job name/.test(e.message),
      );
      assert.equal(ec2Mock.calls().length, 0);
    });
  });
});

describe("request builders", () => {
  it("buildRunInstancesInput adds spot market options only for spot", () => {
    const spec = specFixture();
    const tags = runTags(spec, RUN_ID, SCHEDULED, new Date(DEADLINE));
    const common = { spec, clientToken: "tj-x", userData: "#!/bin/bash\n", tags };
    const spot = buildRunInstancesInput({
      ...common,
      option: { purchaseOption: "spot", instanceType: "m7i.large", subnetId: "subnet-aaaa" },
    });
    const onDemand = buildRunInstancesInput({
      ...common,
      option: { purchaseOption: "on-demand", instanceType: "m7i.large", subnetId: "subnet-aaaa" },
    });
    assert.deepEqual(spot.InstanceMarketOptions, {
      MarketType: "spot",
      SpotOptions: { SpotInstanceType: "one-time", InstanceInterruptionBehavior: "terminate" },
    });
    assert.equal("InstanceMarketOptions" in onDemand, false);
    assert.equal(decodeUserData(spot.UserData ?? ""), "#!/bin/bash\n");
    assert.deepEqual(tags, EXPECTED_TAGS);
  });
});
