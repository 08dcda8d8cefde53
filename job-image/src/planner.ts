/**
 * The time-budget planner: from the steps measured so far, the digit target of the next step, or
 * none when no worthwhile step would finish in the time left. Pure: times are plain numbers.
 */
import { MAX_DIGITS } from "./chudnovsky";

/**
 * One finished step: `digits` computed in `ms` milliseconds. `from`: the digits of the earlier
 * step whose series part it extended (see {@link PlannerOptions.seriesShare}); 0 or absent when
 * it summed the series from term 0.
 */
export interface StepTiming {
  digits: number;
  ms: number;
  from?: number;
  /** false when the step kept nothing a next step could extend: that one starts from scratch. */
  extendable?: boolean;
}

/** Tuning of {@link planNextStep}; every field has a default in {@link DEFAULT_PLANNER_OPTIONS}. */
export interface PlannerOptions {
  /** Digits of the first step, whose time cannot be predicted. */
  initialDigits: number;
  /** Largest target (V8's BigInt size limit). */
  maxDigits: number;
  /** Largest ratio between two targets: the doubling. */
  growthFactor: number;
  /** Smallest ratio worth a step: a step that adds less ends the run. */
  minGain: number;
  /** Predicted times are multiplied by this before they are compared with the time left. */
  safetyFactor: number;
  /** Exponent of time over digits used until two steps are long enough to measure it. */
  defaultExponent: number;
  /** Bounds of the measured exponent (timer noise in short steps can give anything). */
  minExponent: number;
  maxExponent: number;
  /** Steps shorter than this are too noisy to measure growth from. */
  minMeasurableMs: number;
  /**
   * Share of a from-scratch step's time spent summing the series, the part an incremental step
   * (one with `from`) does not repeat. The model: a from-scratch step of d digits takes
   * T(d) = c d^k, and a step from f to d digits T(d) - seriesShare T(f). 0: every step costs as
   * much as from scratch (steps without `from` do anyway).
   */
  seriesShare: number;
  /**
   * Look one step ahead: when the largest target that fits now (beyond the doubling, up to
   * `maxJump` times the last) gives more digits than the doubling and the largest step that
   * would fit after it, take it: that step is the last, and the time a doubling and its
   * finalization would cost is not lost. For incremental steps, where a step's finalization is
   * the part that is repeated.
   */
  lookahead: boolean;
  /** Largest ratio between two targets when `lookahead` goes beyond the doubling. */
  maxJump: number;
}

/**
 * Defaults. The exponent of Chudnovsky with FFT multiplication is slightly above 1 in theory
 * (n log^2 n); 1.3 is what 100k to 1M digits measured with V8 11.3.
 */
export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = {
  initialDigits: 1000,
  maxDigits: MAX_DIGITS,
  growthFactor: 2,
  minGain: 1.1,
  safetyFactor: 1.25,
  defaultExponent: 1.3,
  minExponent: 1,
  maxExponent: 2.5,
  minMeasurableMs: 20,
  lookahead: false,
  maxJump: 4,
  seriesShare: 0,
};

/**
 * The time `step` would have taken from scratch, T(step.digits), under the model of
 * {@link PlannerOptions.seriesShare} with exponent `k`. A step never takes 0 ms, whatever the
 * timer says.
 */
function scratchMs(step: StepTiming, k: number, options: PlannerOptions): number {
  const from = Math.min(step.from ?? 0, step.digits);
  return Math.max(step.ms, 1) / (1 - options.seriesShare * (from / step.digits) ** k);
}

/**
 * The smallest exponent the job's steps have shown where a wrong prediction costs the most (the
 * last, largest step). Steps below a second measure lower (256,000 to 512,000 digits in 0.4 and
 * 0.8 s gives about 1.0: fixed costs weigh more in small steps), and a last step planned with
 * that runs long: measured on one core at 5 s, 512,000 to 1,360,000 digits, predicted 2.3 s,
 * took 3.0 s (k = 1.23), 0.1 s before the deadline; on a busier moment it is cut off and the run
 * keeps 512,000 digits.
 */
export const MEASURED_MIN_EXPONENT = 1.2;

/**
 * The job's planner settings: its steps are incremental (each extends the series part of the one
 * before), so about half of a from-scratch step's time is not repeated (`seriesShare`, measured
 * 0.55 to 0.6 on one thread from 1M to 2M digits; 0.5 leans to overestimating), and
 * what is repeated is each step's finalization, so rather one larger last step than a doubling
 * followed by time too short for another step (`lookahead`), with the exponent held to what long
 * steps measure (`MEASURED_MIN_EXPONENT`).
 */
