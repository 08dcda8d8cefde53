/**
 * Benchmark 1: our Pi job against the reference design's job (Gibbons' spigot in pure Python,
 * `bench/gibbons.py`), both given the same durations. One core: both pinned to the same CPU with
 * `taskset`, our job with one worker thread. All cores: our job with one worker per CPU, unpinned.
 * Both programs run as they would in production, start-up included, and their digits are checked
 * against each other. Then the hardware's limit: the most digits native GMP computes in one run
 * within the same durations on the same CPU (`gmpBaseline.ts`), when gcc and libgmp are present.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Manifest } from "../job-image/src/manifest";
import { allowedCpus, hasCommand, runChild } from "./child";
import { compileGmp, measureGmpDigits, type GmpMeasurement } from "./gmpBaseline";
import {
  checked,
  checkedFlag,
  info,
  formatNumber,
  formatRatio,
  type BenchmarkResult,
  type Figure,
  type RunOptions,
} from "./report";

const PROJECT_ROOT = path.resolve(__dirname, "..");
const JOB_MAIN = path.join(PROJECT_ROOT, "job-image", "dist", "main.js");
const REFERENCE = path.join(__dirname, "gibbons.py");

/** Durations (seconds) of the one-core comparison and of the all-cores runs. */
export const DURATIONS = {
  full: { oneCore: [2, 5, 10, 30, 60, 120], allCores: [10, 120], gmp: [10, 120] },
  quick: { oneCore: [2, 5], allCores: [5], gmp: [5] },
} as const;

/** Targets of the issue: ours / reference digits on one core, by duration. */
export const RATIO_TARGETS: Readonly<Record<number, number>> = { 10: 200, 120: 500 };

/** Target of the issue: our digits as a share of native GMP's in the same time on one core. */
export const GMP_SHARE_TARGET_PERCENT = 25;

/**
 * Smallest acceptable growth of our digits per doubling of the duration: with Chudnovsky the time
 * grows as digits^k with k a little above 1, so a doubling should give well over 1.5× the digits;
 * below 1.3× the curve is collapsing.
 */
export const MIN_GROWTH_PER_DOUBLING = 1.3;

/** One run of either program. */
export interface PiRun {
  program: "ours" | "reference";
  durationSeconds: number;
  /** Worker threads (ours) or 1 (reference). */
  threads: number;
  /** The CPU both programs were pinned to, if any. */
  pinnedCpu?: number;
  /** Decimal places reached. */
  digits: number;
  /** Seconds the program says it computed for (ours: process start to the end of the last step). */
  seconds: number;
  /** Wall time of the process, spawn to exit. */
  wallSeconds: number;
  /** Our job's steps: digits and seconds of each. */
  steps?: { digits: number; seconds: number }[];
  /** File with `3.<digits>`. */
  piFile: string;
  /** 1-minute load average when the run started: how busy the shared machine was. */
  loadAverage: number;
}

function pinned(cpu: number | undefined, file: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [file, args] : ["taskset", ["-c", String(cpu), file, ...args]];
}

async function runOurs(
  durationSeconds: number,
  threads: number,
  cpu: number | undefined,
  dir: string,
): Promise<PiRun> {
  const runId = `bench-${threads}w-${durationSeconds}s`;
  const loadAverage = os.loadavg()[0];
  const [file, args] = pinned(cpu, process.execPath, [
    JOB_MAIN,
    "--duration",
    String(durationSeconds),
    "--workers",
    String(threads),
    "--out",
    dir,
    "--run-id",
    runId,
  ]);
  const run = await runChild(file, args, {
    cwd: dir,
    timeoutMs: durationSeconds * 2000 + 60_000,
  });
  const manifest = JSON.parse(
    fs.readFileSync(path.join(dir, runId, "manifest.json"), "utf8"),
  ) as Manifest;
  return {
    program: "ours",
    durationSeconds,
    threads,
    pinnedCpu: cpu,
    digits: manifest.digits,
    seconds: manifest.seconds,
    wallSeconds: run.wallMs / 1000,
    steps: manifest.steps,
    piFile: path.join(dir, runId, manifest.dataFile),
    loadAverage,
  };
}

async function runReference(
  durationSeconds: number,
  cpu: number | undefined,
  dir: string,
): Promise<PiRun> {
  const piFile = path.join(dir, `reference-${durationSeconds}s.txt`);
  const loadAverage = os.loadavg()[0];
  const [file, args] = pinned(cpu, "python3", [
    REFERENCE,
    "--duration",
    String(durationSeconds),
    "--out",
    piFile,
  ]);
  const run = await runChild(file, args, { cwd: dir, timeoutMs: durationSeconds * 2000 + 60_000 });
  const result = JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}") as {
    digits: number;
    seconds: number;
  };
  return {
    program: "reference",
    durationSeconds,
    threads: 1,
    pinnedCpu: cpu,
    digits: result.digits,
    seconds: result.seconds,
    wallSeconds: run.wallMs / 1000,
    piFile,
    loadAverage,
  };
}

