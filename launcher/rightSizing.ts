/**
 * Right-size advice: from the utilization of a job's last runs (`RunUtilization`, measured by
 * the init script), which instance type of the same family would fit, and what a run would cost
 * on it. Pure: the tools pass EC2's own description of the family's types (DescribeInstanceTypes:
 * `VCpuInfo.DefaultVCpus`, `MemoryInfo.SizeInMiB`,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VCpuInfo.html,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_MemoryInfo.html) and their
 * on-demand prices from the AWS Price List (lib/priceList.ts); no type or price is kept here.
 *
 * A type fits when the runs' peak memory is at most {@link MEMORY_HEADROOM} of its memory, and
 * it has at least the current type's vCPUs or their p95 CPU (in vCPUs) is at most
 * {@link CPU_HEADROOM} of its own: busy CPUs only slow a run down, so they keep a job from
 * shrinking but do not call for a larger type, while memory that runs out ends the run. The
 * advice is the cheapest type that fits. After an OOM kill the peak says only that the job needed more than it had, so
 * the advice is then the next type with more memory. Costs assume the run would take as long on
 * the other type (the mean of the runs measured), instance hours only.
 */
import type { RunUtilization } from "./contract";
import { estimateRunCost, formatUsd } from "./prices";
import { formatBytes } from "./utilization";

/** How many of the newest measured runs the advice reads. */
export const ADVICE_RUNS = 10;

/** A type fits when the peak memory uses at most this share of its memory… */
export const MEMORY_HEADROOM = 0.8;

/** …and the p95 CPU at most this share of its vCPUs. */
export const CPU_HEADROOM = 0.8;

const MIB = 1024 * 1024;

/** What EC2 says of one instance type, and its on-demand price in the runs' region. */
export interface InstanceTypeFacts {
  instanceType: string;
  vcpus: number;
  memoryMiB: number;
  /** USD per hour on demand (Linux, shared tenancy); undefined when the Price List has none. */
  onDemandUsdPerHour?: number;
}

/** One run, as the advice reads it. */
export interface MeasuredRun {
  runId: string;
  instanceType: string;
  durationSeconds?: number;
  utilization: RunUtilization;
}

/** The advice: what it concludes, and one sentence for the operator. */
export interface Advice {
  /**
   * `smaller`: a cheaper type fits; `larger`: the current one ran out of memory or headroom;
   * `keep`: the current type is the cheapest that fits; `none`: nothing to advise from.
   */
  kind: "smaller" | "larger" | "keep" | "none";
  current?: string;
  suggested?: string;
  /** Estimated USD per run on the suggested and on the current type (instance hours). */
  usdPerRun?: number;
  currentUsdPerRun?: number;
  /** How many runs the advice read. */
  runs: number;
  text: string;
}

/** The family of `m7i.8xlarge`: `m7i`. */
function familyOf(instanceType: string): string {
  return instanceType.slice(0, instanceType.indexOf("."));
}

function percent(part: number, whole: number): string {
  return `${Math.round((part / whole) * 100)}%`;
}

function describeType(facts: InstanceTypeFacts): string {
  return `${facts.instanceType} (${formatBytes(facts.memoryMiB * MIB)}, ${facts.vcpus} vCPUs)`;
}

/**
 * The advice for a job from its runs, newest first (runs without figures are skipped; the newest
 * {@link ADVICE_RUNS} with figures are read), and EC2's facts of the current type's family.
 */
