/**
 * The launcher's prices and placement: spot prices read at launch (DescribeSpotPriceHistory),
 * on-demand and gp3 prices from the spec (the Price List at deploy time), and the subnets EC2
 * offers each type in. A price that cannot be found never stops a launch.
 */
import * as assert from "node:assert/strict";
import {
  CreateLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeSpotPriceHistoryCommand,
  DescribeSubnetsCommand,
  EC2Client,
  RunInstancesCommand,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { attemptInputs, renderInitScript, decodeUserData } from "../../launcher/initScript";
import {
  launchRun,
  planLaunchOptions,
  SPOT_PRICE_BUDGET_MS,
  type LaunchResult,
} from "../../launcher/launch";
import { hourlyPriceTable } from "../../launcher/prices";
import type { JobLaunchSpec } from "../../launcher/contract";
import { ec2Error, NOW, PRICES_FIXTURE, SCHEDULED, specFixture } from "../../testing/fixtures";
import { MOTO_CLIENT_CONFIG, resetMoto, startMoto } from "../../testing/moto";

const ec2 = new EC2Client({ region: "eu-west-1" });
const ec2Mock = mockClient(ec2);

const ZONES = { "subnet-aaaa": "eu-west-1a", "subnet-bbbb": "eu-west-1b" };

/** A spot-then-on-demand spec with every price the deploy-time lookups give. */
function pricedSpec(overrides: Partial<JobLaunchSpec> = {}): JobLaunchSpec {
  return specFixture({
    purchaseOption: "spot-then-on-demand",
    volumeGiB: 30,
    onDemandUsdPerHour: { ...PRICES_FIXTURE.onDemandUsdPerHour },
    volumeUsdPerGiBMonth: PRICES_FIXTURE.volumeUsdPerGiBMonth,
    subnetZones: ZONES,
    ...overrides,
  });
}

const spot = (type: string, zone: string, usd: string, time = "2026-11-23T02:00:00Z") => ({
  InstanceType: type as never,
  AvailabilityZone: zone,
  SpotPrice: usd,
  Timestamp: new Date(time),
  ProductDescription: "Linux/UNIX" as never,
});

function launch(spec: JobLaunchSpec): Promise<LaunchResult> {
  return launchRun(
    ec2,
    { spec, scheduledTime: SCHEDULED },
    {
      now: () => NOW,
      remainingTimeMs: () => 100000,
      sleep: async () => undefined,
      random: () => 0.5,
      log: () => undefined,
    },
  );
}

/** The init script of the first RunInstances call. */
function firstUserData(): string {
  const input = ec2Mock.commandCalls(RunInstancesCommand)[0].args[0].input;
  return decodeUserData(input.UserData ?? "");
}

function expectedScript(spec: JobLaunchSpec, spotUsdPerHour: Record<string, number>): string {
  const table = hourlyPriceTable(
    {
      onDemandUsdPerHour: spec.onDemandUsdPerHour,
      spotUsdPerHour,
      volumeUsdPerGiBMonth: spec.volumeUsdPerGiBMonth,
    },
    spec.instanceTypes,
    spec.volumeGiB!,
  );
  return renderInitScript({
    ...spec,
    runId: "pi-20261123T0300Z",
    ...attemptInputs(spec, "pi-20261123T0300Z", 1),
    scheduledTime: "2026-11-23T03:00:00Z",
    deadlineMinutes: spec.maxRuntimeMinutes,
    instancePrices: table.instances,
    volumeMicroUsdPerHour: table.volumeMicroUsdPerHour,
  });
}

describe("launchRun: prices", () => {
  beforeEach(() => {
    ec2Mock.reset();
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).callsFake((input: RunInstancesCommandInput) => ({
      Instances: [
        {
          InstanceId: "i-0new",
          InstanceType: input.InstanceType,
          Placement: { AvailabilityZone: "eu-west-1a" },
        },
      ],
    }));
  });

  it("reads the spot price in effect at the scheduled time and hands it to the init script", async () => {
    const spec = pricedSpec();
    ec2Mock.on(DescribeSpotPriceHistoryCommand).resolves({
      SpotPriceHistory: [
        spot("m7i.large", "eu-west-1a", "0.0420"),
        spot("m7i.large", "eu-west-1b", "0.0450"),
        spot("m7i.large", "eu-west-1c", "0.0990"), // no subnet there: not its estimate
        spot("m6i.large", "eu-west-1a", "0.0400"),
      ],
    });
    const result = await launch(spec);
    assert.equal(result.status, "launched");
    // Same request in every invocation of the run: the price as of its scheduled time.
    assert.deepEqual(
      ec2Mock.commandCalls(DescribeSpotPriceHistoryCommand).map((c) => c.args[0].input),
      [
        {
          InstanceTypes: ["m7i.large", "m6i.large"],
          ProductDescriptions: ["Linux/UNIX", "Linux/UNIX (Amazon VPC)"],
          StartTime: SCHEDULED,
          EndTime: SCHEDULED,
          MaxResults: 1000,
        },
      ],
    );
    assert.equal(firstUserData(), expectedScript(spec, { "m7i.large": 0.045, "m6i.large": 0.04 }));
    assert.match(firstUserData(), /'m7i\.large\/spot'\) printf '%s' 45000 ;;/);
    assert.match(firstUserData(), /'m7i\.large\/on-demand'\) printf '%s' 112350 ;;/);
    assert.deepEqual(result.status === "launched" && result.warnings, []);
    // The launched spot instance's price, for the notification.
    assert.equal(result.status === "launched" && result.usdPerHour, 0.045);
  });

  for (const [title, answer] of [
    [
      "AccessDenied",
      () =>
        ec2Mock
          .on(DescribeSpotPriceHistoryCommand)
          .rejects(
            ec2Error(
              "UnauthorizedOperation",
              "You are not authorized to perform: ec2:DescribeSpotPriceHistory",
            ),
          ),
    ],
    [
      "an empty history",
      () => ec2Mock.on(DescribeSpotPriceHistoryCommand).resolves({ SpotPriceHistory: [] }),
    ],
  ] as const) {
    it(`launches with no spot estimate and a warning after ${title}`, async () => {
      const spec = pricedSpec();
      answer();
      const result = await launch(spec);
      assert.equal(result.status, "launched");
      assert.equal(firstUserData(), expectedScript(spec, {}));
      assert.doesNotMatch(firstUserData(), /\/spot'\)/);
      const warnings = result.status === "launched" ? result.warnings : [];
      assert.equal(warnings.length, 1, warnings.join("\n"));
      assert.match(warnings[0], /^no spot price estimate/);
      assert.match(warnings[0], /record no cost estimate$/);
    });
  }

  it("keeps the launch going when the history is throttled past the budget", async () => {
    const spec = pricedSpec({ purchaseOption: "spot" });
    ec2Mock
      .on(DescribeSpotPriceHistoryCommand)
      .rejects(ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503));
    const result = await launchRun(
      ec2,
      { spec, scheduledTime: SCHEDULED },
      {
        now: () => NOW,
        remainingTimeMs: () => 6000,
        sleep: async () => undefined,
        log: () => undefined,
      },
    );
    assert.equal(result.status, "launched");
    assert.match(result.status === "launched" ? result.warnings[0] : "", /^no spot price estimate/);
  });

  it("reads no spot prices for on-demand jobs, or when no estimate is possible", async () => {
    await launch(pricedSpec({ purchaseOption: "on-demand" }));
    await launch(pricedSpec({ volumeUsdPerGiBMonth: undefined }));
    assert.equal(ec2Mock.commandCalls(DescribeSpotPriceHistoryCommand).length, 0);
  });

  it("prices on-demand runs from the spec, and leaves a type without a price out", async () => {
    const spec = pricedSpec({
      purchaseOption: "on-demand",
      onDemandUsdPerHour: { "m6i.large": 0.107 },
    });
    const result = await launch(spec);
    assert.doesNotMatch(firstUserData(), /m7i\.large\/on-demand/);
    assert.equal(firstUserData(), expectedScript(spec, {}));
    // m7i.large launched, and has no price: no estimate, no made-up figure.
    assert.equal(result.status === "launched" && "usdPerHour" in result, false);
  });
});

