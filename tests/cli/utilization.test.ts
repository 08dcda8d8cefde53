/**
 * `npm run runs` on runs' utilization, in-process: a run's memory and CPU in `show`, and the
 * right-size advice that ends `--job` listings, with S3, EC2 (DescribeInstanceTypes) and the
 * Price List (GetProducts) answered by aws-sdk-client-mock, so each request is asserted exactly.
 */
import * as assert from "node:assert/strict";
import {
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import {
  GetProductsCommand,
  PricingClient,
  PricingServiceException,
} from "@aws-sdk/client-pricing";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { runMain } from "../../cli/io";
import { main as runs, utilizationRows } from "../../cli/runs";
import { INSTANCE_PRODUCT_ATTRIBUTES } from "../../lib/priceList";
import { unmeasuredUtilization } from "../../launcher/utilization";
import { memoryDeps, objectBody as body, OUTPUTS } from "./support";

let s3: AwsClientStub<S3Client>;
let ec2: AwsClientStub<EC2Client>;
let pricing: AwsClientStub<PricingClient>;

const EU = OUTPUTS.regions["eu-west-1"];
const GiB = 1024 ** 3;

/** A run of the demo job on a t3.medium (2 vCPUs, 4 GiB; Docker sees 3.8 GiB). */
function run(day: number, utilization: Record<string, unknown> | null) {
  return {
    runId: `pi-202611${day}T0600Z`,
    job: "pi",
    environment: "dev",
    region: "eu-west-1",
    status: "succeeded",
    phase: "finished",
    exitCode: 0,
    message: "the job exited with status 0",
    scheduledTime: `2026-11-${day}T06:00:00Z`,
    durationSeconds: 3540,
    instanceType: "t3.medium",
    purchaseOption: "on-demand",
    estimatedCostUsd: 0.0456,
    logGroup: EU.jobs.pi.logGroupName,
    logStream: `pi-202611${day}T0600Z`,
    utilization,
  };
}

const MEASURED = {
  samples: 708,
  intervalSeconds: 5,
  instanceMemoryBytes: 4080218931,
  instanceVcpus: 2,
  peakMemoryBytes: Math.round(0.6 * GiB),
  meanMemoryBytes: Math.round(0.4 * GiB),
  peakMemoryPercent: 15.79,
  meanMemoryPercent: 10.52,
  meanCpuPercent: 31.5,
  p95CpuPercent: 40,
  oomKilled: false,
};

/** The t3 family as DescribeInstanceTypes answers (two pages), and its eu-west-1 prices. */
const T3 = [
  ["t3.nano", 2, 512, "0.0057000000"],
  ["t3.micro", 2, 1024, "0.0114000000"],
  ["t3.small", 2, 2048, "0.0228000000"],
  ["t3.medium", 2, 4096, "0.0456000000"],
  ["t3.large", 2, 8192, "0.0912000000"],
] as const;

/** A Price List product as GetProducts returns it (one JSON string per product). */
function product(type: string, usd: string): string {
  const sku = `SKU${type}`;
  return JSON.stringify({
    product: {
      productFamily: "Compute Instance",
      attributes: { ...INSTANCE_PRODUCT_ATTRIBUTES, instanceType: type, regionCode: "eu-west-1" },
      sku,
    },
    serviceCode: "AmazonEC2",
    terms: {
      OnDemand: {
        [sku]: {
          [`${sku}.JRTCKXETXF`]: {
            priceDimensions: {
              [`${sku}.JRTCKXETXF.6YS6EN2CT7`]: { unit: "Hrs", pricePerUnit: { USD: usd } },
            },
          },
        },
      },
    },
  });
}

function answerEc2AndPricing(): void {
  ec2
    .on(DescribeInstanceTypesCommand)
    .resolvesOnce({
      InstanceTypes: T3.slice(0, 3).map(([type, vcpus, mib]) => ({
        InstanceType: type,
        VCpuInfo: { DefaultVCpus: vcpus },
        MemoryInfo: { SizeInMiB: mib },
      })),
      NextToken: "page-2",
    } as never)
    .resolvesOnce({
      InstanceTypes: T3.slice(3).map(([type, vcpus, mib]) => ({
        InstanceType: type,
        VCpuInfo: { DefaultVCpus: vcpus },
        MemoryInfo: { SizeInMiB: mib },
      })),
    } as never);
  for (const [type, , , usd] of T3) {
    pricing
      .on(GetProductsCommand, {
        Filters: [
          { Type: "TERM_MATCH", Field: "regionCode", Value: "eu-west-1" },
          { Type: "TERM_MATCH", Field: "instanceType", Value: type },
          ...Object.entries(INSTANCE_PRODUCT_ATTRIBUTES).map(([Field, Value]) => ({
            Type: "TERM_MATCH" as const,
            Field,
            Value,
          })),
        ],
      })
      .resolves({ PriceList: [product(type, usd)] });
  }
}

function listing(records: Array<ReturnType<typeof run>>): void {
  s3.on(ListObjectsV2Command).resolves({ Contents: [] });
  s3.on(ListObjectsV2Command, { Bucket: EU.bucketName, Prefix: "jobs/pi/runs/" }).resolves({
    Contents: records.map((r) => ({ Key: `jobs/pi/runs/${r.runId}.json` })),
  });
  for (const record of records) {
    s3.on(GetObjectCommand, { Key: `jobs/pi/runs/${record.runId}.json` }).resolves(body(record));
  }
}

describe("npm run runs: utilization and right-size advice", () => {
  before(() => {
    s3 = mockClient(S3Client);
    ec2 = mockClient(EC2Client);
    pricing = mockClient(PricingClient);
  });
  after(() => [s3, ec2, pricing].forEach((m) => m.restore()));
  beforeEach(() => {
    [s3, ec2, pricing].forEach((m) => m.reset());
    // The live-run lookup of every listing: no instance is alive.
    ec2.on(DescribeInstancesCommand).resolves({});
  });

  it("shows a run's memory and CPU", async () => {
    s3.on(GetObjectCommand, { Bucket: EU.bucketName }).resolves(body(run(23, MEASURED)));
    const world = memoryDeps();
    const argv = ["--stack", "dev", "--region", "eu-west-1", "show", "pi-20261123T0600Z"];
    assert.equal(await runMain(runs, argv, world.deps), 0, world.stderr());
    const lines = world.stdout().split("\n");
    assert.deepEqual(
      lines.filter((l) => /^ {2}(memory|cpu) /.test(l)),
      [
        "  memory          peak 614.4 MiB (15.79%), mean 409.6 MiB (10.52%) of 3.8 GiB; not OOM-killed",
        "  cpu             mean 31.5%, p95 40% of 2 vCPUs; 708 sample(s), one every 5 s or so",
      ],
    );
  });

  it("says what it could not measure, and an OOM kill", () => {
    assert.deepEqual(
      utilizationRows({
        ...unmeasuredUtilization(),
        instanceMemoryBytes: 4080218931,
        oomKilled: true,
      }),
      [
        ["memory", "not sampled; OOM-killed"],
        ["cpu", "not sampled; 0 sample(s), one every 5 s or so"],
      ],
    );
  });

  it("ends a job's listing with advice from EC2's instance types and the Price List", async () => {
    listing([run(24, MEASURED), run(23, MEASURED), run(22, null)]);
    answerEc2AndPricing();
    const world = memoryDeps();
    const argv = ["--stack", "dev", "--region", "eu-west-1", "--job", "pi"];
    assert.equal(await runMain(runs, argv, world.deps), 0, world.stderr());
    assert.deepEqual(
      ec2.commandCalls(DescribeInstanceTypesCommand).map((c) => c.args[0].input),
      [
        { Filters: [{ Name: "instance-type", Values: ["t3.*"] }] },
        { Filters: [{ Name: "instance-type", Values: ["t3.*"] }], NextToken: "page-2" },
      ],
    );
    assert.deepEqual(
      pricing
        .commandCalls(GetProductsCommand)
        .map((c) => [c.args[0].input.ServiceCode, c.args[0].input.Filters?.[1].Value])
        .sort(),
      T3.map(([type]) => ["AmazonEC2", type]).sort(),
    );
    const out = world.stdout().split("\n");
    assert.equal(
      out.at(-1),
      // 0.6 GiB peak needs 0.75 GiB at 80 %; 0.8 vCPUs at p95 needs 1: t3.micro; 3540 s + 60 s.
      "Right-size advice for job pi in eu-west-1: peak memory 15% and p95 CPU 40% of t3.medium (4.0 GiB, 2 vCPUs) over the last 2 runs: t3.micro (1.0 GiB, 2 vCPUs) would fit (est. $0.0114 per run instead of $0.0456 on demand)",
    );
    assert.equal(out.at(-2), "");
  });

  it("gives the advice in --json too", async () => {
    listing([run(24, MEASURED)]);
    answerEc2AndPricing();
    const world = memoryDeps();
    const argv = ["--stack", "dev", "--region", "eu-west-1", "--job", "pi", "--json"];
    assert.equal(await runMain(runs, argv, world.deps), 0, world.stderr());
    const [advice] = JSON.parse(world.stdout()).advice;
    assert.equal(advice.region, "eu-west-1");
    assert.deepEqual(
      [advice.advice.kind, advice.advice.current, advice.advice.suggested, advice.advice.usdPerRun],
      ["smaller", "t3.medium", "t3.micro", 0.0114],
    );
  });

  it("still lists the runs when the Price List may not be read, and says why there is no advice", async () => {
    listing([run(24, MEASURED)]);
    answerEc2AndPricing();
    pricing.on(GetProductsCommand).rejects(
      new PricingServiceException({
        name: "AccessDeniedException",
        $fault: "client",
        $metadata: { httpStatusCode: 403 },
        message: "User is not authorized to perform: pricing:GetProducts",
      }),
    );
    const world = memoryDeps();
    const argv = ["--stack", "dev", "--region", "eu-west-1", "--job", "pi"];
    assert.equal(await runMain(runs, argv, world.deps), 0, world.stderr());
    assert.match(world.stdout(), /^Runs of stack dev, region eu-west-1, job pi: 1 shown/);
    assert.equal(
      world.stdout().split("\n").at(-1),
      "Right-size advice for job pi in eu-west-1: no advice: AccessDeniedException: User is not authorized to perform: pricing:GetProducts",
    );
  });

  it("asks EC2 about no instance type for runs without figures, and gives no advice without --job", async () => {
    listing([run(24, null)]);
    const world = memoryDeps();
    assert.equal(
      await runMain(runs, ["--stack", "dev", "--region", "eu-west-1", "--job", "pi"], world.deps),
      0,
    );
    assert.match(world.stdout(), /no advice: none of these runs has memory and CPU figures/);
    assert.equal(ec2.commandCalls(DescribeInstanceTypesCommand).length + pricing.calls().length, 0);
    const plain = memoryDeps();
    listing([run(24, MEASURED)]);
    assert.equal(await runMain(runs, ["--stack", "dev", "--region", "eu-west-1"], plain.deps), 0);
    assert.doesNotMatch(plain.stdout(), /Right-size/);
    assert.equal(ec2.commandCalls(DescribeInstanceTypesCommand).length, 0);
  });
});
