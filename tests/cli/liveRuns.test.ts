/**
 * `npm run runs` for runs with attempts, in-process: live runs from the stack's instances,
 * runs between attempts, and `show` with a run's attempts and timeline, with S3 and EC2 answered
 * by aws-sdk-client-mock so that each request is asserted exactly.
 */
import * as assert from "node:assert/strict";
import { DescribeInstancesCommand, EC2Client, EC2ServiceException } from "@aws-sdk/client-ec2";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { runMain } from "../../cli/io";
import { main as runs } from "../../cli/runs";
import { timelineLines, timelineOf } from "../../cli/timeline";
import {
  memoryDeps,
  notFound,
  objectBody as body,
  OUTPUTS,
  SUCCEEDED_RECORD,
  TIMINGS,
} from "./support";

let s3: AwsClientStub<S3Client>;
let ec2: AwsClientStub<EC2Client>;

const EU = OUTPUTS.regions["eu-west-1"];

/** A run that succeeded on its second attempt, after a spot interruption. */
const RETRIED = {
  ...SUCCEEDED_RECORD,
  startedAt: "2026-11-23T06:00:16Z",
  endedAt: "2026-11-23T06:05:46Z",
  durationSeconds: 330,
  instanceId: "i-0bbb",
  purchaseOption: "on-demand",
  estimatedCostUsd: 0.0031,
  attempt: 2,
  runAttempts: [
    {
      attempt: 1,
      status: "interrupted",
      exitCode: null,
      instanceId: "i-0aaa",
      instanceType: "t3.medium",
      purchaseOption: "spot",
      startedAt: "2026-11-23T05:10:02Z",
      endedAt: "2026-11-23T05:51:40Z",
      story: "interrupted by a spot interruption notice after 41m",
    },
    {
      attempt: 2,
      status: "succeeded",
      exitCode: 0,
      instanceId: "i-0bbb",
      instanceType: "t3.medium",
      purchaseOption: "on-demand",
      startedAt: "2026-11-23T06:00:16Z",
      endedAt: "2026-11-23T06:05:46Z",
      story: "succeeded on demand in 5m 12s",
    },
  ],
  timings: TIMINGS,
};

/** The first attempt's record of a run waiting for its second. */
const INTERRUPTED_ATTEMPT = {
  runId: "pi-20261123T0900Z",
  job: "pi",
  status: "interrupted",
  message: "interrupted by a spot interruption notice after 12m",
  scheduledTime: "2026-11-23T09:00:00Z",
  startedAt: "2026-11-23T09:00:20Z",
  endedAt: "2026-11-23T09:12:31Z",
  instanceId: "i-0ccc",
  instanceType: "t3.medium",
  purchaseOption: "spot",
  attempt: 1,
};

/** The instance of a run's second attempt, as DescribeInstances describes it. */
const LIVE_INSTANCE = {
  InstanceId: "i-0live",
  InstanceType: "t3.medium" as const,
  InstanceLifecycle: "spot" as const,
  State: { Name: "running" as const },
  LaunchTime: new Date("2026-11-23T10:11:30Z"),
  Tags: Object.entries({
    "transient-jobs:project": "transient-jobs",
    "transient-jobs:environment": "dev",
    "transient-jobs:job": "pi",
    "transient-jobs:run-id": "pi-20261123T1000Z",
    "transient-jobs:attempt": "2",
    "transient-jobs:scheduled-time": "2026-11-23T10:00:00Z",
    "transient-jobs:deadline": "2026-11-23T12:27:00Z",
  }).map(([Key, Value]) => ({ Key, Value })),
};