export function rightSizeAdvice(
  runs: readonly MeasuredRun[],
  instanceTypes: readonly InstanceTypeFacts[],
): Advice {
  const measured = runs
    .filter((r) => r.utilization.peakMemoryBytes !== null || r.utilization.oomKilled === true)
    .slice(0, ADVICE_RUNS);
  if (measured.length === 0) {
    return {
      kind: "none",
      runs: 0,
      text: "no advice: none of these runs has memory and CPU figures (runs recorded before the sampler, or too short to sample)",
    };
  }
  const currentType = measured[0].instanceType;
  const byType = new Map(instanceTypes.map((t) => [t.instanceType, t]));
  const current = byType.get(currentType);
  if (!current) {
    return {
      kind: "none",
      current: currentType,
      runs: measured.length,
      text: `no advice: EC2 does not describe ${currentType}`,
    };
  }
  const over = `over the last ${measured.length} run${measured.length === 1 ? "" : "s"}`;
  const peakBytes = Math.max(0, ...measured.map((r) => r.utilization.peakMemoryBytes ?? 0));
  // CPU in vCPUs, so that runs on other types (capacity fallbacks) count for what they used.
  const p95Vcpus = Math.max(
    0,
    ...measured.map((r) => {
      const vcpus = r.utilization.instanceVcpus ?? byType.get(r.instanceType)?.vcpus ?? 0;
      return ((r.utilization.p95CpuPercent ?? 0) / 100) * vcpus;
    }),
  );
  const oomKills = measured.filter((r) => r.utilization.oomKilled === true).length;
  const durations = measured.flatMap((r) =>
    typeof r.durationSeconds === "number" ? [r.durationSeconds] : [],
  );
  const meanDuration =
    durations.length > 0 ? durations.reduce((a, b) => a + b, 0) / durations.length : undefined;
  const perRun = (facts: InstanceTypeFacts) =>
    meanDuration === undefined
      ? undefined
      : estimateRunCost({
          instanceUsdPerHour: facts.onDemandUsdPerHour,
          volumeUsdPerHour: 0,
          durationSeconds: meanDuration,
        });

  const family = familyOf(currentType);
  const fits = (t: InstanceTypeFacts) =>
    peakBytes <= MEMORY_HEADROOM * t.memoryMiB * MIB &&
    (t.vcpus >= current.vcpus || p95Vcpus <= CPU_HEADROOM * t.vcpus) &&
    (oomKills === 0 || t.memoryMiB > current.memoryMiB);
  // Without a price for the current type, nothing can be compared by price: the smallest wins.
  const cost = (t: InstanceTypeFacts) =>
    current.onDemandUsdPerHour === undefined
      ? 0
      : (t.onDemandUsdPerHour ?? Number.POSITIVE_INFINITY);
  const [best] = instanceTypes
    .filter((t) => familyOf(t.instanceType) === family && fits(t))
    .sort(
      (a, b) =>
        cost(a) - cost(b) ||
        a.memoryMiB - b.memoryMiB ||
        a.vcpus - b.vcpus ||
        a.instanceType.localeCompare(b.instanceType),
    );

  const usage =
    oomKills > 0
      ? `the OOM killer ended ${oomKills} of the last ${measured.length} run${measured.length === 1 ? "" : "s"} on ${describeType(current)}`
      : `peak memory ${percent(peakBytes, current.memoryMiB * MIB)} and p95 CPU ${percent(p95Vcpus, current.vcpus)} of ${describeType(current)} ${over}`;
  const costs = (suggested: InstanceTypeFacts) => {
    const usdPerRun = perRun(suggested);
    const currentUsdPerRun = perRun(current);
    const text =
      usdPerRun !== undefined && currentUsdPerRun !== undefined
        ? ` (est. ${formatUsd(usdPerRun)} per run instead of ${formatUsd(currentUsdPerRun)} on demand)`
        : usdPerRun !== undefined
          ? ` (est. ${formatUsd(usdPerRun)} per run on demand)`
          : "";
    return { usdPerRun, currentUsdPerRun, text };
  };
  const base = { current: currentType, runs: measured.length };

  if (!best) {
    return {
      ...base,
      kind: "larger",
      text: `${usage}: no ${family} type has ${oomKills > 0 ? "more memory" : "room for it"}; choose a family with more memory or vCPUs`,
    };
  }
  if (best.instanceType === currentType) {
    return {
      ...base,
      kind: "keep",
      suggested: currentType,
      text: `${usage}: ${currentType} is the cheapest ${family} type that fits`,
    };
  }
  const price = costs(best);
  const { text: priceText, ...figures } = price;
  const larger = best.memoryMiB > current.memoryMiB || best.vcpus > current.vcpus;
  return {
    ...base,
    ...figures,
    kind: larger ? "larger" : "smaller",
    suggested: best.instanceType,
    text: larger
      ? `${usage}: ${describeType(best)} would ${oomKills > 0 ? "have the memory" : "leave headroom"}${priceText}`
      : `${usage}: ${describeType(best)} would fit${priceText}`,
  };
}
