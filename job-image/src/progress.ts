/**
 * Progress output. On a terminal, one line redrawn a few times a second with the digits reached,
 * the step under way and the time left; in logs (not a TTY), one plain line per finished step.
 */

/** What the progress line shows. */
export interface ProgressState {
  /** Digits of the last verified step (0 before the first). */
  digits: number;
  /** Target of the step under way, if any. */
  computing?: number;
  /** Milliseconds until the deadline. */
  leftMs: number;
}

const number = new Intl.NumberFormat("en-US");

/** Digits grouped by thousands: `1,234,567`. */
export function formatCount(n: number): string {
  return number.format(n);
}

function formatSeconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

/** The terminal line, without control characters. */
export function formatProgressLine(state: ProgressState): string {
  const parts = [`pi: ${formatCount(state.digits)} digits`];
  if (state.computing !== undefined) parts.push(`computing ${formatCount(state.computing)}`);
  parts.push(`${formatSeconds(state.leftMs)} left`);
  return parts.join(" | ");
}

/** The log line of a finished step. */
export function formatStepLine(step: number, digits: number, ms: number, leftMs: number): string {
  return `pi: step ${step} verified ${formatCount(digits)} digits in ${formatSeconds(ms)}, ${formatSeconds(leftMs)} left`;
}

/** Receives the job's events; see {@link createProgressReporter}. */
export interface ProgressReporter {
  stepStarted(target: number): void;
  stepFinished(digits: number, ms: number): void;
  /** Ends the terminal line (or does nothing in logs); call before printing anything else. */
  stop(): void;
}

/** Options of {@link createProgressReporter}. */
export interface ProgressOptions {
  write: (text: string) => void;
  /** Redraw one line (a terminal) or print one line per step (logs). */
  tty: boolean;
  /** Milliseconds left, read when drawing. */
  leftMs: () => number;
  /** Redraw interval on a terminal; default 200 ms. */
  intervalMs?: number;
}

/** A reporter writing through `write`; on a terminal it redraws on a timer until {@link ProgressReporter.stop}. */
export function createProgressReporter(options: ProgressOptions): ProgressReporter {
  const state: ProgressState = { digits: 0, leftMs: options.leftMs() };
  let steps = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    state.leftMs = options.leftMs();
    options.write(`\r\x1b[2K${formatProgressLine(state)}`);
  };
  if (options.tty) {
    timer = setInterval(draw, options.intervalMs ?? 200);
    // The ticker alone must not keep the process alive.
    timer.unref();
  }
  return {
    stepStarted(target) {
      state.computing = target;
      if (options.tty) draw();
    },
    stepFinished(digits, ms) {
      steps += 1;
      state.digits = digits;
      state.computing = undefined;
      if (options.tty) draw();
      else options.write(`${formatStepLine(steps, digits, ms, options.leftMs())}\n`);
    },
    stop() {
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      state.computing = undefined;
      draw();
      options.write("\n");
    },
  };
}