const LIVE_FILTERS = [
  { Name: "tag:transient-jobs:project", Values: ["transient-jobs"] },
  { Name: "tag:transient-jobs:environment", Values: ["dev"] },
  { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
];

describe("npm run runs: live runs, retrying runs, attempts and timelines", () => {
  before(() => {
    s3 = mockClient(S3Client);
    ec2 = mockClient(EC2Client);
  });
  after(() => [s3, ec2].forEach((m) => m.restore()));
  beforeEach(() => [s3, ec2].forEach((m) => m.reset()));

  /** The eu-west-1 bucket: one finished run (two attempts), one retrying, one live. */
  function euBucket() {
    s3.on(ListObjectsV2Command, { Bucket: EU.bucketName, Prefix: "jobs/pi/runs/" }).resolves({
      Contents: [{ Key: "jobs/pi/runs/pi-20261123T0600Z.json" }],
      CommonPrefixes: [
        { Prefix: "jobs/pi/runs/pi-20261123T0600Z/" },
        { Prefix: "jobs/pi/runs/pi-20261123T0900Z/" },
        { Prefix: "jobs/pi/runs/pi-20261123T1000Z/" },
      ],
    });
    s3.on(ListObjectsV2Command, {
      Bucket: EU.bucketName,
      Prefix: "jobs/pi/runs/pi-20261123T0900Z/",
    }).resolves({
      Contents: [
        { Key: "jobs/pi/runs/pi-20261123T0900Z/attempt-1.json" },
        { Key: "jobs/pi/runs/pi-20261123T0900Z/notes.txt" },
      ],
    });
    s3.on(GetObjectCommand, { Key: "jobs/pi/runs/pi-20261123T0600Z.json" }).resolves(body(RETRIED));
    s3.on(GetObjectCommand, { Key: "jobs/pi/runs/pi-20261123T0900Z/attempt-1.json" }).resolves(
      body(INTERRUPTED_ATTEMPT),
    );
  }

  it("lists the live and retrying runs before the history, from the instances' tags and the attempt records", async () => {
    euBucket();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [LIVE_INSTANCE] }] });
    const world = memoryDeps();
    assert.equal(
      await runMain(runs, ["--stack", "dev", "--region", "eu-west-1"], world.deps),
      0,
      world.stderr(),
    );
    assert.deepEqual(
      ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input),
      [{ Filters: LIVE_FILTERS, MaxResults: 1000 }],
    );
    // The live run's attempts are not read (its instance says where it is); the retrying run's are.
    assert.deepEqual(
      s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input),
      [
        { Bucket: EU.bucketName, Prefix: "jobs/pi/runs/", Delimiter: "/" },
        { Bucket: EU.bucketName, Prefix: "jobs/pi/runs/pi-20261123T0900Z/" },
      ],
    );
    assert.equal(
      world.stdout().split("\nEstimated cost")[0],
      [
        "Runs under way (stack dev, region eu-west-1): 1 live, 1 retrying",
        "RUN ID             REGION     STATE     ATTEMPT        TYPE       MARKET  ELAPSED  DEADLINE (UTC)",
        "pi-20261123T1000Z  eu-west-1  running   2              t3.medium  spot    4m 12s   2026-11-23 12:27 (in 2h 11m)",
        "pi-20261123T0900Z  eu-west-1  retrying  1 interrupted  t3.medium  spot    -        -",
        "",
        "Runs of stack dev, region eu-west-1: 1 shown, newest first",
        "RUN ID             REGION     SCHEDULED (UTC)   STATUS     ATTEMPTS  TYPE       MARKET     DURATION  EST. COST",
        "pi-20261123T0600Z  eu-west-1  2026-11-23 06:00  succeeded         2  t3.medium  on-demand    5m 30s    $0.0031",
        "",
      ].join("\n"),
    );

    const json = memoryDeps();
    assert.equal(
      await runMain(runs, ["--stack", "dev", "--region", "eu-west-1", "--json"], json.deps),
      0,
    );
    const parsed = JSON.parse(json.stdout());
    assert.deepEqual(
      parsed.live.map((r: { runId: string; attempt: number; elapsedSeconds: number }) => [
        r.runId,
        r.attempt,
        r.elapsedSeconds,
      ]),
      [["pi-20261123T1000Z", 2, 252]],
    );
    assert.deepEqual(parsed.retrying, [
      {
        region: "eu-west-1",
        runId: "pi-20261123T0900Z",
        job: "pi",
        attempt: 1,
        status: "interrupted",
        endedAt: "2026-11-23T09:12:31Z",
        instanceType: "t3.medium",
        purchaseOption: "spot",
        scheduledTime: "2026-11-23T09:00:00Z",
      },
    ]);
  });

  it("keeps only the live runs of --month and of --job, and asks EC2 for the job's instances only", async () => {
    euBucket();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [LIVE_INSTANCE] }] });
    const october = memoryDeps();
    assert.equal(
      await runMain(
        runs,
        ["--stack", "dev", "--region", "eu-west-1", "--job", "pi", "--month", "2026-10", "--json"],
        october.deps,
      ),
      0,
    );
    const parsed = JSON.parse(october.stdout());
    assert.deepEqual([parsed.live, parsed.retrying, parsed.runs], [[], [], []]);
    assert.deepEqual(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters, [
      LIVE_FILTERS[0],
      LIVE_FILTERS[1],
      { Name: "tag:transient-jobs:job", Values: ["pi"] },
      LIVE_FILTERS[2],
    ]);
  });

  it("follows DescribeInstances' pages, and lists each live run once per instance, oldest launch first", async () => {
    s3.on(ListObjectsV2Command).resolves({});
    const second = {
      ...LIVE_INSTANCE,
      InstanceId: "i-0early",
      InstanceLifecycle: undefined,
      LaunchTime: new Date("2026-11-23T09:01:00Z"),
      Tags: LIVE_INSTANCE.Tags.map((t) =>
        t.Key === "transient-jobs:run-id"
          ? { ...t, Value: "pi-20261123T0900Z" }
          : t.Key === "transient-jobs:attempt"
            ? { ...t, Value: "1" }
            : t,
      ),
    };
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [LIVE_INSTANCE] }], NextToken: "page-2" })
      .resolvesOnce({ Reservations: [{ Instances: [second] }] });
    const world = memoryDeps();
    assert.equal(
      await runMain(runs, ["--stack", "dev", "--region", "eu-west-1", "--json"], world.deps),
      0,
    );
    assert.deepEqual(
      ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input),
      [
        { Filters: LIVE_FILTERS, MaxResults: 1000 },
        { Filters: LIVE_FILTERS, MaxResults: 1000, NextToken: "page-2" },
      ],
    );
    assert.deepEqual(
      JSON.parse(world.stdout()).live.map(
        (r: { runId: string; attempt: number; purchaseOption: string }) => [
          r.runId,
          r.attempt,
          r.purchaseOption,
        ],
      ),
      [
        ["pi-20261123T0900Z", 1, "on-demand"],
        ["pi-20261123T1000Z", 2, "spot"],
      ],
    );
  });

  it("still lists the history when the instances cannot be listed, and says why", async () => {
    euBucket();
    ec2.on(DescribeInstancesCommand).rejects(
      new EC2ServiceException({
        name: "UnauthorizedOperation",
        $fault: "client",
        $metadata: { httpStatusCode: 403 },
        message: "You are not authorized to perform this operation.",
      }),
    );
    const world = memoryDeps();
    assert.equal(await runMain(runs, ["--stack", "dev", "--region", "eu-west-1"], world.deps), 0);
    const lines = world.stdout().split("\n");
    // Without the instances, the run under way looks like one between attempts only if it has
    // attempt records and no instance is known: the 10:00 run has a prefix but no record.
    assert.equal(lines[0], "Runs under way (stack dev, region eu-west-1): 0 live, 1 retrying");
    assert.ok(
      lines.includes(
        "(live instances of eu-west-1 not listed: UnauthorizedOperation: You are not authorized to perform this operation.)",
      ),
      world.stdout(),
    );
    assert.ok(lines.some((l) => l.startsWith("pi-20261123T0600Z  eu-west-1  2026-11-23 06:00")));
  });

  it("says the environment is unknown without --stack, for a stack without the environment output", async () => {
    s3.on(ListObjectsV2Command).resolves({});
    const world = memoryDeps();
    assert.equal(await runMain(runs, ["--region", "eu-west-1"], world.deps), 0);
    assert.equal(ec2.commandCalls(DescribeInstancesCommand).length, 0);
    assert.match(
      world.stdout(),
      /^\(live instances not listed: the stack's environment is unknown; name it with --stack, or deploy this version of the program \(its environment output\)\)\n/,
    );

    const withOutput = memoryDeps({ outputs: { ...OUTPUTS, environment: "dev" } });
    ec2.on(DescribeInstancesCommand).resolves({});
    assert.equal(await runMain(runs, ["--region", "eu-west-1"], withOutput.deps), 0);
    assert.deepEqual(
      ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters,
      LIVE_FILTERS,
    );
  });

  it("show: lists a finished run's attempts and prints its last attempt's timeline", async () => {
    s3.on(GetObjectCommand, { Bucket: EU.bucketName }).resolves(body(RETRIED));
    const world = memoryDeps();
    assert.equal(
      await runMain(
        runs,
        ["--stack", "dev", "--region", "eu-west-1", "show", "pi-20261123T0600Z"],
        world.deps,
      ),
      0,
      world.stderr(),
    );
    assert.equal(ec2.calls().length, 0, "a finished run needs no instance lookup");
    const out = world.stdout();
    assert.equal(
      out.slice(out.indexOf("Attempts")),
      [
        "Attempts (2):",
        "  #  STATUS       EXIT  INSTANCE                    STARTED (UTC)        ENDED (UTC)          STORY",
        "  1  interrupted     -  i-0aaa t3.medium spot       2026-11-23 05:10:02  2026-11-23 05:51:40  interrupted by a spot interruption notice after 41m",
        "  2  succeeded       0  i-0bbb t3.medium on-demand  2026-11-23 06:00:16  2026-11-23 06:05:46  succeeded on demand in 5m 12s",
        "Timeline of attempt 2, from the scheduled time 2026-11-23T06:00:00Z:",
        ...timelineLines(timelineOf(TIMINGS)!).map((line) => `  ${line}`),
      ].join("\n"),
    );

    const json = memoryDeps();
    assert.equal(
      await runMain(
        runs,
        ["--stack", "dev", "--region", "eu-west-1", "show", "pi-20261123T0600Z", "--json"],
        json.deps,
      ),
      0,
    );
    const parsed = JSON.parse(json.stdout());
    assert.equal(parsed.runAttempts.length, 2);
    assert.equal(Math.round(parsed.timeline.overheadSeconds * 10), 326);
  });

  it("show --attempt: prints an earlier attempt's timeline from its own record, or says which there are", async () => {
    s3.on(GetObjectCommand, { Key: "jobs/pi/runs/pi-20261123T0600Z.json" }).resolves(body(RETRIED));
    s3.on(ListObjectsV2Command, {
      Bucket: EU.bucketName,
      Prefix: "jobs/pi/runs/pi-20261123T0600Z/",
    }).resolves({
      Contents: [1, 2].map((n) => ({ Key: `jobs/pi/runs/pi-20261123T0600Z/attempt-${n}.json` })),
    });
    const first = { ...TIMINGS, containerExitedAt: null, recordWrittenAt: "2026-11-23T06:41:40Z" };
    s3.on(GetObjectCommand, { Key: "jobs/pi/runs/pi-20261123T0600Z/attempt-1.json" }).resolves(
      body({ ...INTERRUPTED_ATTEMPT, runId: "pi-20261123T0600Z", timings: first }),
    );
    s3.on(GetObjectCommand, { Key: "jobs/pi/runs/pi-20261123T0600Z/attempt-2.json" }).resolves(
      body({ ...RETRIED, runAttempts: undefined }),
    );
    const show = (...extra: string[]) => {
      const world = memoryDeps();
      return runMain(
        runs,
        ["--stack", "dev", "--region", "eu-west-1", "show", "pi-20261123T0600Z", ...extra],
        world.deps,
      ).then((status) => ({ status, out: world.stdout(), err: world.stderr() }));
    };
    const one = await show("--attempt", "1");
    assert.equal(one.status, 0, one.err);
    assert.equal(
      one.out.slice(one.out.indexOf("Timeline")),
      [
        "Timeline of attempt 1, from the scheduled time 2026-11-23T06:00:00Z:",
        ...timelineLines(timelineOf(first)!).map((line) => `  ${line}`),
      ].join("\n"),
    );
    // The last attempt's timings are in the run's record: no attempt record is read for them.
    s3.resetHistory();
    assert.equal((await show("--attempt", "2")).status, 0);
    assert.equal(s3.commandCalls(ListObjectsV2Command).length, 0);

    const missing = await show("--attempt", "3");
    assert.deepEqual(
      [missing.status, missing.err],
      [
        1,
        "error: --attempt: run pi-20261123T0600Z has no record of attempt 3; its attempt records: 1, 2",
      ],
    );
  });

  it("show: a run without a final record lists its attempt records and its live attempt", async () => {
    s3.on(GetObjectCommand, { Key: "jobs/pi/runs/pi-20261123T1000Z.json" }).rejects(notFound());
    s3.on(ListObjectsV2Command, {
      Bucket: EU.bucketName,
      Prefix: "jobs/pi/runs/pi-20261123T1000Z/",
    }).resolves({ Contents: [{ Key: "jobs/pi/runs/pi-20261123T1000Z/attempt-1.json" }] });
    s3.on(GetObjectCommand, { Key: "jobs/pi/runs/pi-20261123T1000Z/attempt-1.json" }).resolves(
      body({
        ...INTERRUPTED_ATTEMPT,
        runId: "pi-20261123T1000Z",
        startedAt: "2026-11-23T10:00:20Z",
        endedAt: "2026-11-23T10:09:02Z",
        message: "interrupted by a spot interruption notice after 8m",
        timings: { ...TIMINGS, scheduledTime: "2026-11-23T10:00:00Z" },
      }),
    );
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [LIVE_INSTANCE] }] });
    const world = memoryDeps();
    assert.equal(
      await runMain(
        runs,
        ["--stack", "dev", "--region", "eu-west-1", "show", "pi-20261123T1000Z"],
        world.deps,
      ),
      0,
      world.stderr(),
    );
    assert.deepEqual(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters, [
      LIVE_FILTERS[0],
      LIVE_FILTERS[1],
      { Name: "tag:transient-jobs:job", Values: ["pi"] },
      { Name: "tag:transient-jobs:run-id", Values: ["pi-20261123T1000Z"] },
      LIVE_FILTERS[2],
    ]);
    const lines = world.stdout().split("\n");
    assert.deepEqual(lines.slice(0, 7), [
      "Run pi-20261123T1000Z (job pi, stack dev, region eu-west-1): under way, no final record yet",
      "  status  running: attempt 2 on i-0live, 4m 12s since launch; deadline 2026-11-23 12:27 (in 2h 11m)",
      `  logs    npm run logs -- --stack dev pi-20261123T1000Z (group ${EU.jobs.pi.logGroupName})`,
      "Attempts (2):",
      "  #  STATUS       EXIT  INSTANCE                STARTED (UTC)        ENDED (UTC)          STORY",
      "  1  interrupted     -  i-0ccc t3.medium spot   2026-11-23 10:00:20  2026-11-23 10:09:02  interrupted by a spot interruption notice after 8m",
      "  2  running         -  i-0live t3.medium spot  2026-11-23 10:11:30  -                    under way for 4m 12s; deadline 2026-11-23 12:27 (in 2h 11m)",
    ]);
    assert.equal(lines[7], "Timeline of attempt 1, from the scheduled time 2026-11-23T10:00:00Z:");
  });

  it("show: a run between attempts says it is retrying", async () => {
    s3.on(GetObjectCommand, { Key: "jobs/pi/runs/pi-20261123T0900Z.json" }).rejects(notFound());
    euBucket();
    ec2.on(DescribeInstancesCommand).resolves({});
    const world = memoryDeps();
    assert.equal(
      await runMain(
        runs,
        ["--stack", "dev", "--region", "eu-west-1", "show", "pi-20261123T0900Z", "--json"],
        world.deps,
      ),
      0,
      world.stderr(),
    );
    const parsed = JSON.parse(world.stdout());
    assert.equal(parsed.status, "retrying");
    assert.deepEqual(parsed.attemptRecords, [
      `s3://${EU.bucketName}/jobs/pi/runs/pi-20261123T0900Z/attempt-1.json`,
    ]);
    const text = memoryDeps();
    await runMain(
      runs,
      ["--stack", "dev", "--region", "eu-west-1", "show", "pi-20261123T0900Z"],
      text.deps,
    );
    assert.equal(
      text.stdout().split("\n")[1],
      "  status  retrying: attempt 1 ended interrupted at 2026-11-23T09:12:31Z; the next attempt starts after the retry policy's backoff",
    );
  });
});