export const INCREMENTAL_PLANNER: Partial<PlannerOptions> = {
  seriesShare: 0.5,
  lookahead: true,
  minExponent: MEASURED_MIN_EXPONENT,
};

/** The share of T(last) a step after `last` does not repeat. */
function reusedShare(last: StepTiming, options: PlannerOptions): number {
  return last.extendable === false ? 0 : options.seriesShare;
}

/** The exponent k in time ~ digits^k, measured from the last two long enough steps. */
export function growthExponent(
  history: readonly StepTiming[],
  options: PlannerOptions = DEFAULT_PLANNER_OPTIONS,
): number {
  const measurable = history.filter((s) => s.ms >= options.minMeasurableMs);
  if (measurable.length < 2) return options.defaultExponent;
  const [before, last] = measurable.slice(-2);
  if (last.digits <= before.digits) return options.defaultExponent;
  // The from-scratch times depend on k itself (when steps are incremental): a few rounds of
  // fixed-point iteration settle it (without seriesShare the first round is exact).
  let k = options.defaultExponent;
  for (let round = 0; round < (options.seriesShare > 0 ? 8 : 1); round++) {
    const measured =
      Math.log(scratchMs(last, k, options) / scratchMs(before, k, options)) /
      Math.log(last.digits / before.digits);
    if (!Number.isFinite(measured)) return options.defaultExponent;
    k = Math.min(options.maxExponent, Math.max(options.minExponent, measured));
  }
  return k;
}

/**
 * Predicted milliseconds of a step of `digits`, extrapolated from the last step: a step that
 * extends the last one's series (the job's incremental steps) when `seriesShare` is set.
 */
export function predictStepMs(
  history: readonly StepTiming[],
  digits: number,
  options: PlannerOptions = DEFAULT_PLANNER_OPTIONS,
): number {
  const last = history[history.length - 1];
  if (!last) throw new Error("predictStepMs: no step measured yet");
  const k = growthExponent(history, options);
  const reused = digits > last.digits ? reusedShare(last, options) : 0;
  return scratchMs(last, k, options) * ((digits / last.digits) ** k - reused);
}

/** `n` rounded down to three significant digits, so targets read well in logs (1,230,000). */
function roundDown3(n: number): number {
  if (n < 1000) return Math.floor(n);
  const unit = 10 ** (Math.floor(Math.log10(n)) - 2);
  return Math.floor(n / unit) * unit;
}

/**
 * The digit target of the next step: double the last one if the prediction (times the safety
 * factor) fits in `remainingMs`, else the largest target that fits, or `undefined` when even that
 * adds less than `minGain` or the maximum is reached. The first step is `initialDigits`. With
 * `lookahead`, a doubling gives way to the largest target that fits (up to `maxJump`) when that
 * one step reaches more digits than the doubling and the step after it would.
 */
export function planNextStep(
  history: readonly StepTiming[],
  remainingMs: number,
  overrides: Partial<PlannerOptions> = {},
): number | undefined {
  const options = { ...DEFAULT_PLANNER_OPTIONS, ...overrides };
  if (!(remainingMs > 0)) return undefined;
  const last = history[history.length - 1];
  if (!last) return Math.min(options.initialDigits, options.maxDigits);
  const budget = remainingMs / options.safetyFactor;
  const k = growthExponent(history, options);
  // The largest d with predictStepMs(d) <= budget: T(last) ((d / last)^k - seriesShare) <= budget.
  const fitting =
    last.digits * (budget / scratchMs(last, k, options) + reusedShare(last, options)) ** (1 / k);
  const doubled = last.digits * options.growthFactor;
  let target = roundDown3(Math.min(doubled, fitting, options.maxDigits));
  const jump = roundDown3(Math.min(fitting, last.digits * options.maxJump, options.maxDigits));
  if (options.lookahead && doubled <= fitting && jump > target) {
    // Where the doubling leads: itself, or the largest step that would fit after it.
    const ms = predictStepMs(history, doubled, options);
    const after = [...history, { digits: doubled, ms, from: last.digits }];
    const next = planNextStep(after, remainingMs - ms, {
      ...options,
      lookahead: false,
      growthFactor: options.maxJump,
    });
    if (jump > Math.max(target, next ?? 0)) target = jump;
  }
  return target >= last.digits * options.minGain ? target : undefined;
}
