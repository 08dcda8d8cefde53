/**
 * Estimated cost of a run: instance hours times an hourly price, plus the root volume. Pure data
 * and arithmetic; runs in the launcher Lambda (to give the init script its prices), in the CLIs
 * and in the tests.
 *
 * The prices are AWS's own, looked up, never a table kept here:
 * - on-demand instance and gp3 prices come from the AWS Price List at deploy time
 *   (components/instancePrices.ts, parsed by lib/priceList.ts) and travel in the job's launch
 *   spec (`onDemandUsdPerHour`, `volumeUsdPerGiBMonth`);
 * - spot prices come from `DescribeSpotPriceHistory` at launch ({@link latestSpotPrices}).
 * A price that could not be found is absent: its runs record no estimate (`n/a`), never a guess.
 */

/** EC2 bills Linux instances per second with a one-minute minimum. */
export const MINIMUM_BILLED_SECONDS = 60;

/** Hours AWS counts in a month for GB-month prices. */
export const HOURS_PER_MONTH = 730;

/** The markets a run can be bought in. */
export type Market = "on-demand" | "spot";

/** The prices a job's runs may be billed at, in USD; a type without a price is left out. */
export interface RunPrices {
  /** On-demand USD per hour of each instance type, from the Price List (deploy time). */
  onDemandUsdPerHour?: Readonly<Record<string, number>>;
  /** Spot USD per hour of each instance type, from DescribeSpotPriceHistory (launch time). */
  spotUsdPerHour?: Readonly<Record<string, number>>;
  /** gp3 storage, USD per GiB-month (baseline IOPS and throughput included). */
  volumeUsdPerGiBMonth?: number;
}

/** A usable price: a finite number, zero or more. */
function isPrice(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/** USD per hour of `instanceType` in `market`, or undefined when no price was found. */
export function hourlyPrice(
  prices: RunPrices,
  instanceType: string,
  market: Market,
): number | undefined {
  const table = market === "spot" ? prices.spotUsdPerHour : prices.onDemandUsdPerHour;
  const price = table?.[instanceType];
  return isPrice(price) ? price : undefined;
}

/** USD per hour of a gp3 volume of `volumeGiB` at `usdPerGiBMonth`, or undefined if unknown. */
export function volumeHourlyPrice(
  usdPerGiBMonth: number | undefined,
  volumeGiB: number,
): number | undefined {
  if (!isPrice(usdPerGiBMonth)) return undefined;
  return (usdPerGiBMonth * volumeGiB) / HOURS_PER_MONTH;
}

/**
 * Seconds an instance runs besides its init script: boot before it (~30 s on the ECS-optimized
 * AMI) and power-off after it. Added to the measured duration; also covers the one-minute minimum.
 */
export const INSTANCE_OVERHEAD_SECONDS = 60;

/** What one run's cost estimate needs. */
export interface CostInput {
  /** The instance's price per hour in its market; undefined when none was found. */
  instanceUsdPerHour: number | undefined;
  /** The root volume's price per hour; undefined when none was found. */
  volumeUsdPerHour: number | undefined;
  /** The run's measured duration (its init script's), without the boot and power-off overhead. */
  durationSeconds: number;
}

/**
 * Estimated USD of one run: (instance + volume price per hour) × (duration + overhead), in whole
 * micro-dollars rounded down, exactly as the init script computes it. Undefined when either
 * price is unknown.
 */
export function estimateRunCost(input: CostInput): number | undefined {
  const { instanceUsdPerHour: instance, volumeUsdPerHour: volume } = input;
  if (!isPrice(instance) || !isPrice(volume)) return undefined;
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
  prices: RunPrices,
  instanceTypes: readonly string[],
  volumeGiB: number,
): { instances: Record<string, number>; volumeMicroUsdPerHour?: number } {
  const instances: Record<string, number> = {};
  for (const type of instanceTypes) {
    for (const market of ["on-demand", "spot"] as const) {
      const price = hourlyPrice(prices, type, market);
      if (price !== undefined) instances[`${type}/${market}`] = toMicroUsd(price);
    }
  }
  const volume = volumeHourlyPrice(prices.volumeUsdPerGiBMonth, volumeGiB);
  return volume === undefined
    ? { instances }
    : { instances, volumeMicroUsdPerHour: toMicroUsd(volume) };
}

/** One entry of DescribeSpotPriceHistory's `SpotPriceHistory`, as the SDK returns it. */
export interface SpotPriceEntry {
  InstanceType?: string;
  AvailabilityZone?: string;
  SpotPrice?: string;
  Timestamp?: Date | string;
  ProductDescription?: string;
}

/**
 * The product descriptions of a Linux instance in a VPC: EC2 reports `Linux/UNIX`, and
 * `Linux/UNIX (Amazon VPC)` in accounts and emulators that still distinguish EC2-Classic
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSpotPriceHistory.html).
 */
export const SPOT_LINUX_PRODUCTS: readonly string[] = ["Linux/UNIX", "Linux/UNIX (Amazon VPC)"];

/**
 * The spot price in effect at `at`, per instance type and availability zone: for each pool, the
 * entry with the latest timestamp not after `at`. DescribeSpotPriceHistory with StartTime and
 * EndTime both `at` returns exactly the last change before it, "the effective price as of the
 * start time", so every invocation of a run computes the same prices and sends the same user
 * data under its ClientTokens. Entries without a parsable price or of another product are
 * ignored.
 */
export function latestSpotPrices(
  history: readonly SpotPriceEntry[],
  at: Date,
): Record<string, Record<string, number>> {
  const latest: Record<string, Record<string, { usd: number; time: number }>> = {};
  for (const entry of history) {
    const { InstanceType: type, AvailabilityZone: zone } = entry;
    if (!type || !zone) continue;
    if (entry.ProductDescription && !SPOT_LINUX_PRODUCTS.includes(entry.ProductDescription)) {
      continue;
    }
    const usd = Number(entry.SpotPrice);
    if (entry.SpotPrice === undefined || entry.SpotPrice.trim() === "" || !isPrice(usd)) continue;
    const time = entry.Timestamp === undefined ? 0 : new Date(entry.Timestamp).getTime();
    if (!Number.isFinite(time) || time > at.getTime()) continue;
    const pools = (latest[type] ??= {});
    const seen = pools[zone];
    if (!seen || time > seen.time) pools[zone] = { usd, time };
  }
  return Object.fromEntries(
    Object.entries(latest).map(([type, pools]) => [
      type,
      Object.fromEntries(Object.entries(pools).map(([zone, p]) => [zone, p.usd])),
    ]),
  );
}

/**
 * The spot price per hour a run of `type` is estimated at: the highest of the zones it may launch
 * in (the init script knows the type and market it got, not the pool), so the estimate is never
 * below what the run costs. Zones without a price are skipped; undefined when none has one.
 */
export function spotEstimate(
  pools: Readonly<Record<string, number>> | undefined,
  zones: readonly string[] | undefined,
): number | undefined {
  if (!pools) return undefined;
  const candidates = (zones && zones.length > 0 ? zones : Object.keys(pools))
    .map((zone) => pools[zone])
    .filter(isPrice);
  return candidates.length === 0 ? undefined : Math.max(...candidates);
}

/** `0.0123` → `$0.0123`; small amounts keep 4 decimals, larger ones 2. */
export function formatUsd(usd: number | undefined | null): string {
  if (usd === undefined || usd === null || Number.isNaN(usd)) return "n/a";
  return `$${usd >= 1 ? usd.toFixed(2) : usd.toFixed(4)}`;
}
