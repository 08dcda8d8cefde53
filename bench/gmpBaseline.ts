/**
 * The native baseline of benchmark 1: Chudnovsky on GMP (`bench/chudnovskyGmp.c`), compiled with
 * gcc at bench time, and the most digits it computes in one run within a duration on one pinned
 * CPU. The search is planned by pure functions; only {@link measureGmpDigits} runs programs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { hasCommand, runChild } from "./child";

const SOURCE = path.join(__dirname, "chudnovskyGmp.c");

/** One run of the native program: `digits` places in `seconds` (its own clock, series to string). */
export interface GmpRun {
  digits: number;
  seconds: number;
}

/**
 * Sizes of the first runs, whose times the search extrapolates from: below 1M digits the
 * exponent they give is noise (0.5M to 1M measured under 1).
 */
export const GMP_PROBE_DIGITS = [1_000_000, 2_000_000] as const;

/** Runs aimed at a duration, at most: the first, and one more when it overshot or fell short. */
export const GMP_RUNS_PER_DURATION = 2;

/** A run within this share of the duration is close enough: no second run. */
export const GMP_CLOSE_ENOUGH = 0.93;

/** The time a run is aimed at, as a share of the duration: the extrapolation is not exact. */
export const GMP_AIM = 0.96;

/**
 * The digits whose run is predicted to take `seconds`, from the two runs nearest to it in time
 * (time ~ digits^k, k measured from them and kept within [1, 2]), rounded down to three
 * significant digits.
 */
export function predictGmpDigits(runs: readonly GmpRun[], seconds: number): number {
  const usable = runs.filter((r) => r.seconds > 0);
  if (usable.length < 2) {
    throw new Error(`predictGmpDigits: needs two timed runs, got ${usable.length}`);
  }
  const [a, b] = [...usable]
    .sort(
      (x, y) => Math.abs(Math.log(x.seconds / seconds)) - Math.abs(Math.log(y.seconds / seconds)),
    )
    .slice(0, 2)
    .sort((x, y) => x.digits - y.digits);
  const measured = Math.log(b.seconds / a.seconds) / Math.log(b.digits / a.digits);
  const k = Number.isFinite(measured) ? Math.min(2, Math.max(1, measured)) : 1.2;
  const digits = b.digits * (seconds / b.seconds) ** (1 / k);
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(digits)) - 2);
  return Math.max(1, Math.floor(digits / unit) * unit);
}

/** The largest run that finished within `seconds`, or undefined when none did. */
export function bestWithin(runs: readonly GmpRun[], seconds: number): GmpRun | undefined {
  return runs
    .filter((r) => r.seconds <= seconds)
    .reduce<GmpRun | undefined>(
      (best, r) => (!best || r.digits > best.digits ? r : best),
      undefined,
    );
}

/**
 * The next size to run when aiming at `seconds`, given every run so far and how many were aimed
 * at it: undefined when a run landed within [{@link GMP_CLOSE_ENOUGH}, 1] of it or the runs per
 * duration are spent.
 */
export function nextGmpRun(
  runs: readonly GmpRun[],
  seconds: number,
  aimedSoFar: number,
): number | undefined {
  if (aimedSoFar >= GMP_RUNS_PER_DURATION) return undefined;
  if (runs.some((r) => r.seconds <= seconds && r.seconds >= GMP_CLOSE_ENOUGH * seconds)) {
    return undefined;
  }
  const digits = predictGmpDigits(runs, GMP_AIM * seconds);
  return runs.some((r) => r.digits === digits) ? undefined : digits;
}

/** The native program, built, or why it could not be. */
export type GmpProgram = { binary: string } | { unavailable: string };

/** Compiles the native program into `dir` with gcc and libgmp, or says why it cannot. */
export async function compileGmp(dir: string): Promise<GmpProgram> {
  if (!hasCommand("gcc")) return { unavailable: "gcc is not on PATH" };
  const binary = path.join(dir, "chudnovsky-gmp");
  const build = await runChild("gcc", ["-O2", "-o", binary, SOURCE, "-lgmp", "-lm"], {
    timeoutMs: 60_000,
    allowFailure: true,
  });
  if (build.status !== 0 || !fs.existsSync(binary)) {
    const first = (build.stderr || build.stdout).trim().split("\n")[0] ?? "";
    return { unavailable: `gcc could not build it with libgmp (gmp.h, -lgmp): ${first}` };
  }
  return { binary };
}

/** Runs the native program once for `digits` places, pinned to `cpu` when given. */
export async function runGmp(
  binary: string,
  digits: number,
  cpu: number | undefined,
  out: string,
): Promise<GmpRun> {
  const args = [String(digits), out];
  const [file, argv] =
    cpu === undefined ? [binary, args] : ["taskset", ["-c", String(cpu), binary, ...args]];
  const run = await runChild(file, argv, { timeoutMs: 600_000 });
  const result = JSON.parse(run.stdout.trim()) as GmpRun;
  if (result.digits !== digits || !(result.seconds >= 0)) {
    throw new Error(`${binary} ${digits}: unexpected answer ${run.stdout.trim()}`);
  }
  return result;
}

/** What {@link measureGmpDigits} found: per duration, the largest run within it. */
export interface GmpMeasurement {
  /** Every run, probes included, in order. */
  runs: GmpRun[];
  /** Duration (seconds) → the largest run that finished within it. */
  within: Record<number, GmpRun | undefined>;
  /** The file with the largest run's digits, `3.<places>`. */
  piFile: string;
}

/**
 * The most digits the native program computes in one run within each duration: probe runs,
 * then at most {@link GMP_RUNS_PER_DURATION} runs aimed at each duration.
 */
export async function measureGmpDigits(
  binary: string,
  durations: readonly number[],
  cpu: number | undefined,
  dir: string,
  log: (line: string) => void,
): Promise<GmpMeasurement> {
  const runs: GmpRun[] = [];
  let largest = 0;
  const piFile = path.join(dir, "gmp-pi.txt");
  const scratch = path.join(dir, "gmp-run.txt");
  const run = async (digits: number) => {
    const result = await runGmp(binary, digits, cpu, scratch);
    runs.push(result);
    if (digits > largest) {
      largest = digits;
      fs.renameSync(scratch, piFile);
    }
    log(`pi: native GMP ${digits.toLocaleString("en-US")} digits in ${result.seconds} s`);
  };
  for (const digits of GMP_PROBE_DIGITS) await run(digits);
  const within: Record<number, GmpRun | undefined> = {};
  for (const seconds of [...durations].sort((a, b) => a - b)) {
    for (let aimed = 0; ; aimed++) {
      const digits = nextGmpRun(runs, seconds, aimed);
      if (digits === undefined) break;
      await run(digits);
    }
    within[seconds] = bestWithin(runs, seconds);
  }
  return { runs, within, piFile };
}