describe("launchRun: placement", () => {
  beforeEach(() => {
    ec2Mock.reset();
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  });

  it("never tries a type in a subnet whose zone EC2 does not offer it in", async () => {
    const spec = specFixture({
      instanceTypes: ["m7i.large", "m6i.large"],
      subnetIds: ["subnet-aaaa", "subnet-bbbb"],
      subnetIdsByInstanceType: {
        "m7i.large": ["subnet-bbbb"],
        "m6i.large": ["subnet-aaaa", "subnet-bbbb"],
      },
    });
    assert.deepEqual(
      planLaunchOptions(spec).map((o) => `${o.instanceType}/${o.subnetId}`),
      ["m7i.large/subnet-bbbb", "m6i.large/subnet-aaaa", "m6i.large/subnet-bbbb"],
    );
    ec2Mock
      .on(RunInstancesCommand)
      .rejects(ec2Error("InsufficientInstanceCapacity", "no capacity", 500));
    const result = await launch(spec);
    assert.equal(result.status, "failed");
    assert.deepEqual(
      ec2Mock
        .commandCalls(RunInstancesCommand)
        .map((c) => `${c.args[0].input.InstanceType}/${c.args[0].input.SubnetId}`),
      ["m7i.large/subnet-bbbb", "m6i.large/subnet-aaaa", "m6i.large/subnet-bbbb"],
    );
  });

  it("tries a type the spec has no offerings for in every subnet (older specs)", () => {
    const spec = specFixture({ subnetIdsByInstanceType: { "m6i.large": ["subnet-bbbb"] } });
    assert.deepEqual(
      planLaunchOptions(spec).map((o) => `${o.instanceType}/${o.subnetId}`),
      ["m7i.large/subnet-aaaa", "m7i.large/subnet-bbbb", "m6i.large/subnet-bbbb"],
    );
  });
});

