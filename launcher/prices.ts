/**
 * Estimated cost of a run: instance hours times an hourly price, plus the root volume. Pure data
 * and arithmetic; runs in the launcher Lambda (to give the init script its prices), in the CLIs
 * and in the tests.
 *
 * There is no maintained price source that works offline (the AWS Price List API needs the
 * network and an account), so this is a documented table. It holds the on-demand Linux price of
 * the `.large` size of each family (shared tenancy); the other sizes scale linearly, as AWS prices
 * them. Spot prices move by pool and hour, so spot is estimated as a fixed share of on-demand.
 * A type, family or region missing here gives no estimate (`undefined`), never a guess.
 */

/**
 * When the table was transcribed from the public on-demand price pages. It was written without
 * network access and not re-checked since: refresh it with
 * `aws pricing get-products --region us-east-1 --service-code AmazonEC2 --filters ...`.
 */
export const PRICE_TABLE_DATE = "2025-06-01";

/** Spot estimate as a share of on-demand: the order of the long-run savings of these families. */
export const SPOT_PRICE_RATIO = 0.4;

/** EC2 bills Linux instances per second with a one-minute minimum. */
export const MINIMUM_BILLED_SECONDS = 60;

/** Hours AWS counts in a month for GB-month prices. */
export const HOURS_PER_MONTH = 730;

/** Per region: on-demand USD per hour of the `.large` size of each family. */
export const LARGE_ON_DEMAND_USD_PER_HOUR: Readonly<
  Record<string, Readonly<Record<string, number>>>
> = {
  "us-east-1": {
    t3: 0.0832,
    t3a: 0.0752,
    t4g: 0.0672,
    m5: 0.096,
    m6i: 0.096,
    m7i: 0.1008,
    m6a: 0.0864,
    m7a: 0.11592,
    m6g: 0.077,
    m7g: 0.0816,
    c5: 0.085,
    c6i: 0.085,
    c7i: 0.08925,
    c6a: 0.0765,
    c6g: 0.068,
    c7g: 0.0725,
    r6i: 0.126,
    r7i: 0.1323,
    r6g: 0.1008,
    r7g: 0.1071,
  },
  "eu-west-1": {
    t3: 0.0912,
    t3a: 0.0816,
    t4g: 0.0736,
    m5: 0.107,
    m6i: 0.107,
    m7i: 0.11235,
    m6a: 0.0963,
    m7a: 0.12922,
    m6g: 0.086,
    m7g: 0.0912,
    c5: 0.096,
    c6i: 0.096,
    c7i: 0.1008,
    c6a: 0.0864,
    c6g: 0.0768,
    c7g: 0.0819,
    r6i: 0.141,
    r7i: 0.14805,
    r6g: 0.1128,
    r7g: 0.1199,
  },
};

/** Per region: gp3 storage, USD per GiB-month (the baseline IOPS and throughput are included). */
export const GP3_USD_PER_GIB_MONTH: Readonly<Record<string, number>> = {
  "us-east-1": 0.08,
  "eu-west-1": 0.088,
};

/** Size → multiple of the `.large` price. */
export const SIZE_FACTORS: Readonly<Record<string, number>> = {
  nano: 1 / 16,
  micro: 1 / 8,
  small: 1 / 4,
  medium: 1 / 2,
  large: 1,
  xlarge: 2,
  "2xlarge": 4,
  "4xlarge": 8,
  "8xlarge": 16,
  "12xlarge": 24,
  "16xlarge": 32,
  "24xlarge": 48,
  "32xlarge": 64,
  "48xlarge": 96,
};

/** The markets a run can be bought in. */
export type Market = "on-demand" | "spot";

/** Estimated USD per hour of `instanceType` in `region` and `market`, or undefined if unknown. */
export function hourlyPrice(
  region: string,
  instanceType: string,
  market: Market,
): number | undefined {
  const [family, size] = instanceType.split(".");
  const large = LARGE_ON_DEMAND_USD_PER_HOUR[region]?.[family];
  const factor = size === undefined ? undefined : SIZE_FACTORS[size];
  if (large === undefined || factor === undefined) return undefined;
  const onDemand = large * factor;
  return roundTo(market === "spot" ? onDemand * SPOT_PRICE_RATIO : onDemand, 6);
}

/** Estimated USD per hour of a gp3 volume of `volumeGiB` in `region`, or undefined if unknown. */
export function volumeHourlyPrice(region: string, volumeGiB: number): number | undefined {
  const perGiBMonth = GP3_USD_PER_GIB_MONTH[region];
  if (perGiBMonth === undefined) return undefined;
  return (perGiBMonth * volumeGiB) / HOURS_PER_MONTH;
}

/**
 * Seconds an instance runs besides its init script: boot before it (~30 s on the ECS-optimized
 * AMI) and power-off after it. Added to the measured duration; also covers the one-minute minimum.
 */
export const INSTANCE_OVERHEAD_SECONDS = 60;

/** What one run's cost estimate needs. */
export interface CostInput {
  region: string;
  instanceType: string;
  market: Market;
  volumeGiB: number;
  /** The run's measured duration (its init script's), without the boot and power-off overhead. */
  durationSeconds: number;
}

/**
 * Estimated USD of one run: (instance + volume price per hour) × (duration + overhead), in whole
 * micro-dollars rounded down, exactly as the init script computes it. Undefined when the type or
 * region has no price here.
 */
export function estimateRunCost(input: CostInput): number | undefined {
  const instance = hourlyPrice(input.region, input.instanceType, input.market);
  const volume = volumeHourlyPrice(input.region, input.volumeGiB);
  if (instance === undefined || volume === undefined) return undefined;
  const seconds = Math.max(
    MINIMUM_BILLED_SECONDS,
    Math.max(0, input.durationSeconds) + INSTANCE_OVERHEAD_SECONDS,
  );
  const micro = Math.floor(((toMicroUsd(instance) + toMicroUsd(volume)) * seconds) / 3600);
  return micro / 1_000_000;
}

/** Price of one hour in whole micro-dollars (USD × 10⁶), for the init script's integer maths. */
export function toMicroUsd(usd: number): number {
  return Math.round(usd * 1_000_000);
}

/**
 * The per-hour prices, in micro-dollars, of every (instance type, market) a job may launch,
 * keyed `<type>/<market>`; the init script picks its own by what IMDS reports. Types without a
 * price are left out, so their runs record no estimate.
 */
export function hourlyPriceTable(
  region: string,
  instanceTypes: readonly string[],
  volumeGiB: number,
): { instances: Record<string, number>; volumeMicroUsdPerHour?: number } {
  const instances: Record<string, number> = {};
  for (const type of instanceTypes) {
    for (const market of ["on-demand", "spot"] as const) {
      const price = hourlyPrice(region, type, market);
      if (price !== undefined) instances[`${type}/${market}`] = toMicroUsd(price);
    }
  }
  const volume = volumeHourlyPrice(region, volumeGiB);
  return volume === undefined
    ? { instances }
    : { instances, volumeMicroUsdPerHour: toMicroUsd(volume) };
}

function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** `0.0123` → `$0.0123`; small amounts keep 4 decimals, larger ones 2. */
export function formatUsd(usd: number | undefined | null): string {
  if (usd === undefined || usd === null || Number.isNaN(usd)) return "n/a";
  return `$${usd >= 1 ? usd.toFixed(2) : usd.toFixed(4)}`;
}
