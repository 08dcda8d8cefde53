/**
 * The definition of a run's utilization figures (launcher/utilization.ts): Docker's sizes and
 * percentages read, and samples summarised, as tables of exact inputs and outputs. The init
 * script's bash is run on the same samples in initScriptUtilization.test.ts.
 */
import * as assert from "node:assert/strict";
import {
  bytesOfDockerSize,
  formatBytes,
  hundredthsOfPercent,
  parseDockerStatsLine,
  summariseUtilization,
  type UtilizationSample,
} from "../../launcher/utilization";

describe("utilization figures", () => {
  describe("bytesOfDockerSize", () => {
    const table: Array<[string, number | undefined]> = [
      ["0B", 0],
      ["512B", 512],
      ["1KiB", 1024],
      ["1.5GiB", 1610612736],
      ["7.629GiB", 8191576375],
      ["115.2 MiB", 120795955],
      ["796KiB", 815104],
      ["1.045GiB", 1122060206],
      ["2TiB", 2199023255552],
      ["12kB", 12000],
      ["3.568MB", 3568000],
      ["1.5GB", 1500000000],
      ["--", undefined],
      ["", undefined],
      ["1.5", 1],
      ["1.5XiB", undefined],
      ["-1GiB", undefined],
    ];
    for (const [text, bytes] of table) {
      it(`${JSON.stringify(text)} → ${bytes}`, () => assert.equal(bytesOfDockerSize(text), bytes));
    }
  });

  describe("hundredthsOfPercent", () => {
    const table: Array<[string, number | undefined]> = [
      ["0.00%", 0],
      ["153.27%", 15327],
      ["99.5%", 9950],
      ["7%", 700],
      ["12.3456%", 1234],
      ["--", undefined],
      ["12.3", undefined],
      ["-1.00%", undefined],
    ];
    for (const [text, hundredths] of table) {
      it(`${JSON.stringify(text)} → ${hundredths}`, () =>
        assert.equal(hundredthsOfPercent(text), hundredths));
    }
  });

  it("reads a docker stats line, and nothing from a line of a container that is gone", () => {
    assert.deepEqual(parseDockerStatsLine("1.5GiB / 7.5GiB|153.27%"), {
      memoryBytes: 1610612736,
      cpuHundredths: 15327,
    });
    assert.deepEqual(parseDockerStatsLine("115.2 MiB / 1.045 GiB|0.02%"), {
      memoryBytes: 120795955,
      cpuHundredths: 2,
    });
    assert.equal(parseDockerStatsLine("0B / 0B|--"), undefined);
    assert.equal(parseDockerStatsLine("no such container"), undefined);
  });

  describe("summariseUtilization", () => {
    const GiB = 1024 ** 3;
    const instance = { memoryBytes: 8 * GiB, vcpus: 4 };
    const cpu = (percents: number[]): UtilizationSample[] =>
      percents.map((p) => ({ memoryBytes: GiB, cpuHundredths: p * 100 }));

    it("gives peak and mean memory in bytes and % of the instance, mean and p95 CPU of all vCPUs", () => {
      const samples = [
        { memoryBytes: 1 * GiB, cpuHundredths: 40000 },
        { memoryBytes: 3 * GiB, cpuHundredths: 20000 },
        { memoryBytes: 2 * GiB, cpuHundredths: 0 },
      ];
      assert.deepEqual(summariseUtilization(samples, instance, false), {
        samples: 3,
        intervalSeconds: 5,
        instanceMemoryBytes: 8 * GiB,
        instanceVcpus: 4,
        peakMemoryBytes: 3 * GiB,
        meanMemoryBytes: 2 * GiB,
        peakMemoryPercent: 37.5,
        meanMemoryPercent: 25,
        meanCpuPercent: 50,
        // ⌈0.95 × 3⌉ = the 3rd smallest: 400 % of one CPU, all four vCPUs.
        p95CpuPercent: 100,
        oomKilled: false,
      });
    });

    // Nearest rank: the ⌈0.95 n⌉-th smallest sample.
    const p95Table: Array<[number[], number]> = [
      [[10], 2.5],
      [[10, 20], 5],
      [Array.from({ length: 20 }, (_, i) => (i + 1) * 10), 47.5],
      [Array.from({ length: 21 }, (_, i) => (i + 1) * 10), 50],
      [Array.from({ length: 100 }, (_, i) => i + 1), 23.75],
    ];
    for (const [percents, p95] of p95Table) {
      it(`p95 of ${percents.length} sample(s) on 4 vCPUs is ${p95}%`, () =>
        assert.equal(summariseUtilization(cpu(percents), instance, null).p95CpuPercent, p95));
    }

    it("rounds down to hundredths, as the script's integer arithmetic does", () => {
      const summary = summariseUtilization(
        [{ memoryBytes: 1_000_000_007, cpuHundredths: 101 }],
        { memoryBytes: 3_000_000_000, vcpus: 3 },
        false,
      );
      assert.equal(summary.peakMemoryPercent, 33.33);
      assert.equal(summary.meanCpuPercent, 0.33);
    });

    it("keeps exact percentages of terabytes, beyond a double's exact integers", () => {
      const TiB = 1024 ** 4;
      const samples = Array.from({ length: 4000 }, () => ({ memoryBytes: TiB, cpuHundredths: 1 }));
      const summary = summariseUtilization(samples, { memoryBytes: 2 * TiB + 1, vcpus: 1 }, null);
      assert.equal(summary.peakMemoryPercent, 49.99);
      assert.equal(summary.meanMemoryBytes, TiB);
    });

    it("leaves out what it cannot know: no samples, no instance memory or vCPUs", () => {
      const none = summariseUtilization([], instance, true);
      assert.equal(none.samples, 0);
      assert.equal(none.oomKilled, true);
      assert.deepEqual(
        [none.peakMemoryBytes, none.meanMemoryPercent, none.meanCpuPercent, none.p95CpuPercent],
        [null, null, null, null],
      );
      const blind = summariseUtilization(cpu([50]), { memoryBytes: null, vcpus: null }, null);
      assert.equal(blind.peakMemoryBytes, GiB);
      assert.deepEqual(
        [blind.peakMemoryPercent, blind.meanCpuPercent, blind.instanceVcpus],
        [null, null, null],
      );
    });
  });

  it("formats sizes in binary units, rounded to one decimal", () => {
    assert.deepEqual(
      [0, 1023, 1536, 327050854, 8053063680, 34359738368, 5 * 1024 ** 4].map(formatBytes),
      ["0 B", "1023 B", "1.5 KiB", "311.9 MiB", "7.5 GiB", "32.0 GiB", "5.0 TiB"],
    );
  });
});
