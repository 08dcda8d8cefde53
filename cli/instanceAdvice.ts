/**
 * What `npm run runs -- --job <job>` asks AWS for its right-size advice (launcher/rightSizing.ts):
 * EC2's description of the current instance type's family, and each type's on-demand price from
 * the AWS Price List, by the same query the program makes at deploy time (lib/priceList.ts).
 * Clients are parameters; nothing here keeps a type or a price.
 */
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { PricingClient } from "@aws-sdk/client-pricing";
import type { FoundRun } from "./runRecords";
import { mapLimited } from "./runRecords";
import { ec2Sdk, pricingSdk } from "./sdk";
import {
  EC2_SERVICE_CODE,
  INSTANCE_PRODUCT_ATTRIBUTES,
  instancePriceFilters,
  parsePriceListProduct,
} from "../lib/priceList";
import { splitInstanceType } from "../lib/instanceTypes";
import {
  rightSizeAdvice,
  type Advice,
  type InstanceTypeFacts,
  type MeasuredRun,
} from "../launcher/rightSizing";

/**
 * Every instance type of `family` in the client's region, as DescribeInstanceTypes describes it
 * (the `instance-type` filter takes `*` wildcards; results come in pages).
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypes.html
 */
export async function describeFamily(
  ec2: Pick<EC2Client, "send">,
  family: string,
): Promise<InstanceTypeFacts[]> {
  const facts: InstanceTypeFacts[] = [];
  let token: string | undefined;
  do {
    const page = await ec2.send(
      new (ec2Sdk().DescribeInstanceTypesCommand)({
        Filters: [{ Name: "instance-type", Values: [`${family}.*`] }],
        ...(token ? { NextToken: token } : {}),
      }),
    );
    for (const type of page.InstanceTypes ?? []) {
      const vcpus = type.VCpuInfo?.DefaultVCpus;
      const memoryMiB = type.MemoryInfo?.SizeInMiB;
      if (type.InstanceType && vcpus && memoryMiB) {
        facts.push({ instanceType: type.InstanceType, vcpus, memoryMiB });
      }
    }
    token = page.NextToken;
  } while (token);
  return facts;
}

/**
 * The on-demand USD per hour of `instanceType` in `region` from the Price List, or undefined when
 * the query does not single out one product with a usable price (never a guess).
 */
export async function onDemandPrice(
  pricing: Pick<PricingClient, "send">,
  region: string,
  instanceType: string,
): Promise<number | undefined> {
  const page = await pricing.send(
    new (pricingSdk().GetProductsCommand)({
      ServiceCode: EC2_SERVICE_CODE,
      Filters: instancePriceFilters(region, instanceType).map((f) => ({
        Type: "TERM_MATCH",
        Field: f.field,
        Value: f.value,
      })),
      MaxResults: 2,
    }),
  );
  const products = (page.PriceList ?? []) as unknown[];
  if (products.length !== 1) return undefined;
  const json = typeof products[0] === "string" ? products[0] : JSON.stringify(products[0]);
  const parsed = parsePriceListProduct(json, "Hrs", INSTANCE_PRODUCT_ATTRIBUTES);
  return "usd" in parsed ? parsed.usd : undefined;
}

/** The runs of one job in one region, newest first, as the advice reads them. */
export function measuredRuns(runs: readonly FoundRun[]): MeasuredRun[] {
  return runs.flatMap((r) =>
    r.record.utilization && r.record.instanceType
      ? [
          {
            runId: r.record.runId,
            instanceType: r.record.instanceType,
            durationSeconds: r.durationSeconds,
            utilization: r.record.utilization,
          },
        ]
      : [],
  );
}

/**
 * The advice for one job's runs in `region` (newest first): the newest measured run's type
 * names the family EC2 is asked about, and each of its types is priced.
 */
export async function adviseFromAws(
  ec2: Pick<EC2Client, "send">,
  pricing: Pick<PricingClient, "send">,
  region: string,
  runs: readonly FoundRun[],
): Promise<Advice> {
  const measured = measuredRuns(runs);
  const family = measured[0] && splitInstanceType(measured[0].instanceType)?.family;
  if (!family) return rightSizeAdvice(measured, []);
  const types = await describeFamily(ec2, family);
  const prices = await mapLimited(types, 4, (t) => onDemandPrice(pricing, region, t.instanceType));
  return rightSizeAdvice(
    measured,
    types.map((t, i) => (prices[i] === undefined ? t : { ...t, onDemandUsdPerHour: prices[i] })),
  );
}
