/**
 * The compiled tools as an operator runs them: separate processes, a fake `pulumi` on PATH,
 * S3 and CloudWatch Logs in moto, and a local Lambda endpoint that runs the real launcher handler
 * against an EC2 stub. The run records and the job log come from a real init script run.
 *
 * What is about the process (exit status, stdout and stderr, `pulumi` looked up on PATH, the
 * `AWS_ENDPOINT_URL*` endpoints, each tool's entry point) runs in processes, started together
 * since they mostly wait. Further variations run the same `main` in-process against the same
 * moto and stubs: a process each would prove nothing more and cost a Node start and SDK loading.
 */
import * as assert from "node:assert/strict";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { handleLaunchEvent } from "../../launcher/handler";
import { attemptInputs, renderInitScript } from "../../launcher/initScript";
import { hourlyPriceTable } from "../../launcher/prices";
import { runIdFor } from "../../launcher/runId";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { INSTANCE_PRODUCT_ATTRIBUTES } from "../../lib/priceList";
import {
  DEMO_DOCKER_STATS,
  M7I_LARGE_DOCKER_INFO,
  PRICES_FIXTURE,
  specFixture,
} from "../../testing/fixtures";
import { runScript } from "../../testing/scriptHarness";
import { ec2Xml, startEc2Stub, type Ec2Stub } from "../../testing/serializedClosure";
import { MOTO_CLIENT_CONFIG, resetMoto, startMoto } from "../../testing/moto";
import type { Main } from "../../cli/io";
import { main as launchMain } from "../../cli/launch";
import { main as logsMain } from "../../cli/logs";
import { main as runsMain } from "../../cli/runs";
import {
  compileCli,
  fakePulumi,
  OUTPUTS,
  removeCompiledCli,
  runCli,
  runInProcess,
  startLambdaStub,
  type CliRun,
  type LocalEndpoints,
} from "./support";

const EU = OUTPUTS.regions["eu-west-1"];
const US = OUTPUTS.regions["us-east-1"];
/** 06:00 UTC `days` ago: CloudWatch Logs takes events from the last 14 days only. */
function daysAgo(days: number): Date {
  const d = new Date(Date.now() - days * 86_400_000);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 6));
}
const SUCCEEDED_AT = daysAgo(2);
const FAILED_AT = daysAgo(1);
const SUCCEEDED = runIdFor("pi", SUCCEEDED_AT);
const FAILED = runIdFor("pi", FAILED_AT);
const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, "Z");
const day = (d: Date) => iso(d).slice(0, 10);

/**
 * The Price List Query API (JSON 1.1, `AWSPriceListService.GetProducts`), answering with the
 * fixture's on-demand prices as Price List products: moto has no Pricing service.
 */
