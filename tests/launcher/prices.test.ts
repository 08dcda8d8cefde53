import * as assert from "node:assert/strict";
import { jobsForRegion, parseStackConfig, rawConfigFromPulumi } from "../../config";
import {
  estimateRunCost,
  formatUsd,
  hourlyPrice,
  hourlyPriceTable,
  INSTANCE_OVERHEAD_SECONDS,
  PRICE_TABLE_DATE,
  volumeHourlyPrice,
} from "../../launcher/prices";
import { loadStackConfig } from "../../offline/engine";

describe("price table", () => {
  it("is dated", () => {
    assert.match(PRICE_TABLE_DATE, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(!Number.isNaN(Date.parse(PRICE_TABLE_DATE)));
  });

  const hourly: [string, string, "on-demand" | "spot", number | undefined][] = [
    ["eu-west-1", "t3.large", "on-demand", 0.0912],
    ["eu-west-1", "t3.medium", "on-demand", 0.0456],
    ["eu-west-1", "t3.medium", "spot", 0.01824],
    ["us-east-1", "m7i.8xlarge", "on-demand", 1.6128],
    ["us-east-1", "c7g.large", "spot", 0.029],
    ["eu-west-1", "m7i.metal-24xl", "on-demand", undefined],
    ["eu-west-1", "x2idn.large", "on-demand", undefined],
    ["ap-south-2", "t3.medium", "on-demand", undefined],
  ];
  for (const [region, type, market, price] of hourly) {
    it(`prices ${type} ${market} in ${region} at ${price ?? "nothing"}`, () =>
      assert.equal(hourlyPrice(region, type, market), price));
  }

  it("prices gp3 storage per hour", () => {
    assert.equal(volumeHourlyPrice("eu-west-1", 730), (0.088 * 730) / 730);
    assert.equal(volumeHourlyPrice("sa-east-1", 30), undefined);
  });

  it("has both markets for every instance type the dev and prod stacks configure", () => {
    for (const stack of ["dev", "prod"]) {
      const config = parseStackConfig(rawConfigFromPulumi(loadStackConfig(stack)), stack);
      for (const region of config.regions) {
        for (const job of jobsForRegion(config, region)) {
          const table = hourlyPriceTable(region.name, job.instanceTypes, job.volumeGiB);
          for (const type of job.instanceTypes) {
            for (const market of ["on-demand", "spot"]) {
              assert.ok(
                table.instances[`${type}/${market}`] > 0,
                `${stack} ${region.name} ${job.name}: no ${market} price for ${type}; add its family to launcher/prices.ts`,
              );
            }
          }
          assert.ok(table.volumeMicroUsdPerHour! > 0, `${region.name}: no gp3 price`);
        }
      }
    }
  });
});

describe("hourlyPriceTable", () => {
  it("keys micro-dollar prices by type and market, leaving unknown types out", () => {
    assert.deepEqual(hourlyPriceTable("eu-west-1", ["t3.medium", "zz9.large"], 30), {
      instances: { "t3.medium/on-demand": 45600, "t3.medium/spot": 18240 },
      volumeMicroUsdPerHour: 3616,
    });
    assert.deepEqual(hourlyPriceTable("sa-east-1", ["t3.medium"], 30), { instances: {} });
  });
});

describe("estimateRunCost", () => {
  const base = {
    region: "eu-west-1",
    instanceType: "t3.medium",
    market: "on-demand" as const,
    volumeGiB: 30,
  };
  const cases: [string, number, number | undefined][] = [
    // (45600 + 3616) µ$/h × (300 + 60) s / 3600 = 4921.6 µ$, rounded down.
    ["5 minutes", 300, 0.004921],
    // The overhead alone (boot and power-off) already covers the one-minute minimum.
    ["0 seconds", 0, Math.floor((49216 * INSTANCE_OVERHEAD_SECONDS) / 3600) / 1e6],
    ["2 hours", 7200, Math.floor((49216 * 7260) / 3600) / 1e6],
  ];
  for (const [title, durationSeconds, expected] of cases) {
    it(`estimates a run of ${title}`, () =>
      assert.equal(estimateRunCost({ ...base, durationSeconds }), expected));
  }

  it("estimates spot at its share of on-demand", () =>
    assert.equal(
      estimateRunCost({ ...base, market: "spot", durationSeconds: 3540 }),
      (18240 + 3616) / 1e6,
    ));

  it("gives no estimate without a price", () => {
    assert.equal(
      estimateRunCost({ ...base, instanceType: "zz9.large", durationSeconds: 60 }),
      undefined,
    );
    assert.equal(estimateRunCost({ ...base, region: "sa-east-1", durationSeconds: 60 }), undefined);
  });
});

describe("formatUsd", () => {
  for (const [value, text] of [
    [0.004921, "$0.0049"],
    [1.5, "$1.50"],
    [0, "$0.0000"],
    [undefined, "n/a"],
    [null, "n/a"],
  ] as const) {
    it(`writes ${value} as ${text}`, () => assert.equal(formatUsd(value), text));
  }
});
