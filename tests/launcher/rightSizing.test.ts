/**
 * Right-size advice (launcher/rightSizing.ts) as tables: runs' utilization and a family's types
 * (vCPUs and memory as DescribeInstanceTypes gives them, on-demand prices as the Price List
 * quotes them) in, the advice out.
 */
import * as assert from "node:assert/strict";
import type { RunUtilization } from "../../launcher/contract";
import { unmeasuredUtilization } from "../../launcher/utilization";
import {
  ADVICE_RUNS,
  rightSizeAdvice,
  type Advice,
  type InstanceTypeFacts,
  type MeasuredRun,
} from "../../launcher/rightSizing";

const GiB = 1024 ** 3;

/** The m7i family as EC2 describes it, with eu-west-1's on-demand Linux prices (2025). */
const M7I: InstanceTypeFacts[] = [
  { instanceType: "m7i.large", vcpus: 2, memoryMiB: 8192, onDemandUsdPerHour: 0.1058 },
  { instanceType: "m7i.xlarge", vcpus: 4, memoryMiB: 16384, onDemandUsdPerHour: 0.2117 },
  { instanceType: "m7i.2xlarge", vcpus: 8, memoryMiB: 32768, onDemandUsdPerHour: 0.4234 },
  { instanceType: "m7i.4xlarge", vcpus: 16, memoryMiB: 65536, onDemandUsdPerHour: 0.8467 },
  { instanceType: "m7i.8xlarge", vcpus: 32, memoryMiB: 131072, onDemandUsdPerHour: 1.6934 },
  { instanceType: "m7i.metal-24xl", vcpus: 96, memoryMiB: 393216, onDemandUsdPerHour: 5.0803 },
];
/** Another family in the list: never advised for an m7i job. */
const C7I_LARGE: InstanceTypeFacts = {
  instanceType: "c7i.large",
  vcpus: 2,
  memoryMiB: 4096,
  onDemandUsdPerHour: 0.0945,
};

function utilization(overrides: Partial<RunUtilization>): RunUtilization {
  return { ...unmeasuredUtilization(), samples: 100, oomKilled: false, ...overrides };
}

/** `count` runs on `type`, each peaking at `peakGiB` with a p95 CPU of `p95` % of `vcpus`. */
function runs(
  count: number,
  type: string,
  vcpus: number,
  peakGiB: number,
  p95: number,
  extra: Partial<RunUtilization> = {},
): MeasuredRun[] {
  return Array.from({ length: count }, (_, i) => ({
    runId: `pi-2026112${i % 10}T0300Z`,
    instanceType: type,
    durationSeconds: 3540,
    utilization: utilization({
      instanceVcpus: vcpus,
      peakMemoryBytes: Math.round(peakGiB * GiB),
      p95CpuPercent: p95,
      ...extra,
    }),
  }));
}

