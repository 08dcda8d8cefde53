/**
 * The operator tools in-process: Pulumi answered by a function, AWS by aws-sdk-client-mock, so
 * each SDK request is asserted exactly.
 */
import * as assert from "node:assert/strict";
import {
  CloudWatchLogsClient,
  DescribeLogStreamsCommand,
  GetLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { main as launch } from "../../cli/launch";
import { main as logs } from "../../cli/logs";
import { costSums, main as runs } from "../../cli/runs";
import { runMain } from "../../cli/io";
import { readStackOutputs, parseStackOutputs } from "../../cli/stackOutputs";
import { withFigures } from "../../cli/runRecords";
import { memoryDeps, notFound, objectBody as body, OUTPUTS, SUCCEEDED_RECORD } from "./support";

// Created when the suite starts and restored when it ends, so no other file sees the mocks.
let s3: AwsClientStub<S3Client>;
let lambda: AwsClientStub<LambdaClient>;
let cwLogs: AwsClientStub<CloudWatchLogsClient>;
let ec2: AwsClientStub<EC2Client>;

const EU = OUTPUTS.regions["eu-west-1"];
const US = OUTPUTS.regions["us-east-1"];

const SUCCEEDED = SUCCEEDED_RECORD;
const FAILED = {
  ...SUCCEEDED,
  runId: "pi-20261124T0600Z",
  status: "failed",
  exitCode: 3,
  message: "the job exited with status 3",
  scheduledTime: "2026-11-24T06:00:00Z",
  startedAt: "2026-11-24T06:01:02Z",
  endedAt: "2026-11-24T06:02:02Z",
  durationSeconds: 60,
  purchaseOption: "on-demand",
  estimatedCostUsd: 0.00164,
  logStream: "pi-20261124T0600Z",
  summary: null,
};
// As the reaper writes it: no duration, market or estimate.
const REAPED = {
  runId: "pi-20261201T0600Z",
  job: "pi",
  environment: "dev",
  status: "reaped",
  phase: "reaper",
  exitCode: null,
  message: "terminated by the reaper",
  scheduledTime: "2026-12-01T06:00:00Z",
  startedAt: "2026-12-01T06:00:30Z",
  endedAt: "2026-12-01T06:40:30Z",
  instanceId: "i-0ccc",
  instanceType: "t3.medium",
  availabilityZone: "eu-west-1a",
  imageUri: null,
  imageDigest: null,
};

describe("operator tools in-process", () => {
  before(() => {
    s3 = mockClient(S3Client);
    lambda = mockClient(LambdaClient);
    cwLogs = mockClient(CloudWatchLogsClient);
    ec2 = mockClient(EC2Client);
  });
  after(() => [s3, lambda, cwLogs, ec2].forEach((m) => m.restore()));
  beforeEach(() => {
    [s3, lambda, cwLogs, ec2].forEach((m) => m.reset());
    // No instance is alive unless a test says so.
    ec2.on(DescribeInstancesCommand).resolves({});
  });

  describe("stack outputs", () => {
    it("asks Pulumi for the named stack's outputs as JSON", async () => {
      const world = memoryDeps();
      const outputs = await readStackOutputs("dev", world.deps.pulumi);
      assert.deepEqual(world.pulumiCalls, [["stack", "output", "--json", "--stack", "dev"]]);
      assert.equal(outputs.stack, "dev");
      assert.equal(outputs.regions["eu-west-1"].bucketName, EU.bucketName);
      assert.equal(outputs.dashboardName, "transient-jobs-dev");
    });

    it("uses the selected stack when none is named", async () => {
      const world = memoryDeps();
      const outputs = await readStackOutputs(undefined, world.deps.pulumi);
      assert.deepEqual(world.pulumiCalls, [["stack", "output", "--json"]]);
      assert.equal(outputs.stack, undefined);
    });

    const failures: [
      string,
      { code: number | null; stdout: string; stderr: string; error?: string },
      string,
    ][] = [
      [
        "Pulumi is not installed",
        { code: null, stdout: "", stderr: "", error: "ENOENT" },
        `the pulumi CLI is not on PATH; install it (https://www.pulumi.com/docs/iac/download-install/), run "pulumi login", and retry`,
      ],
      [
        "the stack is unknown",
        { code: 255, stdout: "", stderr: "warning: x\nerror: no stack named 'qa' found\n" },
        "pulumi stack output --json --stack qa failed (exit 255): error: no stack named 'qa' found",
      ],
      [
        "Pulumi prints no JSON",
        { code: 0, stdout: "Current stack outputs (0):", stderr: "" },
        `pulumi stack output --json --stack qa printed no JSON: "Current stack outputs (0):"`,
      ],
    ];
    for (const [title, result, message] of failures) {
      it(`says what to do when ${title}`, async () =>
        assert.rejects(
          readStackOutputs("qa", async () => result),
          { name: "CliError", message },
        ));
    }

    it("names a missing output and says to deploy", () => {
      assert.throws(() => parseStackOutputs({}, "dev"), {
        message:
          'stack dev has no "regions" output; deploy this version of the program (pulumi up --stack dev) and retry',
      });
      assert.throws(
        () =>
          parseStackOutputs(
            {
              regions: {
                "eu-west-1": { bucketName: "b", launcherFunctionName: "f", jobs: { pi: {} } },
              },
            },
            "dev",
          ),
        {
          message:
            "stack dev output regions.eu-west-1.jobs.pi.logGroupName is missing; deploy this version of the program (pulumi up --stack dev) and retry",
        },
      );
    });
  });

  describe("npm run runs", () => {
    it("lists the runs of every region and job, newest first, with costs per region and month", async () => {
      s3.on(ListObjectsV2Command, { Bucket: EU.bucketName, Prefix: "jobs/pi/runs/" })
        .resolvesOnce({
          Contents: [
            { Key: "jobs/pi/runs/pi-20261123T0600Z.json" },
            { Key: "jobs/pi/runs/notes.txt" },
          ],
          IsTruncated: true,
          NextContinuationToken: "page-2",
        })
        .resolvesOnce({
          Contents: [{ Key: "jobs/pi/runs/pi-20261124T0600Z.json" }],
          IsTruncated: false,
        });
      s3.on(ListObjectsV2Command, { Bucket: US.bucketName }).resolves({ Contents: [] });
      s3.on(GetObjectCommand, { Key: "jobs/pi/runs/pi-20261123T0600Z.json" }).resolves(
        body(SUCCEEDED),
      );
      s3.on(GetObjectCommand, { Key: "jobs/pi/runs/pi-20261124T0600Z.json" }).resolves(
        body(FAILED),
      );
      const world = memoryDeps();

      assert.equal(await runMain(runs, ["--stack", "dev"], world.deps), 0, world.stderr());
      const listed = s3
        .commandCalls(ListObjectsV2Command)
        .map((c) => JSON.stringify(c.args[0].input))
        .sort();
      assert.deepEqual(
        listed,
        [
          JSON.stringify({ Bucket: EU.bucketName, Prefix: "jobs/pi/runs/", Delimiter: "/" }),
          JSON.stringify({
            Bucket: EU.bucketName,
            Prefix: "jobs/pi/runs/",
            Delimiter: "/",
            ContinuationToken: "page-2",
          }),
          JSON.stringify({ Bucket: US.bucketName, Prefix: "jobs/hourly/runs/", Delimiter: "/" }),
          JSON.stringify({ Bucket: US.bucketName, Prefix: "jobs/pi/runs/", Delimiter: "/" }),
        ].sort(),
      );
      assert.deepEqual(
        s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input),
        [
          { Bucket: EU.bucketName, Key: "jobs/pi/runs/pi-20261124T0600Z.json" },
          { Bucket: EU.bucketName, Key: "jobs/pi/runs/pi-20261123T0600Z.json" },
        ],
      );
      assert.equal(
        world.stdout(),
        [
          "Runs of stack dev, regions eu-west-1, us-east-1: 2 shown, newest first",
          "RUN ID             REGION     SCHEDULED (UTC)   STATUS     ATTEMPTS  TYPE       MARKET     DURATION  EST. COST",
          "pi-20261124T0600Z  eu-west-1  2026-11-24 06:00  failed            1  t3.medium  on-demand    1m 00s    $0.0016",
          "pi-20261123T0600Z  eu-west-1  2026-11-23 06:00  succeeded         1  t3.medium  spot         5m 12s    $0.0021",
          "",
          "Estimated cost per region and month (the runs above):",
          "MONTH    REGION     RUNS  SUCCEEDED  OTHER  EST. COST",
          "2026-11  eu-west-1     2          1      1    $0.0037",
          "Between runs nothing runs: the idle cost is storage only (results, run records, images, logs).",
        ].join("\n"),
      );
    });

    it("says how to start a run when there is no history", async () => {
      s3.on(ListObjectsV2Command).resolves({});
      const world = memoryDeps();
      assert.equal(await runMain(runs, ["--stack", "dev", "--region", "eu-west-1"], world.deps), 0);
      assert.equal(
        world.stdout(),
        "No runs recorded (stack dev, region eu-west-1). A run writes its record when it ends; start one with:\n  npm run launch -- --stack dev --job pi",
      );
    });

    it("keeps --last runs, and with --month the whole month", async () => {
      s3.on(ListObjectsV2Command, { Bucket: EU.bucketName }).resolves({
        Contents: ["pi-20261123T0600Z", "pi-20261124T0600Z", "pi-20261201T0600Z"].map((id) => ({
          Key: `jobs/pi/runs/${id}.json`,
        })),
      });
      s3.on(GetObjectCommand).callsFake((input: { Key: string }) =>
        body([SUCCEEDED, FAILED, REAPED].find((r) => input.Key.endsWith(`${r.runId}.json`))),
      );
      const last = memoryDeps();
      assert.equal(
        await runMain(
          runs,
          ["--stack", "dev", "--job", "pi", "--region", "eu-west-1", "--last", "1", "--json"],
          last.deps,
        ),
        0,
      );
      const one = JSON.parse(last.stdout());
      assert.deepEqual(
        one.runs.map((r: { runId: string }) => r.runId),
        ["pi-20261201T0600Z"],
      );
      // The reaper's record has no estimate and no prices: no cost, never a made-up one.
      assert.equal(one.runs[0].costEstimatedByCli, false);
      assert.equal(one.runs[0].estimatedCostUsd, null);

      s3.resetHistory();
      const month = memoryDeps();
      assert.equal(
        await runMain(
          runs,
          ["--stack", "dev", "--region", "eu-west-1", "--month", "2026-11", "--json"],
          month.deps,
        ),
        0,
      );
      const november = JSON.parse(month.stdout());
      assert.deepEqual(
        november.runs.map((r: { runId: string }) => r.runId),
        ["pi-20261124T0600Z", "pi-20261123T0600Z"],
      );
      assert.deepEqual(november.costs, [
        {
          region: "eu-west-1",
          month: "2026-11",
          runs: 2,
          succeeded: 1,
          failed: 1,
          estimatedCostUsd: 0.003706,
          unpriced: 0,
        },
      ]);
      assert.equal(s3.commandCalls(GetObjectCommand).length, 2, "read a record outside the month");
    });

    it("shows one run with where its logs are", async () => {
      s3.on(GetObjectCommand, { Bucket: EU.bucketName }).resolves(body(FAILED));
      s3.on(GetObjectCommand, { Bucket: US.bucketName }).rejects(notFound());
      const world = memoryDeps();
      assert.equal(
        await runMain(runs, ["--stack", "dev", "show", "pi-20261124T0600Z"], world.deps),
        0,
        world.stderr(),
      );
      assert.deepEqual(
        s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input),
        [
          { Bucket: EU.bucketName, Key: "jobs/pi/runs/pi-20261124T0600Z.json" },
          { Bucket: US.bucketName, Key: "jobs/pi/runs/pi-20261124T0600Z.json" },
        ],
      );
      assert.equal(
        world.stdout(),
        [
          "Run pi-20261124T0600Z (job pi, stack dev, region eu-west-1)",
          "  status          failed (phase finished, exit code 3)",
          "  message         the job exited with status 3",
          "  scheduled       2026-11-24T06:00:00Z",
          "  started         2026-11-24T06:01:02Z",
          "  ended           2026-11-24T06:02:02Z",
          "  duration        1m 00s",
          "  instance        i-0aaa t3.medium on-demand in eu-west-1b",
          "  estimated cost  $0.0016",
          "  image           123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo@sha256:ab (sha256:ab)",
          `  record          s3://${EU.bucketName}/jobs/pi/runs/pi-20261124T0600Z.json`,
          `  logs            group ${EU.jobs.pi.logGroupName}, stream pi-20261124T0600Z`,
          "                  npm run logs -- --stack dev pi-20261124T0600Z",
          `                  https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/${EU.jobs.pi.logGroupName}/log-events/pi-20261124T0600Z`,
        ].join("\n"),
      );
    });

    it("fails with status 1 for a run without a record", async () => {
      s3.on(GetObjectCommand).rejects(notFound());
      const world = memoryDeps();
      assert.equal(
        await runMain(
          runs,
          ["--stack", "dev", "show", "pi-20261124T0700Z", "--region", "us-east-1"],
          world.deps,
        ),
        1,
      );
      assert.equal(
        world.stderr(),
        `error: no run record for pi-20261124T0700Z in s3://${US.bucketName} (us-east-1), no attempt record and no live instance of it; a run writes its record when it ends: if it is just starting, follow it with npm run logs -- --stack dev pi-20261124T0700Z`,
      );
    });

    const usage: [string[], string][] = [
      [
        ["--stack", "dev", "--region", "eu-west-3"],
        `error: --region: "eu-west-3" is not a region of stack dev (eu-west-1, us-east-1)`,
      ],
      [
        ["--stack", "dev", "--region", "eu-west-1", "--job", "hourly"],
        `error: --job: "hourly" is not a job of the selected regions (pi)`,
      ],
      [
        ["list"],
        `error: unexpected argument "list": the only command is "show <run-id>"; see npm run runs -- --help`,
      ],
      [["show"], "error: show needs a <run-id>, e.g. show pi-20261123T0600Z"],
      [
        ["show", "pi-20261124T0600Z", "--month", "2026-11"],
        "error: --month does not apply to show",
      ],
      [
        ["--attempt", "2"],
        "error: --attempt applies to show only: npm run runs -- show <run-id> --attempt <n>",
      ],
      [
        ["show", "pi-20261124T0600Z", "--attempt", "12"],
        `error: --attempt: "12" is not a whole number from 1 to 11; see npm run runs -- --help`,
      ],
      [
        ["show", "pi-1"],
        `error: <run-id>: "pi-1" is not a run id; run ids look like pi-20261123T0300Z (job name, "-", UTC minute), as printed by npm run launch and npm run runs`,
      ],
    ];
    for (const [argv, message] of usage) {
      it(`exits 2 for ${argv.join(" ")}`, async () => {
        const world = memoryDeps();
        assert.equal(await runMain(runs, argv, world.deps), 2);
        assert.equal(world.stderr(), message);
      });
    }
  });

  describe("costSums and withFigures", () => {
    it("sums per region and month, newest month first, counting unpriced runs", () => {
      const found = (region: string, record: object) =>
        withFigures({ region, bucket: "b", key: "k", record: record as never });
      assert.deepEqual(
        costSums([
          found("eu-west-1", SUCCEEDED),
          found("us-east-1", { ...FAILED, instanceType: "zz9.large", estimatedCostUsd: null }),
          found("eu-west-1", REAPED),
        ]).map((s) => [s.month, s.region, s.runs, s.unpriced]),
        [
          ["2026-12", "eu-west-1", 1, 1],
          ["2026-11", "eu-west-1", 1, 0],
          ["2026-11", "us-east-1", 1, 1],
        ],
      );
    });

    it("estimates a record without an estimate only from the prices it carries", () => {
      const found = (record: object) =>
        withFigures({ region: "eu-west-1", bucket: "b", key: "k", record: record as never });
      // 40 minutes at 0.0456 + 0.003616 USD per hour, plus the boot and power-off minute.
      const priced = found({ ...REAPED, instanceUsdPerHour: 0.0456, volumeUsdPerHour: 0.003616 });
      assert.equal(priced.costEstimatedHere, true);
      assert.equal(priced.costUsd, Math.floor(((45600 + 3616) * (2400 + 60)) / 3600) / 1e6);
      const bare = found(REAPED);
      assert.equal(bare.costEstimatedHere, false);
      assert.equal(bare.costUsd, undefined);
    });
  });

  describe("npm run launch", () => {
    const launched = {
      status: "launched",
      job: "pi",
      environment: "dev",
      region: "eu-west-1",
      runId: "pi-20261123T1015Z",
      scheduledTime: "2026-11-23T10:15:00Z",
      manual: true,
      instanceId: "i-0new",
      instanceType: "t3.medium",
      availabilityZone: "eu-west-1b",
      purchaseOption: "spot",
      deadline: "2026-11-23T10:35:44Z",
      existing: false,
      replacedInstanceIds: [],
      attempts: [{}],
    };
    const payload = (value: unknown) =>
      ({ StatusCode: 200, Payload: Buffer.from(JSON.stringify(value)) }) as never;

    it("invokes the region's launcher with the schedule's event, now to the minute, and says how to follow", async () => {
      lambda.on(InvokeCommand).resolves(payload(launched));
      const world = memoryDeps();
      assert.equal(
        await runMain(
          launch,
          ["--stack", "dev", "--job", "pi", "--region", "eu-west-1"],
          world.deps,
        ),
        0,
        world.stderr(),
      );
      const [call] = lambda.commandCalls(InvokeCommand);
      const { Payload, ...input } = call.args[0].input;
      assert.deepEqual(input, {
        FunctionName: EU.launcherFunctionName,
        InvocationType: "RequestResponse",
      });
      // The claimed minute names the run; the deadline counts from the request itself.
      assert.deepEqual(JSON.parse(Buffer.from(Payload as Uint8Array).toString()), {
        job: "pi",
        scheduledTime: "2026-11-23T10:15:00Z",
        manual: true,
        requestedTime: "2026-11-23T10:15:42Z",
      });
      assert.equal(
        world.stdout(),
        [
          "Launched pi-20261123T1015Z (job pi, stack dev, region eu-west-1)",
          "  instance   i-0new t3.medium spot in eu-west-1b (1 attempt)",
          "  deadline   2026-11-23T10:35:44Z",
          "Follow it:   npm run logs -- --stack dev pi-20261123T1015Z",
          "Its record:  npm run runs -- --stack dev show pi-20261123T1015Z   (written when the run ends)",
        ].join("\n"),
      );
      assert.equal(
        world.stderr(),
        `Invoking ${EU.launcherFunctionName} in eu-west-1 for run pi-20261123T1015Z...`,
      );
    });

    it("exits 3 for a minute whose run has already ended, and says how to run again", async () => {
      lambda.on(InvokeCommand).resolves(
        payload({
          status: "ended",
          runId: "pi-20261123T1015Z",
          job: "pi",
          region: "eu-west-1",
          scheduledTime: "2026-11-23T10:15:00Z",
          reason: "run pi-20261123T1015Z already ran on i-0done (now terminated)",
          attempts: [],
        }),
      );
      const world = memoryDeps();
      assert.equal(
        await runMain(
          launch,
          ["--stack", "dev", "--job", "pi", "--region", "eu-west-1"],
          world.deps,
        ),
        3,
      );
      assert.equal(
        world.stdout(),
        [
          "Not launched: run pi-20261123T1015Z already ran on i-0done (now terminated).",
          "Its record:  npm run runs -- --stack dev show pi-20261123T1015Z",
          "To run again, pick another minute with --at, or leave --at out to launch now.",
        ].join("\n"),
      );
    });

    it("claims the --at time instead of now", async () => {
      lambda.on(InvokeCommand).resolves(payload({ ...launched, existing: true }));
      const world = memoryDeps();
      assert.equal(
        await runMain(
          launch,
          ["--stack", "dev", "--job", "hourly", "--at", "2026-11-20T01:30:59Z"],
          world.deps,
        ),
        0,
      );
      const { FunctionName, Payload } = lambda.commandCalls(InvokeCommand)[0].args[0].input;
      assert.equal(FunctionName, US.launcherFunctionName);
      assert.equal(
        JSON.parse(Buffer.from(Payload as Uint8Array).toString()).scheduledTime,
        "2026-11-20T01:30:00Z",
      );
      assert.match(world.stdout(), /^Run pi-20261123T1015Z was already launched/);
    });

    it("exits 3 when the concurrency policy skips the run", async () => {
      lambda.on(InvokeCommand).resolves(
        payload({
          ...launched,
          status: "skipped",
          reason:
            "concurrencyPolicy forbid: run pi-20261123T0600Z (i-0old, running) of job pi is still alive",
        }),
      );
      const world = memoryDeps();
      assert.equal(
        await runMain(
          launch,
          ["--stack", "dev", "--job", "pi", "--region", "eu-west-1"],
          world.deps,
        ),
        3,
      );
      assert.match(world.stdout(), /^Skipped pi-20261123T1015Z: concurrencyPolicy forbid: /);
    });

    it("exits 1 with the launcher's error when it could not launch", async () => {
      lambda.on(InvokeCommand).resolves({
        StatusCode: 200,
        FunctionError: "Unhandled",
        Payload: Buffer.from(
          JSON.stringify({
            errorType: "LaunchFailedError",
            errorMessage: "run pi-20261123T1015Z of job pi was not launched: no capacity",
          }),
        ),
      } as never);
      const world = memoryDeps();
      assert.equal(
        await runMain(
          launch,
          ["--stack", "dev", "--job", "pi", "--region", "eu-west-1", "--json"],
          world.deps,
        ),
        1,
      );
      assert.deepEqual(JSON.parse(world.stdout()), {
        status: "error",
        region: "eu-west-1",
        errorType: "LaunchFailedError",
        errorMessage: "run pi-20261123T1015Z of job pi was not launched: no capacity",
      });
    });

    const usage: [string[], string][] = [
      [["--stack", "dev"], "error: --job is required, e.g. --job pi; see npm run launch -- --help"],
      [
        ["--stack", "dev", "--job", "pi"],
        "error: --region is required: job pi runs in eu-west-1, us-east-1",
      ],
      [
        ["--stack", "dev", "--job", "nightly"],
        `error: --job: "nightly" is not deployed in stack dev (jobs: pi, hourly)`,
      ],
      [
        ["--stack", "dev", "--job", "pi", "--at", "tomorrow"],
        `error: --at: "tomorrow" is not an ISO-8601 UTC time such as 2026-11-23T06:00:00Z; see npm run launch -- --help`,
      ],
    ];
    for (const [argv, message] of usage) {
      it(`exits 2 for ${argv.join(" ")}`, async () => {
        const world = memoryDeps();
        assert.equal(await runMain(launch, argv, world.deps), 2);
        assert.equal(world.stderr(), message);
        assert.equal(lambda.calls().length, 0);
      });
    }
  });

  describe("npm run logs", () => {
    const event = (t: string, message: string) => ({ timestamp: Date.parse(t), message });

    it("prints the stream, follows it, and stops with the run's outcome once its record exists", async () => {
      cwLogs
        .on(DescribeLogStreamsCommand)
        .resolves({ logStreams: [{ logStreamName: "pi-20261124T0600Z" }] });
      cwLogs
        .on(GetLogEventsCommand)
        .resolvesOnce({
          events: [event("2026-11-24T06:01:10Z", "pi: run pi-20261124T0600Z")],
          nextForwardToken: "f/1",
        })
        .resolvesOnce({ events: [], nextForwardToken: "f/1" })
        .resolvesOnce({
          events: [event("2026-11-24T06:01:50Z", "pi: failed: S3 error\n")],
          nextForwardToken: "f/2",
        })
        .resolvesOnce({ events: [], nextForwardToken: "f/2" })
        .resolves({ events: [], nextForwardToken: "f/2" });
      s3.on(GetObjectCommand).rejectsOnce(notFound()).resolves(body(FAILED));
      const world = memoryDeps();
      assert.equal(
        await runMain(
          logs,
          ["--stack", "dev", "--region", "eu-west-1", "--interval", "2", "pi-20261124T0600Z"],
          world.deps,
        ),
        1,
      );
      assert.deepEqual(cwLogs.commandCalls(DescribeLogStreamsCommand)[0].args[0].input, {
        logGroupName: EU.jobs.pi.logGroupName,
        logStreamNamePrefix: "pi-20261124T0600Z",
        limit: 5,
      });
      assert.deepEqual(
        cwLogs.commandCalls(GetLogEventsCommand).map((c) => c.args[0].input.nextToken ?? null),
        [null, "f/1", "f/1", "f/2", "f/2"],
      );
      for (const c of cwLogs.commandCalls(GetLogEventsCommand)) {
        assert.equal(c.args[0].input.logGroupName, EU.jobs.pi.logGroupName);
        assert.equal(c.args[0].input.logStreamName, "pi-20261124T0600Z");
        assert.equal(c.args[0].input.startFromHead, true);
      }
      assert.deepEqual(world.sleeps, [2000]);
      assert.equal(
        world.stdout(),
        "2026-11-24T06:01:10Z  pi: run pi-20261124T0600Z\n2026-11-24T06:01:50Z  pi: failed: S3 error",
      );
      assert.equal(
        world.stderr(),
        `${EU.jobs.pi.logGroupName} (eu-west-1), stream pi-20261124T0600Z:\nrun pi-20261124T0600Z failed during finished: the job exited with status 3`,
      );
    });

    it("finds the region whose log group has the stream", async () => {
      cwLogs
        .on(DescribeLogStreamsCommand, { logGroupName: EU.jobs.pi.logGroupName })
        .resolves({ logStreams: [] });
      cwLogs
        .on(DescribeLogStreamsCommand, { logGroupName: US.jobs.pi.logGroupName })
        .resolves({ logStreams: [{ logStreamName: "pi-20261124T0615Z" }] });
      cwLogs
        .on(GetLogEventsCommand)
        .resolves({ events: [event("2026-11-24T06:16:00Z", "hello")], nextForwardToken: "f/9" });
      s3.on(GetObjectCommand).rejects(notFound());
      const world = memoryDeps();
      cwLogs
        .on(GetLogEventsCommand)
        .resolvesOnce({ events: [event("2026-11-24T06:16:00Z", "hello")], nextForwardToken: "f/9" })
        .resolves({ events: [], nextForwardToken: "f/9" });
      assert.equal(
        await runMain(logs, ["--stack", "dev", "--no-follow", "pi-20261124T0615Z"], world.deps),
        0,
      );
      assert.equal(world.stdout(), "2026-11-24T06:16:00Z  hello");
      assert.equal(
        cwLogs.commandCalls(GetLogEventsCommand)[0].args[0].input.logGroupName,
        US.jobs.pi.logGroupName,
      );
    });

    it("reports a run that ended before its container started", async () => {
      cwLogs.on(DescribeLogStreamsCommand).resolves({ logStreams: [] });
      s3.on(GetObjectCommand, { Bucket: EU.bucketName }).resolves(
        body({ ...FAILED, phase: "pull", exitCode: null, message: "could not pull the image" }),
      );
      const world = memoryDeps();
      assert.equal(
        await runMain(
          logs,
          ["--stack", "dev", "--region", "eu-west-1", "pi-20261124T0600Z"],
          world.deps,
        ),
        1,
      );
      assert.equal(
        world.stderr(),
        "run pi-20261124T0600Z wrote no log: it ended before its container started.\nrun pi-20261124T0600Z failed during pull: could not pull the image",
      );
    });

    it("fails without following when nothing is there yet", async () => {
      cwLogs.on(DescribeLogStreamsCommand).resolves({ logStreams: [] });
      s3.on(GetObjectCommand).rejects(notFound());
      const world = memoryDeps();
      assert.equal(
        await runMain(
          logs,
          ["--stack", "dev", "--region", "eu-west-1", "--no-follow", "pi-20261124T0600Z"],
          world.deps,
        ),
        1,
      );
      assert.match(
        world.stderr(),
        /^error: no log stream pi-20261124T0600Z in tj-dev-eu-west-1-pi-logs-4103397 \(eu-west-1\) yet, and no run record/,
      );
    });

    it("exits 1, naming the job, for a run of a job the region does not run", async () => {
      const world = memoryDeps();
      assert.equal(
        await runMain(
          logs,
          ["--stack", "dev", "--region", "eu-west-1", "hourly-20261124T0600Z"],
          world.deps,
        ),
        1,
      );
      assert.equal(
        world.stderr(),
        `error: no region of stack dev in eu-west-1 runs job "hourly" (the job of run hourly-20261124T0600Z)`,
      );
    });
  });
});
