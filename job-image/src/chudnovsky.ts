/**
 * Pi by the Chudnovsky series with binary splitting, on `BigInt`. Pure functions only: the worker
 * pool (`workerPool.ts`) and the orchestration (`pi.ts`) run them in threads.
 *
 *   1/Pi = 12 * sum_k (-1)^k (6k)! (13591409 + 545140134 k) / ((3k)! (k!)^3 640320^(3k + 3/2))
 *
 * Binary splitting turns the sum over terms `[a, b)` into three integers P, Q, T, so that
 * Pi = 426880 * sqrt(10005) * Q(0, n) / T(0, n). Ranges combine with two or three products, which
 * V8 computes with sub-quadratic (Karatsuba, Toom-Cook, FFT) multiplication.
 */

/** Decimal digits each term adds: log10(640320^3 / 1728). */
export const DIGITS_PER_TERM = Math.log10(151931373056000);

/** 640320^3 / 24. */
const C3_OVER_24 = 10939058860032000n;

/** Extra decimal digits computed beyond those returned, so rounding can be checked. */
export const DEFAULT_GUARD_DIGITS = 20;

/**
 * Bound on |floor(Pi_fixed 10^K / 2^bits) - Pi 10^K|, in units of the last place, for the
 * {@link piFixedPoint} of {@link precisionFor}: its error of about 2^10 units of 2^-bits is below
 * 2^-22 of a place (bits has 32 spare bits), plus 1 for the floor. 16 leaves room.
 */
export const ERROR_BOUND_ULPS = 16n;

/**
 * Largest digit count this module accepts. V8 limits a BigInt to 2^30 bits; at 10^8 digits the
 * largest intermediate (T of the whole series) has about 8.3 * 10^8 bits.
 */
export const MAX_DIGITS = 100_000_000;

/** P, Q, T of a range of terms. `p` is omitted where no later merge needs it. */
export interface SeriesPart {
  p?: bigint;
  q: bigint;
  t: bigint;
}

/** Precision of one computation of `decimals` digits. */
export interface Precision {
  /** Decimal digits computed, guard digits included. */
  scaledDigits: number;
  /** Bits of the binary fixed-point intermediates. */
  bits: number;
  /** Number of series terms. */
  terms: number;
}

/** The precision needed for `decimals` verified decimal places with `guard` guard digits. */
export function precisionFor(decimals: number, guard = DEFAULT_GUARD_DIGITS): Precision {
  if (!Number.isSafeInteger(decimals) || decimals < 1 || decimals > MAX_DIGITS) {
    throw new RangeError(
      `decimals: ${decimals} is out of range; use a whole number from 1 to ${MAX_DIGITS}`,
    );
  }
  if (!Number.isSafeInteger(guard) || guard < 8) {
    throw new RangeError(`guard: ${guard} is too small; use at least 8 guard digits`);
  }
  const scaledDigits = decimals + guard;
  return {
    scaledDigits,
    bits: Math.ceil(scaledDigits * Math.log2(10)) + 32,
    // The series error after n terms is below 10^(-14.18 n); one spare term covers the rest.
    terms: Math.ceil(scaledDigits / DIGITS_PER_TERM) + 1,
  };
}

/** P, Q, T of the single term `a`. */
function term(a: number): Required<SeriesPart> {
  if (a === 0) return { p: 1n, q: 1n, t: 13591409n };
  const k = BigInt(a);
  const p = (6n * k - 5n) * (2n * k - 1n) * (6n * k - 1n);
  const q = k * k * k * C3_OVER_24;
  const t = p * (13591409n + 545140134n * k);
  return { p, q, t: a % 2 === 1 ? -t : t };
}

/** Combines the parts of `[a, m)` and `[m, b)` into the part of `[a, b)`. */
export function mergeSeries(left: SeriesPart, right: SeriesPart, wantP: boolean): SeriesPart {
  if (left.p === undefined) {
    throw new Error("mergeSeries: the left part has no p; compute it with wantP = true");
  }
  const merged: SeriesPart = { q: left.q * right.q, t: left.t * right.q + left.p * right.t };
  if (wantP) {
    if (right.p === undefined) {
      throw new Error("mergeSeries: the right part has no p but wantP is true");
    }
    merged.p = left.p * right.p;
  }
  return merged;
}

/** P, Q, T of terms `[a, b)` by binary splitting; `p` only when `wantP`. */
export function seriesRange(a: number, b: number, wantP: boolean): SeriesPart {
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 0 || b <= a) {
    throw new RangeError(`seriesRange: [${a}, ${b}) is not a non-empty range of terms`);
  }
  if (b - a === 1) {
    const single = term(a);
    return wantP ? single : { q: single.q, t: single.t };
  }
  const m = a + Math.floor((b - a) / 2);
  return mergeSeries(seriesRange(a, m, true), seriesRange(m, b, wantP), wantP);
}

