/**
 * The run loop: steps of growing digit targets chosen by the planner, each checked against the
 * one before, until the next step would not fit, a step is cut off at the deadline, or a stop is
 * requested. The computation and the clock are injected, so the loop is tested without threads.
 */
import {
  DEFAULT_PLANNER_OPTIONS,
  planNextStep,
  PlannerOptions,
  predictStepMs,
  StepTiming,
} from "./planner";
import type { StopReason } from "./manifest";

/** Pi to 50 places, to check the first step (later steps are checked against the one before). */
export const KNOWN_PREFIX = "3.14159265358979323846264338327950288419716939937510";

/** A step disagreed with the previous one (or with {@link KNOWN_PREFIX}): a bug, never stored. */
export class VerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VerificationError";
  }
}

/** Options of {@link runPiJob}. */
export interface PiJobOptions {
  /** When the computation must end, in the milliseconds of `now`. */
  deadline: number;
  /** The clock; default `performance.now` (milliseconds since the process started). */
  now?: () => number;
  /**
   * Computes `"3.1415…"` with `digits` places; rejects (or is abandoned) when `signal` fires.
   * `step.mayContinue` is false when the planner expects no further step, so state kept for the
   * next step (the series part's P) can be dropped; a further step must still work without it.
   */
  compute: (digits: number, signal: AbortSignal, step: StepHint) => Promise<string>;
  /** A stop request (SIGTERM): the step under way is dropped, the last verified one is kept. */
  signal?: AbortSignal;
  planner?: Partial<PlannerOptions>;
  onStepStarted?: (target: number) => void;
  onStepFinished?: (digits: number, ms: number) => void;
  /** After each verified step: the result so far and the steps that led to it (a checkpoint's). */
  onStepVerified?: (state: { pi: string; steps: readonly StepTiming[] }) => void;
  /**
   * Where an earlier attempt of the run left off (its checkpoint): the loop continues from its
   * result and steps. `extendable`: the series part it kept has P, so the next step extends it.
   */
  resume?: { pi: string; steps: readonly StepTiming[]; extendable: boolean };
}

/** What the loop tells `compute` about a step beyond its target. */
export interface StepHint {
  /** Whether a later step may follow this one (see {@link mayContinueAfter}). */
  mayContinue: boolean;
}

/**
 * Whether another step could follow one of `target` digits started with `remainingMs` left: the
 * planner is asked as if the step took its predicted time. When it was wrong (the step was much
 * faster), the next step starts from scratch and is planned as such (`extendable: false`). The
 * first step: true.
 */
export function mayContinueAfter(
  steps: readonly StepTiming[],
  target: number,
  remainingMs: number,
  planner: Partial<PlannerOptions> = {},
): boolean {
  const options = { ...DEFAULT_PLANNER_OPTIONS, ...planner };
  if (target >= options.maxDigits) return false;
  if (steps.length === 0) return true;
  const last = steps[steps.length - 1];
  const ms = predictStepMs(steps, target, options);
  const after = [...steps, { digits: target, ms, from: last.digits }];
  return planNextStep(after, remainingMs - ms, planner) !== undefined;
}

/** The outcome of {@link runPiJob}. */
export interface PiJobResult {
  /** The last verified result, `"3.1415…"`; undefined if no step finished. */
  pi?: string;
  /** Every finished step, in order. */
  steps: StepTiming[];
  stopReason: StopReason;
  /** `now()` when the loop ended. */
  endedAt: number;
}

/** The first index where `a` and `b` differ within their common length, or -1. */
function firstDifference(a: string, b: string): number {
  const common = Math.min(a.length, b.length);
  if (a.slice(0, common) === b.slice(0, common)) return -1;
  let i = 0;
  while (a[i] === b[i]) i++;
  return i;
}

/** Checks `next` (for `digits` places) against `previous` on their common prefix. */
export function verifyStep(next: string, digits: number, previous: string | undefined): void {
  if (next.length !== digits + 2 || !/^3\.\d+$/.test(next)) {
    throw new VerificationError(
      `step of ${digits} digits returned ${next.length} characters starting ${JSON.stringify(next.slice(0, 12))}; expected "3." and ${digits} digits`,
    );
  }
  const reference = previous ?? KNOWN_PREFIX;
  const at = firstDifference(next, reference);
  if (at >= 0) {
    throw new VerificationError(
      `step of ${digits} digits disagrees with ${previous ? "the previous step" : "the known prefix"} at decimal place ${at - 1}: ${JSON.stringify(next.slice(Math.max(0, at - 5), at + 5))} vs ${JSON.stringify(reference.slice(Math.max(0, at - 5), at + 5))}`,
    );
  }
}

function whenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new Error(`aborted: ${String(signal.reason)}`));
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
}

/**
 * Runs steps until the planner finds no step that fits before `deadline`. A step still running at
 * the deadline or at a stop request is abandoned (its `signal` fires), so the loop returns by the
 * deadline whatever `compute` does. Throws {@link VerificationError} if a step disagrees.
 */
export async function runPiJob(options: PiJobOptions): Promise<PiJobResult> {
  const now = options.now ?? (() => performance.now());
  const maxDigits = options.planner?.maxDigits ?? DEFAULT_PLANNER_OPTIONS.maxDigits;
  const steps: StepTiming[] = [...(options.resume?.steps ?? [])];
  let pi: string | undefined = options.resume?.pi;
  if (pi !== undefined) verifyStep(pi, pi.length - 2, undefined);
  // Digits of the last step when it kept what a next step extends (`mayContinue`), else 0.
  let extendable = options.resume?.extendable && pi !== undefined ? pi.length - 2 : 0;
  const done = (stopReason: StopReason): PiJobResult => ({ pi, steps, stopReason, endedAt: now() });

  for (;;) {
    if (options.signal?.aborted) return done("signal");
    const remaining = options.deadline - now();
    const target = planNextStep(steps, remaining, options.planner);
    if (target === undefined) {
      const last = steps[steps.length - 1];
      return done(pi && last && last.digits >= maxDigits ? "max-digits" : "planned");
    }
    options.onStepStarted?.(target);
    const step = new AbortController();
    const timer = setTimeout(() => step.abort("deadline"), Math.max(0, remaining));
    const stop = () => step.abort("signal");
    options.signal?.addEventListener("abort", stop, { once: true });
    const hint = { mayContinue: mayContinueAfter(steps, target, remaining, options.planner) };
    const started = now();
    let result: string;
    try {
      result = await Promise.race([
        options.compute(target, step.signal, hint),
        whenAborted(step.signal),
      ]);
    } catch (error) {
      if (step.signal.aborted) return done(step.signal.reason === "signal" ? "signal" : "deadline");
      throw error;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", stop);
    }
    const ms = now() - started;
    verifyStep(result, target, pi);
    pi = result;
    const timing: StepTiming = { digits: target, ms };
    if (extendable > 0) timing.from = extendable;
    if (!hint.mayContinue) timing.extendable = false;
    steps.push(timing);
    extendable = hint.mayContinue ? target : 0;
    options.onStepFinished?.(target, ms);
    options.onStepVerified?.({ pi, steps });
  }
}
