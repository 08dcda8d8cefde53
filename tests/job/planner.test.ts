import * as assert from "node:assert/strict";
import {
  DEFAULT_PLANNER_OPTIONS,
  growthExponent,
  planNextStep,
  predictStepMs,
  StepTiming,
} from "../../job-image/src/planner";

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
});
