/**
 * The time-budget planner: from the steps measured so far, the digit target of the next step, or
 * none when no worthwhile step would finish in the time left. Pure: times are plain numbers.
 */
import { MAX_DIGITS } from "./chudnovsky";

/** One finished step: `digits` computed in `ms` milliseconds. */
export interface StepTiming {
  digits: number;
  ms: number;
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
};

/** The exponent k in time ~ digits^k, measured from the last two long enough steps. */
export function growthExponent(
  history: readonly StepTiming[],
  options: PlannerOptions = DEFAULT_PLANNER_OPTIONS,
): number {
  const measurable = history.filter((s) => s.ms >= options.minMeasurableMs);
  if (measurable.length < 2) return options.defaultExponent;
  const [before, last] = measurable.slice(-2);
  if (last.digits <= before.digits) return options.defaultExponent;
  const k = Math.log(last.ms / before.ms) / Math.log(last.digits / before.digits);
  if (!Number.isFinite(k)) return options.defaultExponent;
  return Math.min(options.maxExponent, Math.max(options.minExponent, k));
}

/** Predicted milliseconds of a step of `digits`, extrapolated from the last step. */
export function predictStepMs(
  history: readonly StepTiming[],
  digits: number,
  options: PlannerOptions = DEFAULT_PLANNER_OPTIONS,
): number {
  const last = history[history.length - 1];
  if (!last) throw new Error("predictStepMs: no step measured yet");
  // A step never takes 0 ms, whatever the timer says.
  const lastMs = Math.max(last.ms, 1);
  return lastMs * (digits / last.digits) ** growthExponent(history, options);
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
 * adds less than `minGain` or the maximum is reached. The first step is `initialDigits`.
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
  const lastMs = Math.max(last.ms, 1);
  const fitting = last.digits * (budget / lastMs) ** (1 / k);
  const target = roundDown3(
    Math.min(last.digits * options.growthFactor, fitting, options.maxDigits),
  );
  return target >= last.digits * options.minGain ? target : undefined;
}