/** Number of bits of |n| (0 for 0). */
export function bitLength(n: bigint): number {
  if (n < 0n) n = -n;
  if (n === 0n) return 0;
  const hex = n.toString(16);
  return (hex.length - 1) * 4 + Number.parseInt(hex[0], 16).toString(2).length;
}

/**
 * floor(2^bits / sqrt(a)) up to an error of 2, by Newton's iteration for 1/sqrt(a) with the
 * precision doubling at each level, so every product has at most about bits/2 bits. Multiplication
 * only: V8's BigInt division is several times slower than its multiplication.
 */
export function invSqrtFixed(a: bigint, bits: number): bigint {
  if (a <= 0n || a >= 1n << 50n) {
    throw new RangeError(`invSqrtFixed: a = ${a} must be a positive integer below 2^50`);
  }
  if (!Number.isSafeInteger(bits) || bits < 1) {
    throw new RangeError(`invSqrtFixed: bits = ${bits} must be a positive whole number`);
  }
  if (bits <= 40) {
    // A double carries 53 bits, enough for the estimate; the loops make it exact.
    const one = 1n << BigInt(2 * bits);
    let y = BigInt(Math.floor(2 ** bits / Math.sqrt(Number(a))));
    while (y * y * a > one) y -= 1n;
    while ((y + 1n) * (y + 1n) * a <= one) y += 1n;
    return y;
  }
  // 16 extra bits keep the truncation of the half-precision step far below the final error.
  const half = Math.ceil(bits / 2) + 16;
  const yh = invSqrtFixed(a, half);
  // Newton: y' = y + y (1 - a y^2) / 2, where (1 - a y^2) = e / 2^(2 half) is tiny.
  const e = (1n << BigInt(2 * half)) - a * yh * yh;
  return (yh << BigInt(bits - half)) + ((yh * e) >> BigInt(3 * half - bits + 1));
}

/**
 * Pi * 2^bits, up to an error of about 2^10, from the series parts of all terms and 2^bits /
 * sqrt(10005). Q and T carry about twice the needed precision, so both are truncated to
 * bits + 64 bits before the one division.
 */
export function piFixedPoint(q: bigint, t: bigint, invSqrt10005: bigint, bits: number): bigint {
  if (q <= 0n || t <= 0n) throw new RangeError("piFixedPoint: q and t must be positive");
  const shift = BigInt(Math.max(0, bitLength(t) - (bits + 64)));
  // Pi = 426880 sqrt(10005) Q / T and sqrt(10005) = 10005 / sqrt(10005).
  return (426880n * 10005n * invSqrt10005 * (q >> shift)) / (t >> shift);
}

/**
 * Decimal places `from + 1` to `to` of v = fixed / 2^bits, i.e. floor(frac(v 10^from) 10^(to -
 * from)), as a string of `to - from` digits. Exact for the given `fixed`: the integer part of v
 * followed by the chunks of any split of [0, K) spells floor(v 10^K), so chunks can be converted
 * in parallel (decimal conversion is the slowest serial step).
 */
export function decimalPlaces(fixed: bigint, bits: number, from: number, to: number): string {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to <= from) {
    throw new RangeError(`decimalPlaces: (${from}, ${to}] is not a non-empty range of places`);
  }
  const b = BigInt(bits);
  const mask = (1n << b) - 1n;
  const fraction = from === 0 ? fixed & mask : (fixed * 10n ** BigInt(from)) & mask;
  return fractionDigits(fraction, bits, to - from);
}

/**
 * Bits kept beyond those `places` decimal places need in {@link fractionDigits}: the truncation
 * of a part then moves it by less than 2^-64 of its last place.
 */
const FRACTION_GUARD_BITS = 64;

/** Places converted by one `toString` in {@link fractionDigits} (measured fastest, 500-4,000). */
export const DEFAULT_LEAF_PLACES = 1000;

/** A fraction left above this may hide a carry lost to truncation: see {@link convertFraction}. */
const NEAR_ONE = 1 - 2 ** -30;

/** A fraction too close to a carry for the truncated parts of {@link fractionDigits}. */
class NearCarry extends Error {}

/**
 * floor(fraction 10^places / 2^bits) as a string of `places` digits, for 0 <= fraction < 2^bits.
 * The same string as the one `toString` of that integer, in about half the time at millions of
 * places: V8 converts a large integer by dividing it by powers of 10 (a division costs about four
 * multiplications), while a fraction's places come out of multiplications only. x 10^h splits
 * the fraction x into its first h places (the integer part) and the fraction of the rest; each
 * half is converted the same way from x truncated to the bits its places need. A truncation that
 * could move a place across a carry (a run of about twenty 0s or 9s at a split) is detected, and
 * that call falls back to `toString`: the result is always exact.
 */
