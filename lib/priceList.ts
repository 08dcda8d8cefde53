/**
 * The AWS Price List questions the program asks at deploy time, and how their answers are read.
 * Pure: components/instancePrices.ts sends the queries through the provider's
 * `aws.pricing.getProduct`, and offline/engine.ts answers them under mocks by the same rules.
 *
 * - `getProduct` runs GetProducts with TERM_MATCH filters and fails unless exactly one product
 *   matches ("Pricing product query did not return any elements" / "not precise enough",
 *   https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/pricing/product_data_source.go),
 *   so each query names every attribute that tells EC2's products apart
 *   (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_Filter.html).
 * - The Price List Query API is served from a few regions only; the data source "is only
 *   available in a us-east-1 or ap-south-1 provider"
 *   (https://www.pulumi.com/registry/packages/aws/api-docs/pricing/getproduct/).
 * - A product is one JSON document: `terms.OnDemand.<sku.offerTermCode>.priceDimensions.
 *   <rateCode>.pricePerUnit.USD`, a decimal string, per `unit`
 *   (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html).
 */

/** Regions whose provider can call the Price List Query API. */
export const PRICING_API_REGIONS: readonly string[] = ["us-east-1", "ap-south-1"];

/** The region of the program's one Pricing provider. */
export const PRICING_PROVIDER_REGION = "us-east-1";

/** The service code of EC2 instances and EBS volumes in the Price List. */
export const EC2_SERVICE_CODE = "AmazonEC2";

/** One TERM_MATCH filter, as `aws.pricing.getProduct` takes it. */
export interface PriceFilter {
  field: string;
  value: string;
}

/**
 * The attributes that single out the on-demand price of a Linux instance type with shared
 * tenancy in a region. Each one removes products the others leave: other operating systems and
 * licences, pre-installed SQL Server, Dedicated and Host tenancy, the $0 capacity-reservation rows
 * (`capacitystatus` `UnusedCapacityReservation`, `AllocatedCapacityReservation`) and the
 * Capacity Block rows of GPU types (`marketoption` `CapacityBlock`).
 */
export const INSTANCE_PRODUCT_ATTRIBUTES: Readonly<Record<string, string>> = {
  operatingSystem: "Linux",
  tenancy: "Shared",
  preInstalledSw: "NA",
  capacitystatus: "Used",
  licenseModel: "No License required",
  marketoption: "OnDemand",
};

/** The Price List query of one instance type's on-demand Linux price in `region`. */
export function instancePriceFilters(region: string, instanceType: string): PriceFilter[] {
  return [
    { field: "regionCode", value: region },
    { field: "instanceType", value: instanceType },
    ...Object.entries(INSTANCE_PRODUCT_ATTRIBUTES).map(([field, value]) => ({ field, value })),
  ];
}

/**
 * The Price List query of gp3 storage (GB-month) in `region`. `productFamily` is needed: gp3's
 * provisioned IOPS (`System Operation`) and throughput (`Provisioned Throughput`) products have
 * `volumeApiName` gp3 too.
 */
export function gp3PriceFilters(region: string): PriceFilter[] {
  return [
    { field: "regionCode", value: region },
    { field: "volumeApiName", value: "gp3" },
    { field: "productFamily", value: "Storage" },
  ];
}

/** The unit a price must be quoted in: instance hours, or storage GB-months. */
export type PriceUnit = "Hrs" | "GB-Mo";

/** What reading one product gave: a price, or why there is none. */
export type ParsedPrice = { usd: number } | { problem: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The on-demand USD price per `unit` of one Price List product (the `result` of
 * `aws.pricing.getProduct`). It must have exactly one on-demand term with exactly one price
 * dimension in `unit`, whose USD price is a positive decimal; and, when `expect` is given, the
 * product's attributes must have those values. Anything else is a problem, never a guess.
 */
export function parsePriceListProduct(
  json: string,
  unit: PriceUnit,
  expect: Readonly<Record<string, string>> = {},
): ParsedPrice {
  let product: unknown;
  try {
    product = JSON.parse(json);
  } catch {
    return { problem: "the product is not JSON" };
  }
  if (!isObject(product)) return { problem: "the product is not a JSON object" };
  const attributes = isObject(product.product) ? product.product.attributes : undefined;
  for (const [field, value] of Object.entries(expect)) {
    const actual = isObject(attributes) ? attributes[field] : undefined;
    if (actual !== value) {
      return { problem: `the product's ${field} is ${JSON.stringify(actual)}, not "${value}"` };
    }
  }
  const onDemand = isObject(product.terms) ? product.terms.OnDemand : undefined;
  if (!isObject(onDemand)) return { problem: "the product has no on-demand terms" };
  // Keyed by SKU, then by `<sku>.<offerTermCode>`.
  const terms = Object.values(onDemand).flatMap((bySku) =>
    isObject(bySku) ? Object.values(bySku) : [],
  );
  if (terms.length !== 1) {
    return { problem: `the product has ${terms.length} on-demand terms, not 1` };
  }
  const term = terms[0];
  const dimensions = isObject(term) && isObject(term.priceDimensions) ? term.priceDimensions : {};
  const inUnit = Object.values(dimensions).filter((d) => isObject(d) && d.unit === unit);
  if (inUnit.length !== 1) {
    return { problem: `the on-demand term has ${inUnit.length} prices per ${unit}, not 1` };
  }
  const dimension = inUnit[0] as Record<string, unknown>;
  const text = isObject(dimension.pricePerUnit) ? dimension.pricePerUnit.USD : undefined;
  const usd = typeof text === "string" && /^\d+(?:\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(usd) || usd <= 0) {
    return {
      problem: `the price per ${unit} is ${JSON.stringify(text)}, not a positive USD amount`,
    };
  }
  return { usd };
}