async function startPricingStub(): Promise<{
  endpoint: string;
  /** The instance types asked about, in order, with the X-Amz-Target of each request. */
  asked: string[];
  close(): Promise<void>;
}> {
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const filters = (JSON.parse(body || "{}").Filters ?? []) as Array<{
        Field: string;
        Value: string;
      }>;
      const type = filters.find((f) => f.Field === "instanceType")?.Value ?? "";
      asked.push(`${String(req.headers["x-amz-target"])} ${type}`);
      const usd = PRICES_FIXTURE.onDemandUsdPerHour?.[type];
      const product = {
        product: { attributes: { ...INSTANCE_PRODUCT_ATTRIBUTES, instanceType: type } },
        terms: {
          OnDemand: {
            SKU: {
              "SKU.TERM": {
                priceDimensions: {
                  "SKU.TERM.RATE": { unit: "Hrs", pricePerUnit: { USD: String(usd) } },
                },
              },
            },
          },
        },
      };
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
      res.end(
        JSON.stringify({
          FormatVersion: "aws_v1",
          PriceList: usd === undefined ? [] : [JSON.stringify(product)],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A record written by the real init script (under bash with stubs) for `runId`. */
async function recordOf(runId: string, scheduledTime: string, runExit: number) {
  const prices = hourlyPriceTable(PRICES_FIXTURE, ["m7i.large"], 30);
  const run = await runScript(
    renderInitScript({
      ...specFixture({ bucket: EU.bucketName, logGroup: EU.jobs.pi.logGroupName }),
      runId,
      ...attemptInputs(
        specFixture({ bucket: EU.bucketName, logGroup: EU.jobs.pi.logGroupName }),
        runId,
        1,
      ),
      scheduledTime,
      deadlineMinutes: 20,
      instancePrices: prices.instances,
      volumeMicroUsdPerHour: prices.volumeMicroUsdPerHour,
    }),
    {
      runExit,
      lastLine: runExit === 0 ? "pi: 512,000 digits in 295 s (planned)" : "",
      // The demo job's memory and CPU, as docker stats shows them while it runs.
      stats: [...DEMO_DOCKER_STATS],
      dockerInfo: M7I_LARGE_DOCKER_INFO,
      oomKilled: "false",
    },
  );
  assert.equal(run.records.length, 1, run.stderr);
  return run.records[0];
}

/** moto's S3 and CloudWatch Logs holding `records` and the two runs' log lines. */
async function seedMoto(moto: string, records: Awaited<ReturnType<typeof recordOf>>[]) {
  const s3 = new S3Client({ ...MOTO_CLIENT_CONFIG, endpoint: moto, forcePathStyle: true });
  const logs = new CloudWatchLogsClient({ ...MOTO_CLIENT_CONFIG, endpoint: moto });
  const buckets = async () => {
    await Promise.all([
      s3.send(
        new CreateBucketCommand({
          Bucket: EU.bucketName,
          CreateBucketConfiguration: { LocationConstraint: "eu-west-1" },
        }),
      ),
      new S3Client({
        ...MOTO_CLIENT_CONFIG,
        region: "us-east-1",
        endpoint: moto,
        forcePathStyle: true,
      }).send(new CreateBucketCommand({ Bucket: US.bucketName })),
    ]);
    await Promise.all(
      records.map((record) =>
        s3.send(
          new PutObjectCommand({
            Bucket: EU.bucketName,
            Key: `jobs/pi/runs/${record.runId}.json`,
            Body: JSON.stringify(record),
            ContentType: "application/json",
          }),
        ),
      ),
    );
  };
  const logStreams = async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: EU.jobs.pi.logGroupName }));
    const lines: Record<string, string[]> = {
      [SUCCEEDED]: [
        `pi: run ${SUCCEEDED}, 295 s on 2 worker thread(s)`,
        "pi: 512,000 digits in 295 s (planned)",
      ],
      [FAILED]: [
        `pi: run ${FAILED}, 295 s on 2 worker thread(s)`,
        "pi: failed: AccessDenied writing results",
      ],
    };
    await Promise.all(
      Object.entries(lines).map(async ([stream, messages]) => {
        await logs.send(
          new CreateLogStreamCommand({
            logGroupName: EU.jobs.pi.logGroupName,
            logStreamName: stream,
          }),
        );
        const start = (stream === FAILED ? FAILED_AT : SUCCEEDED_AT).getTime() + 60_000;
        await logs.send(
          new PutLogEventsCommand({
            logGroupName: EU.jobs.pi.logGroupName,
            logStreamName: stream,
            logEvents: messages.map((message, i) => ({ timestamp: start + i * 1000, message })),
          }),
        );
      }),
    );
  };
  await Promise.all([buckets(), logStreams()]);
}

