import * as assert from "node:assert/strict";
import {
  DEFAULT_PLANNER_OPTIONS,
  growthExponent,
  INCREMENTAL_PLANNER,
  MEASURED_MIN_EXPONENT,
  planNextStep,
  predictStepMs,
  StepTiming,
} from "../../job-image/src/planner";

const oneMillionIn2s = (): StepTiming[] => [{ digits: 1e6, ms: 2000 }];

describe("job planner", () => {
  describe("growthExponent", () => {
    const cases: [string, StepTiming[], number][] = [
      ["no steps: the default", [], 1.3],
      ["one long step: the default", [{ digits: 1e5, ms: 200 }], 1.3],
      [
        "two long steps: measured, log(2.3) / log(2)",
        [
          { digits: 1e5, ms: 200 },
          { digits: 2e5, ms: 460 },
        ],
        Math.log(2.3) / Math.log(2),
      ],
      [
        "short steps are ignored: only one measurable step",
        [
          { digits: 1e3, ms: 2 },
          { digits: 2e3, ms: 19 },
          { digits: 4e3, ms: 40 },
        ],
        1.3,
      ],
      [
        "a faster second step (timer noise): clamped to 1",
        [
          { digits: 1e5, ms: 300 },
          { digits: 2e5, ms: 250 },
        ],
        1,
      ],
      [
        "a step 8 times slower for twice the digits: clamped to 2.5",
        [
          { digits: 1e5, ms: 100 },
          { digits: 2e5, ms: 800 },
        ],
        2.5,
      ],
    ];
    for (const [label, history, expected] of cases) {
      it(label, () => assert.equal(growthExponent(history), expected));
    }
  });

  describe("predictStepMs", () => {
    it("extrapolates the last step with the measured exponent", () => {
      const history = [
        { digits: 1e5, ms: 100 },
        { digits: 2e5, ms: 400 },
      ];
      // exponent 2: twice the digits, four times the time
      assert.equal(predictStepMs(history, 4e5), 1600);
    });
    it("needs a measured step", () =>
      assert.throws(() => predictStepMs([], 1000), /no step measured yet/));
  });

  describe("planNextStep", () => {
    const oneMillionIn2s = [{ digits: 1e6, ms: 2000 }];
    const cases: [string, StepTiming[], number, number | undefined][] = [
      ["first step: the initial target", [], 5000, 1000],
      ["no time left: none", [], 0, undefined],
      ["negative time left: none", oneMillionIn2s, -10, undefined],
      ["doubling fits: 2x", [{ digits: 1000, ms: 3 }], 10_000, 2000],
      // 2000 * 2^1.3 = 4925 ms * 1.25 = 6156 ms: fits in 6200 ms
      ["doubling fits by a little: 2x", oneMillionIn2s, 6200, 2_000_000],
      // budget 3000 / 1.25 = 2400 ms; 1e6 * (2400 / 2000)^(1 / 1.3) = 1,150,600 -> 1,150,000
      ["doubling does not fit: the largest target that does", oneMillionIn2s, 3000, 1_150_000],
      // budget 1600 ms; 1e6 * 0.8^(1 / 1.3) = 842,000 < 1.1e6
      ["nothing worth doing fits: none", oneMillionIn2s, 2000, undefined],
      ["at the maximum (1e8 digits): none", [{ digits: 1e8, ms: 2000 }], 1e9, undefined],
      // with 1 ms: 1000 * (0.8 / 1)^(1 / 1.3) = 842 < 1100; with 0 ms it would be infinite
      ["a 0 ms step counts as 1 ms", [{ digits: 1000, ms: 0 }], 1, undefined],
    ];
    for (const [label, history, remaining, expected] of cases) {
      it(`${label}: ${expected}`, () => assert.equal(planNextStep(history, remaining), expected));
    }

    it("stops at maxDigits and rounds targets to three significant digits", () => {
      assert.equal(planNextStep([{ digits: 1000, ms: 1 }], 1e6, { maxDigits: 1500 }), 1500);
      assert.equal(planNextStep([{ digits: 1500, ms: 1 }], 1e6, { maxDigits: 1500 }), undefined);
      assert.equal(planNextStep([{ digits: 123_456, ms: 1 }], 1e6), 246_000);
    });

    it("uses the initial target of the options", () => {
      assert.equal(planNextStep([], 1000, { initialDigits: 50 }), 50);
      assert.equal(DEFAULT_PLANNER_OPTIONS.initialDigits, 1000);
    });
  });

  describe("incremental steps (seriesShare, lookahead)", () => {
    const options = { ...DEFAULT_PLANNER_OPTIONS, ...INCREMENTAL_PLANNER };
    /** Steps timed exactly by the model: T(d) = c d^k, a step from f to d T(d) - s T(f). */
    const modelled = (k: number, c = 100 / 1e5 ** k): StepTiming[] =>
      [1e5, 2e5, 4e5, 8e5].map((digits) => ({
        digits,
        from: digits / 2,
        ms: c * (digits ** k - options.seriesShare * (digits / 2) ** k),
      }));

    it("ignores `from` without seriesShare: the model of from-scratch steps", () => {
      const history = [
        { digits: 1e5, ms: 100, from: 5e4 },
        { digits: 2e5, ms: 400, from: 1e5 },
      ];
      assert.equal(growthExponent(history), 2);
      assert.equal(predictStepMs(history, 4e5), 1600);
      assert.equal(planNextStep(history, 2000), 400_000);
    });

    for (const k of [1, 1.2, 1.5, 2]) {
      it(`measures the exponent ${k} of incremental steps and predicts the next one`, () => {
        const history = modelled(k);
        const floorless = { ...options, minExponent: 1 };
        assert.ok(Math.abs(growthExponent(history, floorless) - k) < 1e-6);
        const expected = (100 / 1e5 ** k) * (1.6e6 ** k - 0.5 * 8e5 ** k);
        assert.ok(Math.abs(predictStepMs(history, 1.6e6, floorless) / expected - 1) < 1e-6);
      });
    }

    it("plans a step after one that kept nothing as from scratch", () => {
      const history = modelled(1.2);
      const last = history[history.length - 1];
      const scratch = [...history.slice(0, -1), { ...last, extendable: false }];
      const k = growthExponent(history, options);
      const ratio = predictStepMs(scratch, 1.6e6, options) / predictStepMs(history, 1.6e6, options);
      assert.ok(Math.abs(ratio - 2 ** k / (2 ** k - 0.5)) < 1e-9);
      const remaining = 1.25 * predictStepMs(history, 1.3e6, options);
      assert.ok((planNextStep(scratch, remaining, INCREMENTAL_PLANNER) as number) < 1_200_000);
    });

    it("plans the largest target whose incremental step fits", () => {
      const history = modelled(1.2);
      const remaining = 1.25 * predictStepMs(history, 1.3e6, options);
      assert.equal(planNextStep(history, remaining, INCREMENTAL_PLANNER), 1_300_000);
      assert.equal(
        planNextStep(history, remaining, { ...INCREMENTAL_PLANNER, minExponent: 1 }),
        1_300_000,
      );
      // A from-scratch model would predict more, so plan less.
      assert.ok((planNextStep(history, remaining, { lookahead: true }) as number) < 1_300_000);
    });

    it("looks ahead: a doubling gives way to one larger step when that reaches more digits", () => {
      // Doubling 1e6 (2 s) predicts 4,925 ms, 6,156 with the safety factor: it fits in 6,200,
      // but 1,275 ms would be left, not enough for another step; 2,010,000 fits too.
      assert.equal(planNextStep(oneMillionIn2s(), 6200), 2_000_000);
      assert.equal(planNextStep(oneMillionIn2s(), 6200, { lookahead: true }), 2_010_000);
      // One step now, 4,000,000 (the most maxJump allows), reaches more than the doubling and
      // the step after it (2M predicts 4,925 ms; in the 15.1 s left, 2M (12.1/4.9)^(1/1.3) = 4.0M
      // less the rounding).
      assert.equal(planNextStep(oneMillionIn2s(), 20_000, { lookahead: true }), 4_000_000);
      // With a smaller jump allowed (3M), the doubling and the step after it reach more.
      assert.equal(
        planNextStep(oneMillionIn2s(), 20_000, { lookahead: true, maxJump: 3 }),
        2_000_000,
      );
      assert.equal(
        planNextStep(oneMillionIn2s(), 15_000, { lookahead: true, maxJump: 3 }),
        3_000_000,
      );
      // With room for a large step after the doubling, it doubles.
      assert.equal(planNextStep(oneMillionIn2s(), 30_000, { lookahead: true }), 2_000_000);
      // It may go beyond the doubling, up to the maximum.
      assert.equal(planNextStep(oneMillionIn2s(), 9000, { lookahead: true }), 2_670_000);
      assert.equal(
        planNextStep(oneMillionIn2s(), 9000, { lookahead: true, maxDigits: 2_500_000 }),
        2_500_000,
      );
    });
  });

  describe("the job's exponent floor (MEASURED_MIN_EXPONENT)", () => {
    // One core at 5 s, measured: 512,000 digits took 0.8 s with 3.0 s left, and a jump to
    // 1,360,000 digits, predicted with the exponent these short steps show (about 1.0), took
    // 3.0 s: the exponent of that step was 1.23.
    const measured: StepTiming[] = [
      { digits: 128_000, ms: 200, from: 64_000 },
      { digits: 256_000, ms: 400, from: 128_000 },
      { digits: 512_000, ms: 800, from: 256_000 },
    ];
    const options = { ...DEFAULT_PLANNER_OPTIONS, ...INCREMENTAL_PLANNER };
    /** The time a step really took: the model with the exponent the long step showed. */
    const actualMs = (digits: number) => {
      const scratch = 800 / (1 - 0.5 * 0.5 ** 1.23);
      return scratch * ((digits / 512_000) ** 1.23 - 0.5);
    };

    it("without it, plans the jump that ended 0.1 s before the deadline", () => {
      const floorless = { ...INCREMENTAL_PLANNER, minExponent: 1 };
      assert.ok(growthExponent(measured, { ...options, minExponent: 1 }) < 1.05);
      const target = planNextStep(measured, 3000, floorless) as number;
      assert.ok(target >= 1_350_000, String(target));
      assert.ok(actualMs(target) > 2900, `${actualMs(target)} ms`);
    });

    it("with it, plans a jump beyond the doubling that ends with time to spare", () => {
      assert.equal(growthExponent(measured, options), MEASURED_MIN_EXPONENT);
      const target = planNextStep(measured, 3000, INCREMENTAL_PLANNER) as number;
      assert.ok(target > 1_024_000, `more than the doubling: ${target}`);
      assert.ok(actualMs(target) < 3000 / 1.15, `${actualMs(target)} ms`);
    });

    it("leaves exponents above it as measured", () => {
      const steeper = measured.map((s) => ({ ...s, ms: 200 * (s.digits / 128_000) ** 1.5 }));
      assert.ok(growthExponent(steeper, options) > 1.4, String(growthExponent(steeper, options)));
    });
  });
});