describe("launchRun: spot prices over moto", function () {
  this.timeout(60000);
  let client: EC2Client;

  before(async () => {
    const endpoint = await startMoto();
    await resetMoto();
    client = new EC2Client({ ...MOTO_CLIENT_CONFIG, endpoint });
  });

  it("reads DescribeSpotPriceHistory as the launcher asks it, and prices the spot runs", async () => {
    const subnets = ((await client.send(new DescribeSubnetsCommand({}))).Subnets ?? [])
      .filter((s) => s.DefaultForAz)
      .sort((a, b) => String(a.AvailabilityZone).localeCompare(String(b.AvailabilityZone)))
      .slice(0, 2);
    assert.equal(subnets.length, 2, "moto has no default subnets");
    const image = (await client.send(new DescribeImagesCommand({}))).Images?.[0]?.ImageId;
    const template = await client.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "tj-dev-eu-west-1-pi-prices",
        LaunchTemplateData: { ImageId: image },
      }),
    );
    const spec = pricedSpec({
      purchaseOption: "spot",
      instanceTypes: ["t3.micro"],
      launchTemplateId: template.LaunchTemplate?.LaunchTemplateId ?? "",
      subnetIds: subnets.map((s) => s.SubnetId ?? ""),
      subnetZones: Object.fromEntries(subnets.map((s) => [s.SubnetId, s.AvailabilityZone])),
      onDemandUsdPerHour: { "t3.micro": 0.0114 },
    });
    const result = await launchRun(
      client,
      { spec, scheduledTime: SCHEDULED },
      { now: () => NOW, log: () => undefined },
    );
    assert.equal(result.status, "launched", JSON.stringify(result));
    assert.deepEqual(result.status === "launched" && result.warnings, []);
    // moto quotes every pool at 0.00001 USD: 10 micro-dollars per hour.
    const [reservation] =
      (
        await client.send(
          new DescribeInstancesCommand({
            InstanceIds: [result.status === "launched" ? result.instanceId : ""],
          }),
        )
      ).Reservations ?? [];
    const attribute = await client.send(
      new DescribeInstanceAttributeCommand({
        InstanceId: reservation.Instances?.[0]?.InstanceId,
        Attribute: "userData",
      }),
    );
    const userData = decodeUserData(attribute.UserData?.Value ?? "");
    assert.match(userData, /'t3\.micro\/spot'\) printf '%s' 10 ;;/);
    assert.match(userData, /'t3\.micro\/on-demand'\) printf '%s' 11400 ;;/);
  });
});

describe("launchRun: the spot price lookup's own budget", () => {
  beforeEach(() => {
    ec2Mock.reset();
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).resolves({
      Instances: [{ InstanceId: "i-0new", InstanceType: "m7i.large" }],
    });
  });

  it("gives up on a throttled history after a few seconds, leaving the launch its time", async () => {
    ec2Mock
      .on(DescribeSpotPriceHistoryCommand)
      .rejects(ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503));
    const sleeps: number[] = [];
    const result = await launchRun(
      ec2,
      { spec: pricedSpec({ purchaseOption: "spot" }), scheduledTime: SCHEDULED },
      {
        now: () => NOW,
        remainingTimeMs: () => 100000 - sleeps.reduce((a, b) => a + b, 0),
        sleep: async (ms) => void sleeps.push(ms),
        random: () => 0.5,
        log: () => undefined,
      },
    );
    assert.equal(result.status, "launched");
    const waited = sleeps.reduce((a, b) => a + b, 0);
    assert.ok(waited <= SPOT_PRICE_BUDGET_MS, `waited ${waited} ms for spot prices`);
    assert.ok(ec2Mock.commandCalls(DescribeSpotPriceHistoryCommand).length > 1, "not retried");
  });
});
