import * as assert from "node:assert/strict";
import {
  bitLength,
  decimalPlaces,
  DEFAULT_LEAF_PLACES,
  ERROR_BOUND_ULPS,
  fractionDigits,
  invSqrtFixed,
  MAX_DIGITS,
  mergeSeries,
  piFixedPoint,
  precisionFor,
  seriesRange,
  verifiedDecimals,
} from "../../job-image/src/chudnovsky";
import { runTask } from "../../job-image/src/tasks";
import { PI_2000 } from "./helpers/jobBuild";

/** floor(sqrt(n)) by Newton's method with division: a different method from the code's. */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** Pi to `decimals` places through the pure functions, in this thread. */
function piInThread(decimals: number, guard = 20, chunks = [0]): string | undefined {
  const { scaledDigits, bits, terms } = precisionFor(decimals, guard);
  const { q, t } = seriesRange(0, terms, false);
  const fixed = piFixedPoint(q, t, invSqrtFixed(10005n, bits), bits);
  const bounds = [...chunks, scaledDigits];
  const places = bounds.slice(1).map((to, i) => decimalPlaces(fixed, bits, bounds[i], to));
  return verifiedDecimals(`${fixed >> BigInt(bits)}.${places.join("")}`, decimals, guard);
}

describe("job chudnovsky (pure)", () => {
  describe("precisionFor", () => {
    const cases: [number, { scaledDigits: number; bits: number; terms: number }][] = [
      // 21 * log2(10) = 69.76 -> 70 + 32 spare bits; 21 / 14.18 = 1.48 -> 2 + 1 spare term
      [1, { scaledDigits: 21, bits: 102, terms: 3 }],
      // 1020 * log2(10) = 3388.4 -> 3389 + 32; 1020 / 14.1816 = 71.92 -> 72 + 1
      [1000, { scaledDigits: 1020, bits: 3421, terms: 73 }],
    ];
    for (const [decimals, expected] of cases) {
      it(`sizes ${decimals} places`, () => assert.deepEqual(precisionFor(decimals), expected));
    }
    for (const bad of [0, -5, 1.5, Number.NaN, MAX_DIGITS + 1]) {
      it(`rejects ${bad} places with the allowed range`, () =>
        assert.throws(() => precisionFor(bad), /use a whole number from 1 to 100000000/));
    }
    it("rejects too few guard digits", () =>
      assert.throws(() => precisionFor(10, 3), /use at least 8 guard digits/));
  });

  describe("series", () => {
    it("has the textbook first terms", () => {
      assert.deepEqual(seriesRange(0, 1, true), { p: 1n, q: 1n, t: 13591409n });
      // a = 1: p = 1*1*5, q = 640320^3 / 24, t = -p (13591409 + 545140134)
      assert.deepEqual(seriesRange(1, 2, true), {
        p: 5n,
        q: 10939058860032000n,
        t: -2793657715n,
      });
      assert.deepEqual(seriesRange(1, 2, false), { q: 10939058860032000n, t: -2793657715n });
    });

    it("gives the same parts wherever a range is split", () => {
      const whole = seriesRange(0, 50, true);
      for (const m of [1, 7, 25, 49]) {
        assert.deepEqual(
          mergeSeries(seriesRange(0, m, true), seriesRange(m, 50, true), true),
          whole,
        );
      }
      const { q, t } = whole;
      assert.deepEqual(mergeSeries(seriesRange(0, 20, true), seriesRange(20, 50, false), false), {
        q,
        t,
      });
    });

    describe("extended step by step, as the job's incremental steps do", () => {
      const splits: number[][] = [
        [0, 1, 2],
        [0, 3, 7],
        [0, 1, 100],
        [0, 50, 51],
        [0, 10, 20, 40, 80, 160],
        [0, 71, 142, 213, 300, 301, 477],
      ];
      for (const bounds of splits) {
        it(`equals the whole range for the steps ${bounds.join(", ")}`, () => {
          let acc = seriesRange(0, bounds[1], true);
          for (let i = 1; i + 1 < bounds.length; i++) {
            const added = seriesRange(bounds[i], bounds[i + 1], true);
            acc = mergeSeries(acc, added, true);
            assert.deepEqual(
              acc,
              seriesRange(0, bounds[i + 1], true),
              `after [0, ${bounds[i + 1]})`,
            );
          }
          // The last merge without P, as in a run's last step: Q and T are the same.
          const n = bounds[bounds.length - 2];
          const last = bounds[bounds.length - 1];
          const head = seriesRange(0, n, true);
          assert.deepEqual(mergeSeries(head, seriesRange(n, last, false), false), {
            q: acc.q,
            t: acc.t,
          });
        });
      }
    });

    it("refuses merges that lack p and empty ranges", () => {
      assert.throws(
        () => mergeSeries(seriesRange(0, 3, false), seriesRange(3, 5, true), false),
        /left part has no p/,
      );
      assert.throws(
        () => mergeSeries(seriesRange(0, 3, true), seriesRange(3, 5, false), true),
        /right part has no p/,
      );
      assert.throws(() => seriesRange(5, 5, true), /not a non-empty range/);
    });
  });

  describe("bitLength", () => {
    const cases: [bigint, number][] = [
      [0n, 0],
      [1n, 1],
      [2n, 2],
      [255n, 8],
      [256n, 9],
      [-256n, 9],
      [1n << 100n, 101],
      [(1n << 100n) - 1n, 100],
    ];
    for (const [n, bits] of cases)
      it(`${n} has ${bits} bits`, () => assert.equal(bitLength(n), bits));
  });

  describe("invSqrtFixed", () => {
    for (const a of [2n, 3n, 10005n]) {
      for (const bits of [10, 40, 41, 64, 200, 1000, 5000]) {
        it(`2^${bits} / sqrt(${a}) is within 2 of the exact floor`, () => {
          const exact = isqrt((1n << BigInt(2 * bits)) / a);
          const y = invSqrtFixed(a, bits);
          const error = y > exact ? y - exact : exact - y;
          assert.ok(error <= (bits <= 40 ? 0n : 2n), `error ${error} at ${bits} bits`);
        });
      }
    }
    it("rejects values it cannot handle", () => {
      assert.throws(() => invSqrtFixed(0n, 10), /positive integer/);
      assert.throws(() => invSqrtFixed(5n, 0), /positive whole number/);
    });
  });

  describe("digits", () => {
    it("match the reference for 1 to 2,000 places", () => {
      for (const decimals of [1, 2, 15, 100, 999, 2000]) {
        assert.equal(piInThread(decimals), PI_2000.slice(0, 2 + decimals), `${decimals} places`);
      }
    });

    it("are the same whatever the chunks of the decimal conversion", () => {
      const whole = piInThread(2000);
      assert.equal(piInThread(2000, 20, [0, 1]), whole);
      assert.equal(piInThread(2000, 20, [0, 700, 701, 1500]), whole);
    });

    it("through runTask, as a worker runs them", () => {
      const { scaledDigits, bits, terms } = precisionFor(500);
      const left = runTask({ op: "series", a: 0, b: 20, wantP: true });
      const right = runTask({ op: "series", a: 20, b: terms, wantP: false });
      const { q, t } = runTask({ op: "merge", left, right, wantP: false });
      const invSqrt = runTask({ op: "invSqrt", a: 10005, bits });
      const fixed = runTask({ op: "divide", q, t, invSqrt, bits });
      const places = runTask({ op: "places", fixed, bits, from: 0, to: scaledDigits });
      assert.equal(`3.${places}`.slice(0, 502), PI_2000.slice(0, 502));
      assert.equal(runTask({ op: "mul", x: 6n, y: 7n }), 42n);
    });
  });

  describe("decimalPlaces", () => {
    it("pads leading zeros and rejects empty ranges", () => {
      // 1/16 = 0.0625
      assert.equal(decimalPlaces(1n, 4, 0, 4), "0625");
      assert.equal(decimalPlaces(1n, 4, 1, 3), "62");
      assert.equal(decimalPlaces(1n, 4, 4, 6), "00");
      assert.throws(() => decimalPlaces(1n, 4, 3, 3), /not a non-empty range/);
    });
  });

  describe("fractionDigits", () => {
    /** The digits by one multiplication and BigInt's own toString: what it must equal. */
    const reference = (fraction: bigint, bits: number, places: number) =>
      ((fraction * 10n ** BigInt(places)) >> BigInt(bits)).toString().padStart(places, "0");

    /** A deterministic stream of pseudo-random bigints of `bits` bits (xorshift32 words). */
    let seed = 0x9e3779b9;
    const word = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return BigInt(seed >>> 0);
    };
    const randomBits = (bits: number) => {
      let x = 0n;
      for (let i = 0; i < bits; i += 32) x = (x << 32n) | word();
      return x & ((1n << BigInt(bits)) - 1n);
    };
    /** A fraction of `bits` bits whose first `places` places are `digits` (rounded up or down). */
    const withDigits = (digits: string, bits: number, up: boolean) => {
      const scaled = BigInt(digits) << BigInt(bits);
      const ten = 10n ** BigInt(digits.length);
      return up ? (scaled + ten - 1n) / ten : scaled / ten - 1n;
    };

    it("equals toString on random fractions of many sizes, through every depth of splits", () => {
      for (const leaf of [1, 2, 7, 64]) {
        for (const places of [
          1,
          2,
          3,
          leaf,
          leaf + 1,
          2 * leaf,
          2 * leaf + 1,
          127,
          128,
          129,
          1000,
        ]) {
          // Fewer bits than the places need, about as many, and far more.
          for (const bits of [8, Math.ceil(places * 3.33) + 1, places * 4 + 200]) {
            const fraction = randomBits(bits);
            assert.equal(
              fractionDigits(fraction, bits, places, leaf),
              reference(fraction, bits, places),
              `${places} places of ${bits} bits, leaves of ${leaf}`,
            );
          }
        }
      }
    });

    it("equals toString at the default leaf size and beyond it", () => {
      for (const places of [DEFAULT_LEAF_PLACES, DEFAULT_LEAF_PLACES + 1, 4099, 20_000]) {
        const bits = Math.ceil(places * Math.log2(10)) + 40;
        const fraction = randomBits(bits);
        assert.equal(fractionDigits(fraction, bits, places), reference(fraction, bits, places));
      }
    });

    it("stays exact next to carries: runs of 0s and 9s at splits, 0 and all ones", () => {
      const places = 200;
      const bits = 900;
      // Runs of 40 digits cross every truncation above them; runs of 25 only the last one (a
      // leaf's), which the leaves of 16 put at place 13 of [0, 25).
      for (const [digit, length] of [
        ["0", 40],
        ["9", 40],
        ["0", 25],
        ["9", 25],
      ] as const) {
        for (const at of [1, 13, 25, 38, 50, 99, 100, 101, 150, 175, 199]) {
          const digits = (
            "31415926535897932384626433".repeat(10).slice(0, at) + digit.repeat(length)
          )
            .padEnd(places, "7")
            .slice(0, places);
          for (const up of [true, false]) {
            const fraction = withDigits(digits, bits, up);
            for (const leaf of [1, 3, 16]) {
              assert.equal(
                fractionDigits(fraction, bits, places, leaf),
                reference(fraction, bits, places),
                `${length} ${digit}s at ${at}, rounded ${up ? "up" : "down"}, leaves of ${leaf}`,
              );
            }
          }
        }
      }
      for (const fraction of [0n, 1n, (1n << 900n) - 1n]) {
        assert.equal(fractionDigits(fraction, 900, places, 4), reference(fraction, 900, places));
      }
    });

    it("rejects a fraction out of range and bad sizes, naming them", () => {
      assert.throws(() => fractionDigits(16n, 4, 2), /fraction must be from 0 to 2\^bits - 1/);
      assert.throws(() => fractionDigits(-1n, 4, 2), /fraction must be from 0/);
      assert.throws(() => fractionDigits(1n, 4, 0), /places = 0 must be a positive/);
      assert.throws(() => fractionDigits(1n, 4, 2, 0), /leafPlaces = 0 must be a positive/);
    });
  });

  describe("verifiedDecimals", () => {
    const guard = 20;
    const places = PI_2000.slice(2, 12);
    const bound = Number(ERROR_BOUND_ULPS);
    const cases: [string, string, string | undefined][] = [
      ["an ordinary tail", "12345678901234567890", `3.${places}`],
      ["a tail at the bound", String(bound).padStart(guard, "0"), `3.${places}`],
      [
        "a tail just below the bound (could carry down)",
        String(bound - 1).padStart(guard, "0"),
        undefined,
      ],
      ["all zeros", "0".repeat(guard), undefined],
      [
        "nines within the bound of a carry",
        "9".repeat(guard - 2) + String(99 - bound + 1),
        undefined,
      ],
      [
        "nines just outside the bound",
        "9".repeat(guard - 2) + String(99 - bound - 1),
        `3.${places}`,
      ],
    ];
    for (const [label, tail, expected] of cases) {
      it(`${label}: ${expected ?? "undefined"}`, () =>
        assert.equal(verifiedDecimals(`3.${places}${tail}`, 10, guard), expected));
    }
    it("rejects text of the wrong length or shape", () => {
      assert.throws(() => verifiedDecimals("3.14", 10, guard), /expected "3\." and 30 places/);
      assert.throws(() => verifiedDecimals(`4.${"1".repeat(30)}`, 10, guard), /expected/);
    });
  });
});
