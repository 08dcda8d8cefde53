/**
 * Digits of Pi on a worker pool: the series is cut into ranges computed and merged on every
 * thread while 1/sqrt(10005) is computed beside them; one thread divides, then every thread
 * converts one chunk of places to decimal.
 */
import { setMaxListeners } from "node:events";
import * as os from "node:os";
import { DEFAULT_GUARD_DIGITS, precisionFor, SeriesPart, verifiedDecimals } from "./chudnovsky";
import type { Task } from "./tasks";
import { WorkerPool } from "./workerPool";

/** Options of {@link computePiDigits}. */
export interface ComputePiOptions {
  /** Threads to use when no `pool` is given; default: the number of CPUs. */
  workers?: number;
  /** An existing pool to run on (left open); default: a new pool, closed at the end. */
  pool?: WorkerPool;
  /** Stops the computation; the promise then rejects with `AbortedError`. */
  signal?: AbortSignal;
  /** Guard digits beyond those returned; default {@link DEFAULT_GUARD_DIGITS}. */
  guardDigits?: number;
  /**
   * The series part kept from earlier calls (see {@link SeriesCache}): only the terms it lacks are
   * computed, and it is updated with the part of this call's terms. Default: none, every term.
   */
  cache?: SeriesCache;
  /**
   * Whether the cache keeps P, which a later call needs to extend it; default true (with a
   * `cache`). Pass false when no larger call will follow: P is as large as Q, and is then only
   * memory.
   */
  keepP?: boolean;
}

/**
 * P, Q, T of terms `[0, terms)`, kept between the steps of a run so each step computes only the
 * terms `[terms, n)` it adds and merges them: part(0, n) = mergeSeries(part(0, terms),
 * part(terms, n)). Without `p` it can be reused as it is, not extended. Start with
 * {@link createSeriesCache}.
 */
export interface SeriesCache {
  terms: number;
  part?: SeriesPart;
}

/** An empty {@link SeriesCache}. */
export function createSeriesCache(): SeriesCache {
  return { terms: 0 };
}

/** Ranges shorter than this are not split across threads: messages would cost more than the work. */
const MIN_TERMS_PER_TASK = 256;

/** Ranges per thread, so a thread that finishes early finds more work. */
const TASKS_PER_THREAD = 4;

/** Decimal conversion is not split below this many places per chunk. */
const MIN_PLACES_PER_CHUNK = 10_000;

/**
 * The first `decimals` decimal places of Pi, as `"3.1415…"` (length `decimals + 2`). Every digit
 * is certain: the rounding is checked with guard digits, and computed again with more guard
 * digits in the rare case it is too close to call.
 */
export async function computePiDigits(
  decimals: number,
  options: ComputePiOptions = {},
): Promise<string> {
  const pool = options.pool ?? new WorkerPool(options.workers ?? os.availableParallelism());
  // One listener on the caller's signal instead of one per task.
  const local = new AbortController();
  setMaxListeners(0, local.signal);
  const forward = () => local.abort(options.signal?.reason);
  if (options.signal?.aborted) forward();
  options.signal?.addEventListener("abort", forward, { once: true });
  try {
    let guard = options.guardDigits ?? DEFAULT_GUARD_DIGITS;
    for (;;) {
      const digits = await computeOnce(pool, decimals, guard, local.signal, {
        cache: options.cache ?? createSeriesCache(),
        // Without a cache of the caller's, nothing extends this part: no P.
        keepP: options.cache !== undefined && (options.keepP ?? true),
      });
      if (digits !== undefined) return digits;
      guard *= 2;
    }
  } finally {
    options.signal?.removeEventListener("abort", forward);
    if (!options.pool) await pool.close();
  }
}

async function computeOnce(
  pool: WorkerPool,
  decimals: number,
  guard: number,
  signal: AbortSignal,
  { cache, keepP }: { cache: SeriesCache; keepP: boolean },
): Promise<string | undefined> {
  const { scaledDigits, bits, terms } = precisionFor(decimals, guard);
  // The cached part is extended when it has P, reused when it has enough terms already (more
  // terms than needed only make the sum more precise), else the sum starts again from term 0.
  const cached = cache.part;
  const from = cached && (cache.terms >= terms || cached.p !== undefined) ? cache.terms : 0;
  const newTerms = Math.max(0, terms - from);
  const leafTerms = Math.max(
    MIN_TERMS_PER_TASK,
    Math.ceil(newTerms / (pool.size * TASKS_PER_THREAD)),
  );
  const run = <T extends Task>(task: T) => pool.run(task, signal);
  // A merge near the root would keep one thread busy while the others wait: its products go
  // to separate threads instead (`top`), and the sum is formed here.
  const merge = async (left: SeriesPart, right: SeriesPart, wantP: boolean, top: boolean) => {
    if (!top) return run({ op: "merge", left, right, wantP });
    if (left.p === undefined || (wantP && right.p === undefined)) {
      throw new Error("computePiDigits: a merge is missing p; compute the left part with wantP");
    }
    const [q, t1, t2, p] = await Promise.all([
      run({ op: "mul", x: left.q, y: right.q }),
      run({ op: "mul", x: left.t, y: right.q }),
      run({ op: "mul", x: left.p, y: right.t }),
      wantP && right.p !== undefined ? run({ op: "mul", x: left.p, y: right.p }) : undefined,
    ]);
    return { p, q, t: t1 + t2 };
  };
  const series = async (a: number, b: number, wantP: boolean): Promise<SeriesPart> => {
    if (b - a <= leafTerms) return run({ op: "series", a, b, wantP });
    const m = a + Math.floor((b - a) / 2);
    const [left, right] = await Promise.all([series(a, m, true), series(m, b, wantP)]);
    // Near the root: this level has fewer ranges than about 2/3 of the threads.
    return merge(left, right, wantP, pool.size > 1 && 2 * (b - a) * pool.size > 3 * newTerms);
  };
  // The part of terms [0, max(terms, cache.terms)): the cached part, merged with the new terms.
  const whole = async (): Promise<SeriesPart> => {
    if (newTerms === 0 && cached) return cached;
    const added = await series(from, terms, keepP);
    return from === 0 || !cached ? added : merge(cached, added, keepP, pool.size > 1);
  };
  // Queued first, so a thread computes it while the others start on the series.
  const invSqrtPromise = run({ op: "invSqrt", a: 10005, bits });
  const [part, invSqrt] = await Promise.all([whole(), invSqrtPromise]);
  const { q, t } = part;
  // Kept as soon as it is summed: a step abandoned after this point still leaves it for the next.
  cache.terms = Math.max(terms, from);
  cache.part = keepP && part.p !== undefined ? part : { q, t };
  const fixed = await run({ op: "divide", q, t, invSqrt, bits });
  // One chunk of places per thread, converted to decimal in parallel.
  const chunks = Math.max(1, Math.min(pool.size, Math.floor(scaledDigits / MIN_PLACES_PER_CHUNK)));
  const bounds = Array.from({ length: chunks + 1 }, (_, i) =>
    Math.round((i * scaledDigits) / chunks),
  );
  const places = await Promise.all(
    bounds.slice(1).map((to, i) => run({ op: "places", fixed, bits, from: bounds[i], to })),
  );
  const integer = fixed >> BigInt(bits);
  return verifiedDecimals(`${integer}.${places.join("")}`, decimals, guard);
}