export function fractionDigits(
  fraction: bigint,
  bits: number,
  places: number,
  leafPlaces = DEFAULT_LEAF_PLACES,
): string {
  if (!Number.isSafeInteger(bits) || bits < 1 || fraction < 0n || fraction >> BigInt(bits) > 0n) {
    throw new RangeError(`fractionDigits: fraction must be from 0 to 2^bits - 1 (bits = ${bits})`);
  }
  if (!Number.isSafeInteger(places) || places < 1) {
    throw new RangeError(`fractionDigits: places = ${places} must be a positive whole number`);
  }
  if (!Number.isSafeInteger(leafPlaces) || leafPlaces < 1) {
    throw new RangeError(
      `fractionDigits: leafPlaces = ${leafPlaces} must be a positive whole number`,
    );
  }
  const exact = () =>
    ((fraction * 10n ** BigInt(places)) >> BigInt(bits)).toString().padStart(places, "0");
  if (places <= leafPlaces) return exact();
  const powers = new Map<number, bigint>();
  const power = (n: number): bigint => {
    let p = powers.get(n);
    if (p === undefined) {
      p = 10n ** BigInt(n);
      powers.set(n, p);
    }
    return p;
  };
  const kept = fractionBits(places);
  const start = bits >= kept ? fraction >> BigInt(bits - kept) : fraction << BigInt(kept - bits);
  const out: string[] = [];
  try {
    convertFraction(start, kept, places, leafPlaces, power, out);
  } catch (error) {
    if (error instanceof NearCarry) return exact();
    throw error;
  }
  return out.join("");
}

/** Bits of a fraction that `places` places need, guard included. */
function fractionBits(places: number): number {
  return Math.ceil(places * Math.log2(10)) + FRACTION_GUARD_BITS;
}

/**
 * Appends floor(f 10^k / 2^p) (k digits) to `out` and returns frac(f 10^k / 2^p), the fraction
 * they leave, within 2^-50. Exact, or throws {@link NearCarry}.
 *
 * Each half is converted from its part truncated to the bits its places need, which lowers it by
 * less than 2^-64 of its last place (f 10^h for the top half, the fraction r of f 10^h for the
 * bottom one). Truncated, a half spells one less than it should only when it crosses down over
 * a whole number, and then the fraction it leaves is within 2^-64 of 1: a half leaving more
 * than {@link NEAR_ONE} is refused. The leaves' fractions are within 2^-50 of their part's, the
 * parts within a sum of 2^-64 per level of the one above: far inside the margin.
 */
function convertFraction(
  f: bigint,
  p: number,
  k: number,
  leafPlaces: number,
  power: (n: number) => bigint,
  out: string[],
): number {
  const bigP = BigInt(p);
  if (k <= leafPlaces) {
    const z = f * power(k);
    const digits = z >> bigP;
    out.push(digits.toString().padStart(k, "0"));
    const rest = z - (digits << bigP);
    const shift = Math.max(0, p - 53);
    return Number(rest >> BigInt(shift)) / 2 ** (p - shift) + 2 ** -50;
  }
  const h = Math.ceil(k / 2);
  const y = f * power(h);
  const r = y & ((1n << bigP) - 1n);
  const pTop = fractionBits(h);
  const pBottom = fractionBits(k - h);
  const top = convertFraction(f >> BigInt(p - pTop), pTop, h, leafPlaces, power, out);
  const left = convertFraction(r >> BigInt(p - pBottom), pBottom, k - h, leafPlaces, power, out);
  if (top > NEAR_ONE || left > NEAR_ONE) throw new NearCarry();
  return left;
}

/**
 * The first `decimals` places of `text` (`"3."` and `decimals + guard` places, within
 * {@link ERROR_BOUND_ULPS} units of its last place of the true value), as `"3.1415…"`, when they
 * are certain: unless the `guard` digits are that close to a carry (a run of 0s or 9s).
 * Returns `undefined` then; compute again with more guard digits.
 */
export function verifiedDecimals(
  text: string,
  decimals: number,
  guard: number,
): string | undefined {
  if (text.length !== decimals + guard + 2 || !text.startsWith("3.")) {
    throw new Error(
      `verifiedDecimals: expected "3." and ${decimals + guard} places, got ${text.length} characters starting ${JSON.stringify(text.slice(0, 12))}`,
    );
  }
  const tail = BigInt(text.slice(2 + decimals));
  if (tail < ERROR_BOUND_ULPS || tail > 10n ** BigInt(guard) - 1n - ERROR_BOUND_ULPS) {
    return undefined;
  }
  return text.slice(0, 2 + decimals);
}
