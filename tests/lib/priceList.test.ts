import * as assert from "node:assert/strict";
import {
  gp3PriceFilters,
  instancePriceFilters,
  parsePriceListProduct,
  PRICING_API_REGIONS,
  PRICING_PROVIDER_REGION,
} from "../../lib/priceList";

/** A Price List product as GetProducts returns it (trimmed). */
function product(
  dimensions: Record<string, { unit: string; pricePerUnit: { USD?: string } }>,
  attributes: Record<string, string> = { instanceType: "t3.medium", regionCode: "eu-west-1" },
  terms = 1,
): string {
  const onDemand: Record<string, Record<string, unknown>> = { SKU1: {} };
  for (let i = 0; i < terms; i++) {
    onDemand.SKU1[`SKU1.TERM${i}`] = {
      offerTermCode: `TERM${i}`,
      sku: "SKU1",
      priceDimensions: dimensions,
    };
  }
  return JSON.stringify({
    product: { productFamily: "Compute Instance", attributes, sku: "SKU1" },
    serviceCode: "AmazonEC2",
    terms: { OnDemand: onDemand, Reserved: { SKU1: { "SKU1.X": {} } } },
  });
}

const hourly = (usd: string) => ({
  "SKU1.TERM0.RATE": { unit: "Hrs", pricePerUnit: { USD: usd } },
});

describe("Price List queries", () => {
  it("single out a Linux, shared-tenancy, on-demand instance price in one region", () => {
    assert.deepEqual(instancePriceFilters("ap-southeast-2", "t3.medium"), [
      { field: "regionCode", value: "ap-southeast-2" },
      { field: "instanceType", value: "t3.medium" },
      { field: "operatingSystem", value: "Linux" },
      { field: "tenancy", value: "Shared" },
      { field: "preInstalledSw", value: "NA" },
      { field: "capacitystatus", value: "Used" },
      { field: "licenseModel", value: "No License required" },
      { field: "marketoption", value: "OnDemand" },
    ]);
    assert.deepEqual(gp3PriceFilters("sa-east-1"), [
      { field: "regionCode", value: "sa-east-1" },
      { field: "volumeApiName", value: "gp3" },
      { field: "productFamily", value: "Storage" },
    ]);
  });

  it("go through a provider in a region that serves the Price List", () => {
    assert.ok(PRICING_API_REGIONS.includes(PRICING_PROVIDER_REGION));
  });
});

describe("parsePriceListProduct", () => {
  it("reads the on-demand USD price per unit", () => {
    assert.deepEqual(parsePriceListProduct(product(hourly("0.0456000000")), "Hrs"), {
      usd: 0.0456,
    });
    assert.deepEqual(
      parsePriceListProduct(product(hourly("0.0456000000")), "Hrs", { instanceType: "t3.medium" }),
      { usd: 0.0456 },
    );
  });

  const problems: [string, string, string][] = [
    ["not JSON", "{", "the product is not JSON"],
    ["not an object", "[1]", "the product is not a JSON object"],
    ["no on-demand terms", JSON.stringify({ terms: {} }), "the product has no on-demand terms"],
    ["two terms", product(hourly("0.1"), undefined, 2), "the product has 2 on-demand terms, not 1"],
    [
      "the wrong unit",
      product({ R: { unit: "GB-Mo", pricePerUnit: { USD: "0.08" } } }),
      "the on-demand term has 0 prices per Hrs, not 1",
    ],
    [
      "no USD",
      product({ R: { unit: "Hrs", pricePerUnit: {} } }),
      "the price per Hrs is undefined, not a positive USD amount",
    ],
    [
      "a zero price",
      product(hourly("0.0000000000")),
      'the price per Hrs is "0.0000000000", not a positive USD amount',
    ],
    [
      "a text price",
      product(hourly("free")),
      'the price per Hrs is "free", not a positive USD amount',
    ],
  ];
  for (const [title, json, problem] of problems) {
    it(`gives no price for ${title}`, () =>
      assert.deepEqual(parsePriceListProduct(json, "Hrs"), { problem }));
  }

  it("gives no price for another product than the one asked for", () => {
    assert.deepEqual(
      parsePriceListProduct(product(hourly("0.1")), "Hrs", { instanceType: "t3.large" }),
      { problem: 'the product\'s instanceType is "t3.medium", not "t3.large"' },
    );
  });
});