/** The size of an open file without its final newline, if it has one. */
function textLength(fd: number): number {
  const size = fs.fstatSync(fd).size;
  const last = Buffer.alloc(1);
  return size > 0 && fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 0x0a
    ? size - 1
    : size;
}

/**
 * The first position where two files of `3.<digits>` (a final newline aside) differ within their common length, or -1
 * when they agree on it. Read in chunks: the native baseline's file can be 100 MB.
 */
export function firstDifference(fileA: string, fileB: string): number {
  const a = fs.openSync(fileA, "r");
  const b = fs.openSync(fileB, "r");
  try {
    const length = Math.min(textLength(a), textLength(b));
    const chunk = 1 << 20;
    const bufferA = Buffer.alloc(chunk);
    const bufferB = Buffer.alloc(chunk);
    for (let at = 0; at < length; at += chunk) {
      const n = Math.min(chunk, length - at);
      fs.readSync(a, bufferA, 0, n, at);
      fs.readSync(b, bufferB, 0, n, at);
      if (bufferA.compare(bufferB, 0, n, 0, n) !== 0) {
        let i = 0;
        while (bufferA[i] === bufferB[i]) i++;
        return at + i;
      }
    }
    return -1;
  } finally {
    fs.closeSync(a);
    fs.closeSync(b);
  }
}

/** How our run ended: its last step and how much of the duration it used. */
function lastStep(run: PiRun): string {
  const last = run.steps?.[run.steps.length - 1];
  const step = last
    ? `last step ${formatNumber(last.digits)} digits in ${last.seconds.toFixed(2)} s, `
    : "";
  return `${step}done at ${run.seconds.toFixed(1)} s of ${run.durationSeconds} s`;
}

/**
 * The largest step target both runs computed, and how many times faster `fast` computed it than
 * `slow`; undefined when they share no step.
 */
export function stepSpeedUp(
  slow: Pick<PiRun, "steps">,
  fast: Pick<PiRun, "steps">,
): { digits: number; speedUp: number } | undefined {
  const times = new Map((slow.steps ?? []).map((s) => [s.digits, s.seconds]));
  const common = (fast.steps ?? []).filter((s) => times.has(s.digits) && s.seconds > 0);
  const largest = common[common.length - 1];
  if (!largest) return undefined;
  return { digits: largest.digits, speedUp: (times.get(largest.digits) ?? 0) / largest.seconds };
}

/** Growth of digits per doubling of the duration between two runs. */
export function growthPerDoubling(
  before: { durationSeconds: number; digits: number },
  after: { durationSeconds: number; digits: number },
): number {
  const doublings = Math.log2(after.durationSeconds / before.durationSeconds);
  return (after.digits / before.digits) ** (1 / doublings);
}