const cases: Array<[string, MeasuredRun[], InstanceTypeFacts[], Partial<Advice>]> = [
  [
    "a big machine mostly idle: the smallest type that fits, with both costs",
    // 27 GiB of 128 (21 %), 8 % of 32 vCPUs = 2.56 vCPUs.
    runs(10, "m7i.8xlarge", 32, 27, 8),
    [...M7I, C7I_LARGE],
    {
      kind: "smaller",
      current: "m7i.8xlarge",
      suggested: "m7i.4xlarge",
      runs: 10,
      // 3540 s + 60 s of boot and power-off, at each type's price.
      usdPerRun: 0.8467,
      currentUsdPerRun: 1.6934,
      text: "peak memory 21% and p95 CPU 8% of m7i.8xlarge (128.0 GiB, 32 vCPUs) over the last 10 runs: m7i.4xlarge (64.0 GiB, 16 vCPUs) would fit (est. $0.8467 per run instead of $1.69 on demand)",
    },
  ],
  [
    "little memory and CPU: down to the family's smallest",
    runs(3, "m7i.8xlarge", 32, 2, 3),
    M7I,
    { kind: "smaller", suggested: "m7i.large", usdPerRun: 0.1058, runs: 3 },
  ],
  [
    "memory within headroom of the next size down is not enough: 80 % of it is the limit",
    // 26 GiB > 80 % of 32 GiB (25.6): m7i.2xlarge does not fit, m7i.4xlarge does.
    runs(5, "m7i.8xlarge", 32, 26, 1),
    M7I,
    { kind: "smaller", suggested: "m7i.4xlarge" },
  ],
  [
    "CPU decides when memory is small: 7 vCPUs at p95 need 9 or more",
    // 22 % of 32 vCPUs = 7.04 vCPUs; 80 % of 8 is 6.4: m7i.4xlarge (16).
    runs(5, "m7i.8xlarge", 32, 1, 22),
    M7I,
    { kind: "smaller", suggested: "m7i.4xlarge" },
  ],
  [
    "a type that fits snugly is kept",
    runs(10, "m7i.large", 2, 6, 70),
    M7I,
    {
      kind: "keep",
      suggested: "m7i.large",
      text: "peak memory 75% and p95 CPU 70% of m7i.large (8.0 GiB, 2 vCPUs) over the last 10 runs: m7i.large is the cheapest m7i type that fits",
    },
  ],
  [
    "memory past the headroom without an OOM kill: the next type that leaves room",
    runs(4, "m7i.large", 2, 7.2, 50),
    M7I,
    {
      kind: "larger",
      suggested: "m7i.xlarge",
      text: "peak memory 90% and p95 CPU 50% of m7i.large (8.0 GiB, 2 vCPUs) over the last 4 runs: m7i.xlarge (16.0 GiB, 4 vCPUs) would leave headroom (est. $0.2117 per run instead of $0.1058 on demand)",
    },
  ],
  [
    "an OOM kill: the next type with more memory, whatever the peak sampled before it",
    [...runs(1, "m7i.large", 2, 3, 40, { oomKilled: true }), ...runs(9, "m7i.large", 2, 3, 40)],
    M7I,
    {
      kind: "larger",
      suggested: "m7i.xlarge",
      runs: 10,
      text: "the OOM killer ended 1 of the last 10 runs on m7i.large (8.0 GiB, 2 vCPUs): m7i.xlarge (16.0 GiB, 4 vCPUs) would have the memory (est. $0.2117 per run instead of $0.1058 on demand)",
    },
  ],
  [
    "an OOM kill before any sample still counts",
    runs(1, "m7i.large", 2, 0, 0, { peakMemoryBytes: null, p95CpuPercent: null, oomKilled: true }),
    M7I,
    { kind: "larger", suggested: "m7i.xlarge", runs: 1 },
  ],
  [
    "an OOM kill on the family's largest type: another family",
    runs(2, "m7i.metal-24xl", 96, 370, 10, { oomKilled: true }),
    M7I,
    {
      kind: "larger",
      suggested: undefined,
      text: "the OOM killer ended 2 of the last 2 runs on m7i.metal-24xl (384.0 GiB, 96 vCPUs): no m7i type has more memory; choose a family with more memory or vCPUs",
    },
  ],
  [
    "runs on a fallback type count for the vCPUs they used",
    // Newest on m7i.2xlarge (0.8 vCPUs); an older one used 35 % of an m7i.4xlarge's 16 = 5.6
    // vCPUs, which m7i.xlarge (4) cannot give: 35 % of the 2xlarge's 8 would have allowed it.
    [...runs(1, "m7i.2xlarge", 8, 4, 10), ...runs(1, "m7i.4xlarge", 16, 4, 35)],
    M7I,
    { kind: "keep", suggested: "m7i.2xlarge", current: "m7i.2xlarge" },
  ],
  [
    "busy CPUs do not call for a larger type: a job using every core keeps its type",
    runs(10, "m7i.large", 2, 1, 100),
    M7I,
    { kind: "keep", suggested: "m7i.large" },
  ],
  [
    "no price for a type: compared by size, and no estimate",
    runs(3, "m7i.8xlarge", 32, 2, 3),
    M7I.map(({ onDemandUsdPerHour: _, ...t }) => t),
    {
      kind: "smaller",
      suggested: "m7i.large",
      usdPerRun: undefined,
      text: "peak memory 2% and p95 CPU 3% of m7i.8xlarge (128.0 GiB, 32 vCPUs) over the last 3 runs: m7i.large (8.0 GiB, 2 vCPUs) would fit",
    },
  ],
  [
    "runs without figures: nothing to advise",
    runs(3, "m7i.large", 2, 0, 0, { samples: 0, peakMemoryBytes: null, oomKilled: null }),
    M7I,
    {
      kind: "none",
      runs: 0,
      text: "no advice: none of these runs has memory and CPU figures (runs recorded before the sampler, or too short to sample)",
    },
  ],
  [
    "a type EC2 did not describe",
    runs(2, "x9z.large", 2, 1, 1),
    M7I,
    { kind: "none", current: "x9z.large", text: "no advice: EC2 does not describe x9z.large" },
  ],
];

describe("rightSizeAdvice", () => {
  for (const [what, measured, types, expected] of cases) {
    it(what, () => {
      const advice = rightSizeAdvice(measured, types);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual(advice[key as keyof Advice], value, `${key}: ${advice.text}`);
      }
    });
  }

  it(`reads only the newest ${ADVICE_RUNS} runs with figures`, () => {
    // Newest first: ten quiet runs, then an old OOM kill the advice no longer looks at.
    const advice = rightSizeAdvice(
      [
        ...runs(2, "m7i.large", 2, 0, 0, { samples: 0, peakMemoryBytes: null, oomKilled: null }),
        ...runs(ADVICE_RUNS, "m7i.large", 2, 1, 10),
        ...runs(1, "m7i.large", 2, 7.9, 10, { oomKilled: true }),
      ],
      M7I,
    );
    assert.equal(advice.runs, ADVICE_RUNS);
    assert.equal(advice.kind, "keep");
  });
});
