/**
 * On-demand prices from the AWS Price List at deploy time: one `aws.pricing.getProduct` per
 * (region, instance type) and one for the region's gp3 storage, through the stack's one Pricing
 * provider (the Price List Query API is served from us-east-1 and ap-south-1 only; see
 * lib/priceList.ts for the queries and how a product is read).
 *
 * A price that cannot be found (no product, several, an unreadable one, the API unreachable or
 * denied) is left out, with a `pulumi.log.warn` naming the type and region: its runs record no
 * cost estimate. It never fails the deployment.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  EC2_SERVICE_CODE,
  gp3PriceFilters,
  INSTANCE_PRODUCT_ATTRIBUTES,
  instancePriceFilters,
  parsePriceListProduct,
  PriceFilter,
  PriceUnit,
} from "../lib/priceList";

/** The on-demand prices of one region, as the launch specs carry them. */
export interface RegionPrices {
  /** USD per hour of each instance type that has a price. */
  onDemandUsdPerHour: Record<string, number>;
  /** gp3 USD per GiB-month, when found. */
  volumeUsdPerGiBMonth?: number;
}

/** What {@link lookUpRegionPrices} needs. */
export interface RegionPricesArgs {
  region: string;
  /** Every instance type a job of the region may launch. */
  instanceTypes: readonly string[];
  /** The stack's provider in a Price List region (see PRICING_API_REGIONS). */
  provider: pulumi.ProviderResource;
  /** The component the lookups and warnings belong to. */
  parent: pulumi.Resource;
}

/** The first line of an error, without the provider's long product dumps. */
function reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].slice(0, 300);
}

async function lookUp(
  args: RegionPricesArgs,
  what: string,
  filters: PriceFilter[],
  unit: PriceUnit,
  expect: Record<string, string>,
): Promise<number | undefined> {
  let problem: string;
  try {
    const product = await aws.pricing.getProduct(
      { serviceCode: EC2_SERVICE_CODE, filters },
      { provider: args.provider, parent: args.parent },
    );
    const parsed = parsePriceListProduct(product.result, unit, expect);
    if ("usd" in parsed) return parsed.usd;
    problem = parsed.problem;
  } catch (error) {
    problem = reason(error);
  }
  await pulumi.log.warn(
    `no on-demand price for ${what} in ${args.region} from the AWS Price List (${problem}); its runs record no cost estimate`,
    args.parent,
  );
  return undefined;
}

/** The region's on-demand instance and gp3 prices; whatever could not be found is left out. */
export function lookUpRegionPrices(args: RegionPricesArgs): pulumi.Output<RegionPrices> {
  const types = [...new Set(args.instanceTypes)];
  const prices = Promise.all([
    lookUp(args, "gp3 storage", gp3PriceFilters(args.region), "GB-Mo", {
      regionCode: args.region,
      volumeApiName: "gp3",
    }),
    ...types.map((type) =>
      lookUp(args, `instance type ${type}`, instancePriceFilters(args.region, type), "Hrs", {
        regionCode: args.region,
        instanceType: type,
        ...INSTANCE_PRODUCT_ATTRIBUTES,
      }),
    ),
  ]).then(([volume, ...instances]): RegionPrices => {
    const onDemandUsdPerHour: Record<string, number> = {};
    types.forEach((type, i) => {
      const usd = instances[i];
      if (usd !== undefined) onDemandUsdPerHour[type] = usd;
    });
    return volume === undefined
      ? { onDemandUsdPerHour }
      : { onDemandUsdPerHour, volumeUsdPerGiBMonth: volume };
  });
  return pulumi.output(prices);
}

/** The prices of `instanceTypes` only, for one job's launch spec. */
export function pricesFor(prices: RegionPrices, instanceTypes: readonly string[]): RegionPrices {
  const onDemandUsdPerHour = Object.fromEntries(
    instanceTypes
      .filter((type) => prices.onDemandUsdPerHour[type] !== undefined)
      .map((type) => [type, prices.onDemandUsdPerHour[type]]),
  );
  return prices.volumeUsdPerGiBMonth === undefined
    ? { onDemandUsdPerHour }
    : { onDemandUsdPerHour, volumeUsdPerGiBMonth: prices.volumeUsdPerGiBMonth };
}