describe("the compiled CLIs against moto", function () {
  this.timeout(120000);
  let env: NodeJS.ProcessEnv;
  let endpoints: LocalEndpoints;
  let pulumi: ReturnType<typeof fakePulumi>;
  let ec2: Ec2Stub;
  let lambda: Awaited<ReturnType<typeof startLambdaStub>>;
  let pricing: Awaited<ReturnType<typeof startPricingStub>>;
  let ec2Mode: "launch" | "no-capacity" | "busy" = "launch";
  let processes: ReturnType<typeof startProcesses>;

  /** Starts every process run of this file; each test awaits the one it asserts. */
  function startProcesses() {
    const start = (name: string, args: string[], extra: NodeJS.ProcessEnv = {}) => {
      const run = runCli(name, args, { ...env, ...extra });
      // Handled where a test awaits it; until then a failure is no unhandled rejection.
      run.catch(() => undefined);
      return run;
    };
    return {
      help: start("runs", ["--help"]),
      badInterval: start("logs", ["--stack", "dev", "--interval", "0", FAILED]),
      noPulumi: start("runs", ["--stack", "dev"], { PATH: "/nonexistent" }),
      unknownStack: start("runs", ["--stack", "staging"]),
      advice: start("runs", ["--stack", "dev", "--region", "eu-west-1", "--job", "pi"]),
      failedLog: start("logs", ["--stack", "dev", "--no-follow", FAILED]),
      launched: start("launch", [
        "--stack",
        "dev",
        "--region",
        "eu-west-1",
        "--job",
        "pi",
        "--at",
        "2026-11-23T10:15:00Z",
      ]),
    };
  }

  /** Before a test changes what the processes see (moto's instances, the EC2 stub's mode). */
  async function processesEnded(): Promise<void> {
    await Promise.allSettled(Object.values(processes));
  }

  before(async () => {
    // The init script runs under bash while moto starts.
    const records = Promise.all([
      recordOf(SUCCEEDED, iso(SUCCEEDED_AT), 0),
      recordOf(FAILED, iso(FAILED_AT), 3),
    ]);
    records.catch(() => undefined);
    const [moto] = await Promise.all([startMoto(), Promise.resolve(compileCli())]);
    await resetMoto();
    pulumi = fakePulumi("dev", OUTPUTS);
    // moto loads its EC2 backend on the first EC2 request (about 2 s): here, while S3 and
    // CloudWatch Logs are seeded, rather than in the first tool that lists live runs.
    const ec2Loaded = new EC2Client({ ...MOTO_CLIENT_CONFIG, endpoint: moto }).send(
      new DescribeInstancesCommand({}),
    );
    await Promise.all([seedMoto(moto, await records), ec2Loaded]);

    ec2 = await startEc2Stub(({ action, params }) => {
      if (action === "DescribeInstances") {
        return {
          body: ec2Xml.describeInstances(
            ec2Mode === "busy"
              ? [
                  {
                    instanceId: "i-0busy",
                    instanceType: "t3.medium",
                    availabilityZone: "eu-west-1a",
                    state: "running",
                    tags: {
                      "transient-jobs:project": "transient-jobs",
                      "transient-jobs:environment": "dev",
                      "transient-jobs:job": "pi",
                      "transient-jobs:run-id": "pi-20261123T1000Z",
                      "transient-jobs:deadline": "2026-11-23T10:20:00Z",
                    },
                  },
                ]
              : [],
          ),
        };
      }
      if (action === "RunInstances" && ec2Mode === "no-capacity") {
        return {
          status: 500,
          body: ec2Xml.error("InsufficientInstanceCapacity", "no t3.medium now"),
        };
      }
      if (action === "RunInstances") {
        return {
          body: ec2Xml.runInstances({
            instanceId: "i-0cli",
            instanceType: params.InstanceType,
            availabilityZone: "eu-west-1b",
          }),
        };
      }
      return { status: 400, body: ec2Xml.error("InvalidAction", action) };
    });
    const client = new EC2Client({ ...MOTO_CLIENT_CONFIG, endpoint: ec2.endpoint, maxAttempts: 1 });
    const spec = specFixture({
      bucket: EU.bucketName,
      logGroup: EU.jobs.pi.logGroupName,
      instanceTypes: ["t3.medium"],
      subnetIds: ["subnet-aaaa"],
      maxRuntimeMinutes: 20,
      volumeGiB: 30,
    });
    lambda = await startLambdaStub(async ({ event }) => {
      try {
        return {
          payload: await handleLaunchEvent(event, {
            ec2: client,
            jobs: { pi: spec },
            log: () => undefined,
            sleep: async () => undefined,
          }),
        };
      } catch (error) {
        const { name, message } = error as Error;
        return { payload: { errorType: name, errorMessage: message }, functionError: "Unhandled" };
      }
    });

    pricing = await startPricingStub();
    env = {
      PATH: `${pulumi.dir}:${process.env.PATH}`,
      AWS_ENDPOINT_URL: moto,
      AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
      AWS_ENDPOINT_URL_PRICING: pricing.endpoint,
    };
    endpoints = { moto, lambda: lambda.endpoint, pricing: pricing.endpoint };
    processes = startProcesses();
  });

  after(async () => {
    if (processes) await processesEnded();
    pulumi?.remove();
    await ec2?.close();
    await lambda?.close();
    await pricing?.close();
    removeCompiledCli();
  });

  const inProcess = (main: Main, ...args: string[]): Promise<CliRun> =>
    runInProcess(main, args, endpoints);

  /** What `--help` prints: the usage line, the --stack flag, the exit statuses; nothing on stderr. */
  function assertHelp(name: string, run: CliRun): void {
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^usage: npm run ${name} -- `));
    assert.match(run.stdout, /\n {2}--stack <stack> +Pulumi stack/);
    assert.match(run.stdout, /\nexit status: 0 /);
    assert.equal(run.stderr, "");
  }

  it("runs --help prints its usage and exits 0", async () => {
    assertHelp("runs", await processes.help);
  });

  for (const [name, main] of [
    ["launch", launchMain],
    ["logs", logsMain],
  ] as const) {
    it(`${name} --help prints its usage and exits 0 (in-process)`, async () => {
      assertHelp(name, await inProcess(main, "--help"));
    });
  }

  it(`logs --stack dev --interval 0 <run-id> exits 2 and names the flag`, async () => {
    assert.deepEqual(await processes.badInterval, {
      status: 2,
      stdout: "",
      stderr: `error: --interval: "0" is not a whole number from 1 to 300; see npm run logs -- --help\n`,
    });
  });

  const badFlags: [string, Main, string[], string][] = [
    [
      "runs",
      runsMain,
      ["--stack", "dev", "--last", "0"],
      `error: --last: "0" is not a whole number from 1 to 10000; see npm run runs -- --help\n`,
    ],
    [
      "launch",
      launchMain,
      ["--stack", "dev", "--job", "pi", "--region", "mars"],
      `error: --region: "mars" is not an AWS region such as eu-west-1; see npm run launch -- --help\n`,
    ],
    ["logs", logsMain, ["--stack", "dev"], "error: missing <run-id>; see npm run logs -- --help\n"],
  ];
  for (const [name, main, args, message] of badFlags) {
    it(`${name} ${args.join(" ")} exits 2 and names the flag (in-process)`, async () => {
      assert.deepEqual(await inProcess(main, ...args), { status: 2, stdout: "", stderr: message });
    });
  }

  it("exits 1 and says how to fix it when Pulumi is missing or the stack is unknown", async () => {
    const missing = await processes.noPulumi;
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^error: the pulumi CLI is not on PATH; install it/);
    const unknown = await processes.unknownStack;
    assert.deepEqual(unknown, {
      status: 1,
      stdout: "",
      stderr:
        "error: pulumi stack output --json --stack staging failed (exit 255): error: no stack named 'staging' found\n",
    });
  });

  it("runs: says so when a region has no history yet", async () => {
    const run = await inProcess(runsMain, "--stack", "dev", "--region", "us-east-1");
    assert.equal(run.status, 0, run.stderr);
    assert.equal(
      run.stdout,
      "No runs recorded (stack dev, region us-east-1). A run writes its record when it ends; start one with:\n  npm run launch -- --stack dev --job pi\n",
    );
  });

  it("runs: lists the recorded runs newest first, with costs summed per region and month", async () => {
    const run = await inProcess(runsMain, "--stack", "dev");
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.split("\n");
    assert.equal(
      lines[0],
      "Runs of stack dev, regions eu-west-1, us-east-1: 2 shown, newest first",
    );
    assert.match(
      lines[1],
      /^RUN ID +REGION +SCHEDULED \(UTC\) +STATUS +ATTEMPTS +TYPE +MARKET +DURATION +EST\. COST$/,
    );
    assert.match(
      lines[2],
      new RegExp(
        `^${FAILED} +eu-west-1 +${day(FAILED_AT)} 06:00 +failed +1 +m7i\\.large +on-demand +\\d+s +\\$0\\.00\\d\\d$`,
      ),
    );
    assert.match(
      lines[3],
      new RegExp(
        `^${SUCCEEDED} +eu-west-1 +${day(SUCCEEDED_AT)} 06:00 +succeeded +1 +m7i\\.large +on-demand +\\d+s +\\$0\\.00\\d\\d$`,
      ),
    );
    // Both runs in one month, or one each when the last two days straddle a month's end.
    for (const month of new Set([FAILED_AT, SUCCEEDED_AT].map((d) => day(d).slice(0, 7)))) {
      assert.match(
        run.stdout,
        new RegExp(`\\n${month} +eu-west-1 +[12] +[01] +[01] +\\$0\\.00\\d\\d\\n`),
      );
    }

    const json = await inProcess(runsMain, "--stack", "dev", "--json");
    const parsed = JSON.parse(json.stdout);
    assert.deepEqual(
      parsed.runs.map((r: { runId: string; status: string }) => [r.runId, r.status]),
      [
        [FAILED, "failed"],
        [SUCCEEDED, "succeeded"],
      ],
    );
    const total = parsed.runs.reduce(
      (sum: number, r: { estimatedCostUsd: number }) => sum + r.estimatedCostUsd,
      0,
    );
    const summed = parsed.costs.reduce(
      (sum: number, c: { estimatedCostUsd: number }) => sum + c.estimatedCostUsd,
      0,
    );
    assert.equal(Math.round(summed * 1e6), Math.round(total * 1e6));
    assert.ok(total > 0);
  });

  it("runs --job: ends with right-size advice from EC2 (moto) and the Price List", async () => {
    const run = await processes.advice;
    assert.equal(run.status, 0, run.stderr);
    // The demo uses both vCPUs and little memory: nothing smaller has its two vCPUs.
    assert.equal(
      run.stdout.trimEnd().split("\n").at(-1),
      "Right-size advice for job pi in eu-west-1: peak memory 4% and p95 CPU 100% of m7i.large (8.0 GiB, 2 vCPUs) over the last 2 runs: m7i.large is the cheapest m7i type that fits",
    );
    // Every m7i type moto's EC2 describes was priced through the Price List.
    assert.ok(
      pricing.asked.includes("AWSPriceListService.GetProducts m7i.large"),
      String(pricing.asked),
    );
    assert.ok(pricing.asked.includes("AWSPriceListService.GetProducts m7i.8xlarge"));
  });

  it("runs show: prints a failed run with its exit code and log location", async () => {
    const run = await inProcess(runsMain, "--stack", "dev", "show", FAILED);
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(`^Run ${FAILED} \\(job pi, stack dev, region eu-west-1\\)\\n`),
    );
    assert.match(run.stdout, /\n {2}status +failed \(phase finished, exit code 3\)\n/);
    assert.match(run.stdout, /\n {2}message +the job exited with status 3\n/);
    assert.match(
      run.stdout,
      /\n {2}instance +i-0123456789abcdef0 m7i\.large on-demand in eu-west-1b\n/,
    );
    assert.match(
      run.stdout,
      new RegExp(
        `\\n  logs +group ${EU.jobs.pi.logGroupName}, stream ${FAILED}\\n +npm run logs -- --stack dev ${FAILED}\\n`,
      ),
    );
    // The demo job's figures, sampled by the init script under stubs.
    assert.match(
      run.stdout,
      /\n {2}memory +peak 311\.9 MiB \(4\.06%\), mean 177\.9 MiB \(2\.31%\) of 7\.5 GiB; not OOM-killed\n {2}cpu +mean 80\.71%, p95 99\.95% of 2 vCPUs; 5 sample\(s\), one every 5 s or so\n/,
    );
    const missing = await inProcess(runsMain, "--stack", "dev", "show", "pi-20201125T0600Z");
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^error: no run record for pi-20201125T0600Z in s3:\/\//);
  });

  it("runs: lists a live instance of the stack (moto's EC2, by its tags) and a run between attempts (moto's S3)", async () => {
    await processesEnded();
    const endpoint = endpoints.moto;
    const ec2Moto = new EC2Client({ ...MOTO_CLIENT_CONFIG, endpoint });
    const s3Moto = new S3Client({ ...MOTO_CLIENT_CONFIG, endpoint, forcePathStyle: true });
    const image = (await ec2Moto.send(new DescribeImagesCommand({}))).Images?.[0]?.ImageId;
    assert.ok(image, "moto has no AMI");
    const liveRun = runIdFor("pi", new Date(Date.now() - 600_000));
    const deadline = iso(new Date(Date.now() + 3_600_000));
    const launch = (environment: string) =>
      ec2Moto.send(
        new RunInstancesCommand({
          ImageId: image,
          InstanceType: "t3.medium",
          MinCount: 1,
          MaxCount: 1,
          TagSpecifications: [
            {
              ResourceType: "instance",
              Tags: Object.entries({
                "transient-jobs:project": "transient-jobs",
                "transient-jobs:environment": environment,
                "transient-jobs:job": "pi",
                "transient-jobs:run-id": liveRun,
                "transient-jobs:attempt": "2",
                "transient-jobs:deadline": deadline,
              }).map(([Key, Value]) => ({ Key, Value })),
            },
          ],
        }),
      );
    const ids = [
      (await launch("dev")).Instances?.[0]?.InstanceId ?? "",
      // Another stack's instance of a job of the same name: not this stack's run.
      (await launch("prod")).Instances?.[0]?.InstanceId ?? "",
    ];
    const retrying = runIdFor("pi", new Date(Date.now() - 1_200_000));
    await s3Moto.send(
      new PutObjectCommand({
        Bucket: EU.bucketName,
        Key: `jobs/pi/runs/${retrying}/attempt-1.json`,
        Body: JSON.stringify({
          runId: retrying,
          job: "pi",
          status: "lost",
          attempt: 1,
          instanceType: "t3.medium",
          purchaseOption: "spot",
        }),
      }),
    );
    try {
      const run = await inProcess(runsMain, "--stack", "dev", "--region", "eu-west-1");
      assert.equal(run.status, 0, run.stderr);
      const lines = run.stdout.split("\n");
      assert.equal(lines[0], "Runs under way (stack dev, region eu-west-1): 1 live, 1 retrying");
      assert.match(
        lines[2],
        new RegExp(
          `^${liveRun} +eu-west-1 +running +2 +t3\\.medium +on-demand +\\d+s +${deadline.slice(0, 10)} ${deadline.slice(11, 16)} \\(in (59m \\d\\ds|1h 00m)\\)$`,
        ),
      );
      assert.match(
        lines[3],
        new RegExp(`^${retrying} +eu-west-1 +retrying +1 lost +t3\\.medium +spot +- +-$`),
      );
      assert.equal(lines[5], "Runs of stack dev, region eu-west-1: 2 shown, newest first");
    } finally {
      await ec2Moto.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    }
  });

  it("logs: prints a failed run's log and exits 1 with its outcome", async () => {
    const run = await processes.failedLog;
    assert.equal(run.status, 1);
    const at = (s: number) => iso(new Date(FAILED_AT.getTime() + 60_000 + s * 1000));
    assert.equal(
      run.stdout,
      `${at(0)}  pi: run ${FAILED}, 295 s on 2 worker thread(s)\n${at(1)}  pi: failed: AccessDenied writing results\n`,
    );
    assert.equal(
      run.stderr,
      `${EU.jobs.pi.logGroupName} (eu-west-1), stream ${FAILED}:\nrun ${FAILED} failed during finished: the job exited with status 3\n`,
    );
  });

  it("logs: follows a run until its record says it ended, and exits 0 for a success", async () => {
    const run = await inProcess(logsMain, "--stack", "dev", "--region", "eu-west-1", SUCCEEDED);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /pi: 512,000 digits in 295 s \(planned\)\n$/);
    assert.match(
      run.stderr,
      new RegExp(`\\nrun ${SUCCEEDED} succeeded: the job exited with status 0\\n$`),
    );
  });

  it("launch: runs the job through the launcher and prints the run id and how to follow it", async () => {
    const run = await processes.launched;
    assert.equal(run.status, 0, run.stderr);
    // The only invocation so far: the in-process launches wait for every process to end.
    const requestedTime = String(
      (lambda.invocations[0]?.event as { requestedTime?: unknown })?.requestedTime,
    );
    // An old --at still gets its full runtime: the deadline counts from the request (now).
    assert.ok(Math.abs(Date.parse(requestedTime) - Date.now()) < 60000, requestedTime);
    assert.deepEqual(lambda.invocations, [
      {
        functionName: EU.launcherFunctionName,
        event: { job: "pi", scheduledTime: "2026-11-23T10:15:00Z", manual: true, requestedTime },
      },
    ]);
    assert.match(
      run.stdout,
      /^Launched pi-20261123T1015Z \(job pi, stack dev, region eu-west-1\)\n/,
    );
    assert.match(
      run.stdout,
      /\n {2}instance {3}i-0cli t3\.medium on-demand in eu-west-1b \(1 attempt\)\n/,
    );
    assert.match(run.stdout, /\nFollow it: {3}npm run logs -- --stack dev pi-20261123T1015Z\n/);
  });

  it("launch: exits 3 when the concurrency policy skips, 1 when nothing could be launched", async () => {
    await processesEnded();
    ec2Mode = "busy";
    const piInEu = ["--stack", "dev", "--region", "eu-west-1", "--job", "pi"];
    const skipped = await inProcess(launchMain, ...piInEu);
    assert.equal(skipped.status, 3, skipped.stderr);
    assert.match(
      skipped.stdout,
      /^Skipped pi-\d{8}T\d{4}Z: concurrencyPolicy forbid: run pi-20261123T1000Z \(i-0busy, running/,
    );

    ec2Mode = "no-capacity";
    const failed = await inProcess(launchMain, ...piInEu, "--json");
    assert.equal(failed.status, 1);
    const answer = JSON.parse(failed.stdout);
    assert.equal(answer.status, "error");
    assert.equal(answer.errorType, "LaunchFailedError");
    assert.match(answer.errorMessage, /was not launched: no capacity/);
  });
});
