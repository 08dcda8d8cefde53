import * as assert from "node:assert/strict";
import {
  estimateRunCost,
  formatUsd,
  hourlyPrice,
  hourlyPriceTable,
  INSTANCE_OVERHEAD_SECONDS,
  latestSpotPrices,
  spotEstimate,
  volumeHourlyPrice,
  type RunPrices,
} from "../../launcher/prices";

/** Prices as a launch spec and the spot lookup would give them (USD). */
const PRICES: RunPrices = {
  onDemandUsdPerHour: { "t3.medium": 0.0456 },
  spotUsdPerHour: { "t3.medium": 0.01824 },
  volumeUsdPerGiBMonth: 0.088,
};

describe("hourlyPrice and volumeHourlyPrice", () => {
  it("read the looked-up price of a type and market, and nothing else", () => {
    assert.equal(hourlyPrice(PRICES, "t3.medium", "on-demand"), 0.0456);
    assert.equal(hourlyPrice(PRICES, "t3.medium", "spot"), 0.01824);
    assert.equal(hourlyPrice(PRICES, "t3.large", "on-demand"), undefined);
    assert.equal(hourlyPrice({}, "t3.medium", "spot"), undefined);
    // A price that is not one (NaN, negative) is no price.
    assert.equal(hourlyPrice({ onDemandUsdPerHour: { a: NaN } }, "a", "on-demand"), undefined);
    assert.equal(hourlyPrice({ onDemandUsdPerHour: { a: -1 } }, "a", "on-demand"), undefined);
  });

  it("prices gp3 storage per hour from its GiB-month price", () => {
    assert.equal(volumeHourlyPrice(0.088, 730), 0.088);
    assert.equal(volumeHourlyPrice(undefined, 30), undefined);
  });
});

describe("hourlyPriceTable", () => {
  it("keys micro-dollar prices by type and market, leaving types without a price out", () => {
    assert.deepEqual(hourlyPriceTable(PRICES, ["t3.medium", "zz9.large"], 30), {
      instances: { "t3.medium/on-demand": 45600, "t3.medium/spot": 18240 },
      volumeMicroUsdPerHour: 3616,
    });
    assert.deepEqual(hourlyPriceTable({}, ["t3.medium"], 30), { instances: {} });
  });
});

describe("estimateRunCost", () => {
  const base = { instanceUsdPerHour: 0.0456, volumeUsdPerHour: (0.088 * 30) / 730 };
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

  it("gives no estimate without either price", () => {
    const durationSeconds = 60;
    assert.equal(
      estimateRunCost({ ...base, instanceUsdPerHour: undefined, durationSeconds }),
      undefined,
    );
    assert.equal(
      estimateRunCost({ ...base, volumeUsdPerHour: undefined, durationSeconds }),
      undefined,
    );
  });
});

describe("latestSpotPrices", () => {
  const at = new Date("2026-11-23T03:00:00Z");
  const entry = (
    type: string,
    zone: string,
    usd: string,
    time: string,
    product = "Linux/UNIX",
  ) => ({
    InstanceType: type,
    AvailabilityZone: zone,
    SpotPrice: usd,
    Timestamp: new Date(time),
    ProductDescription: product,
  });

  it("keeps, per type and zone, the last price change not after the run's time", () => {
    assert.deepEqual(
      latestSpotPrices(
        [
          entry("m7i.large", "eu-west-1a", "0.0400", "2026-11-23T01:00:00Z"),
          entry("m7i.large", "eu-west-1a", "0.0420", "2026-11-23T02:30:00Z"),
          // After the run's time: not in effect yet (a later call could see it).
          entry("m7i.large", "eu-west-1a", "0.0900", "2026-11-23T03:00:01Z"),
          entry("m7i.large", "eu-west-1b", "0.0380", "2026-11-22T20:00:00Z"),
          entry(
            "m6i.large",
            "eu-west-1a",
            "0.0350",
            "2026-11-23T00:00:00Z",
            "Linux/UNIX (Amazon VPC)",
          ),
        ],
        at,
      ),
      {
        "m7i.large": { "eu-west-1a": 0.042, "eu-west-1b": 0.038 },
        "m6i.large": { "eu-west-1a": 0.035 },
      },
    );
  });

  it("ignores other products and entries that carry no price", () => {
    assert.deepEqual(
      latestSpotPrices(
        [
          entry("m7i.large", "eu-west-1a", "0.2000", "2026-11-23T01:00:00Z", "Windows"),
          entry("m7i.large", "eu-west-1a", "", "2026-11-23T01:00:00Z"),
          entry("m7i.large", "eu-west-1a", "n/a", "2026-11-23T01:00:00Z"),
          { InstanceType: "m7i.large", SpotPrice: "0.01" },
        ],
        at,
      ),
      {},
    );
  });
});

describe("spotEstimate", () => {
  const pools = { "eu-west-1a": 0.042, "eu-west-1b": 0.038, "eu-west-1c": 0.05 };
  it("takes the highest price of the zones the type may launch in", () => {
    assert.equal(spotEstimate(pools, ["eu-west-1a", "eu-west-1b"]), 0.042);
    assert.equal(spotEstimate(pools, ["eu-west-1b", "eu-west-1d"]), 0.038);
    assert.equal(spotEstimate(pools, undefined), 0.05);
  });
  it("has none without a price in those zones", () => {
    assert.equal(spotEstimate(pools, ["eu-west-1d"]), undefined);
    assert.equal(spotEstimate(undefined, ["eu-west-1a"]), undefined);
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