/** Runs benchmark 1. */
export async function runPiBenchmark(options: RunOptions): Promise<BenchmarkResult> {
  if (!fs.existsSync(JOB_MAIN)) {
    throw new Error(`${JOB_MAIN} is missing; build the job first: npx tsc -p job-image`);
  }
  const durations = options.quick ? DURATIONS.quick : DURATIONS.full;
  const cpus = allowedCpus();
  // The last CPU: the first is where interrupts and most other work tend to land.
  const cpu = hasCommand("taskset") && cpus && cpus.length > 0 ? cpus[cpus.length - 1] : undefined;
  const allCores = os.availableParallelism();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-bench-pi-"));
  const figures: Figure[] = [];
  const runs: PiRun[] = [];
  let gmp: { figures: Figure[]; details: unknown } | undefined;
  const where = cpu === undefined ? "1 thread, unpinned (no taskset)" : `pinned to CPU ${cpu}`;
  try {
    const oneCore: { reference: PiRun; ours: PiRun }[] = [];
    for (const d of durations.oneCore) {
      options.log(`pi: ${d} s on one core: reference (Python), then ours`);
      const reference = await runReference(d, cpu, dir);
      const ours = await runOurs(d, 1, cpu, dir);
      runs.push(reference, ours);
      oneCore.push({ reference, ours });
      const ratio = ours.digits / reference.digits;
      const metric = `${d} s, 1 core: ours / reference digits`;
      const text = `${formatNumber(ours.digits)} / ${formatNumber(reference.digits)} = ${formatRatio(ratio)}`;
      const note = `ours: ${lastStep(ours)}`;
      const target = RATIO_TARGETS[d];
      figures.push(
        target === undefined
          ? info("pi", metric, text, ratio, note)
          : checked("pi", metric, ratio, text, { op: ">=", limit: target, unit: "×" }, note),
      );
    }

    const wrong = oneCore
      .map(({ reference, ours }) => ({
        d: ours.durationSeconds,
        at: firstDifference(reference.piFile, ours.piFile),
      }))
      .filter((x) => x.at >= 0);
    figures.push(
      checkedFlag(
        "pi",
        "reference digits = the prefix of ours, every duration",
        wrong.length === 0,
        true,
        wrong.length === 0
          ? undefined
          : `differ at ${wrong.map((w) => `${w.d} s: character ${w.at}`).join(", ")}`,
      ),
    );

    // The curve: digits per second and growth per doubling of the duration.
    oneCore.forEach(({ ours }, i) => {
      const perSecond = ours.digits / ours.durationSeconds;
      const metric = `${ours.durationSeconds} s, 1 core: our digits/s, growth per doubling`;
      if (i === 0) {
        figures.push(info("pi", metric, `${formatNumber(Math.round(perSecond))}/s`, perSecond));
        return;
      }
      const previous = oneCore[i - 1].ours;
      const growth = growthPerDoubling(previous, ours);
      figures.push(
        checked(
          "pi",
          metric,
          growth,
          `${formatNumber(Math.round(perSecond))}/s, ${growth.toFixed(2)}× per doubling since ${previous.durationSeconds} s`,
          { op: ">=", limit: MIN_GROWTH_PER_DOUBLING, unit: "×" },
        ),
      );
    });

    gmp = await nativeBaseline(durations.gmp, cpu, dir, oneCore, options.log);
    figures.push(...gmp.figures);

    for (const d of durations.allCores) {
      options.log(`pi: ${d} s on all ${allCores} cores: ours`);
      const ours = await runOurs(d, allCores, undefined, dir);
      runs.push(ours);
      const single = oneCore.find((r) => r.ours.durationSeconds === d);
      if (!single) throw new Error(`no one-core run of ${d} s to compare the all-cores run with`);
      const digitsRatio = ours.digits / single.ours.digits;
      // Digits at a duration move in whole planner steps, so the speed-up is read on the
      // largest step both runs computed: the same digits, timed on 1 core and on all.
      const shared = stepSpeedUp(single.ours, ours);
      figures.push(
        info(
          "pi",
          `${d} s, all ${allCores} cores: ours; speed-up over 1 core; vs reference`,
          `${formatNumber(ours.digits)} (${digitsRatio.toFixed(2)}× 1 core's digits); ` +
            (shared
              ? `same ${formatNumber(shared.digits)}-digit step ${shared.speedUp.toFixed(2)}× faster; `
              : "") +
            `${formatRatio(ours.digits / single.reference.digits)} reference`,
          shared?.speedUp ?? digitsRatio,
          `${lastStep(ours)}; 1 core: ${lastStep(single.ours)}; load average ${ours.loadAverage.toFixed(1)} (other users' work takes cores too)`,
        ),
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return {
    figures,
    details: {
      oneCore: where,
      allCores,
      runs: runs.map(({ piFile: _piFile, ...run }) => run),
      nativeGmp: gmp?.details,
    },
  };
}

/** Metric of the share of native GMP's digits at `d` seconds. */
function gmpMetric(d: number): string {
  return `${d} s, 1 core: ours / native GMP digits`;
}

/**
 * The figures of the native baseline: per duration, our one-core digits as a share of the most
 * GMP computes in one run within it, and whether GMP's digits agree with ours; "not measured"
 * with the reason when gcc or libgmp is missing (never an estimate).
 */
async function nativeBaseline(
  durations: readonly number[],
  cpu: number | undefined,
  dir: string,
  oneCore: readonly { ours: PiRun }[],
  log: (line: string) => void,
): Promise<{ figures: Figure[]; details: unknown }> {
  const program = await compileGmp(dir);
  if ("unavailable" in program) {
    log(`pi: native GMP baseline not measured: ${program.unavailable}`);
    return {
      figures: durations.map((d) =>
        info("pi", gmpMetric(d), "not measured", undefined, program.unavailable),
      ),
      details: { unavailable: program.unavailable },
    };
  }
  log(`pi: native GMP (bench/chudnovskyGmp.c) on one core, aimed at ${durations.join(", ")} s`);
  const measured: GmpMeasurement = await measureGmpDigits(program.binary, durations, cpu, dir, log);
  const figures = durations.map((d) => {
    const ours = oneCore.find((r) => r.ours.durationSeconds === d)?.ours;
    const best = measured.within[d];
    if (!ours || !best) {
      return info(
        "pi",
        gmpMetric(d),
        "not measured",
        undefined,
        ours ? "no GMP run fit" : "no run of ours",
      );
    }
    const percent = (100 * ours.digits) / best.digits;
    return checked(
      "pi",
      gmpMetric(d),
      percent,
      `${formatNumber(ours.digits)} / ${formatNumber(best.digits)} = ${percent.toFixed(1)}%`,
      { op: ">=", limit: GMP_SHARE_TARGET_PERCENT, unit: "%" },
      `GMP: one run from scratch, ${best.seconds.toFixed(2)} s by its own clock (series to decimal string); ours: the whole process, start-up and planner steps included`,
    );
  });
  const largestOurs = oneCore.reduce<PiRun | undefined>(
    (best, { ours }) => (!best || ours.digits > best.digits ? ours : best),
    undefined,
  );
  if (largestOurs) {
    const at = firstDifference(measured.piFile, largestOurs.piFile);
    figures.push(
      checkedFlag(
        "pi",
        "native GMP's digits = ours, on their common prefix",
        at < 0,
        true,
        at < 0 ? undefined : `differ at character ${at}`,
      ),
    );
  }
  return { figures, details: { runs: measured.runs, within: measured.within } };
}
