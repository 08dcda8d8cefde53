import * as assert from "node:assert/strict";
import {
  KNOWN_PREFIX,
  mayContinueAfter,
  runPiJob,
  StepHint,
  VerificationError,
  verifyStep,
} from "../../job-image/src/job";
import { PI_2000 } from "./helpers/jobBuild";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A computation that takes `msPer1000` per 1,000 digits and answers from the fixture. */
function fakeCompute(msPer1000: number, answer = (digits: number) => PI_2000.slice(0, digits + 2)) {
  const targets: number[] = [];
  const compute = async (digits: number) => {
    targets.push(digits);
    await sleep((digits / 1000) * msPer1000);
    return answer(digits);
  };
  return { compute, targets };
}

/** A computation that never finishes targets above `limit` (a step still running at the deadline). */
function hangingAbove(limit: number) {
  const signals: AbortSignal[] = [];
  const compute = (digits: number, signal: AbortSignal) => {
    if (digits <= limit) return Promise.resolve(PI_2000.slice(0, digits + 2));
    signals.push(signal);
    return new Promise<string>(() => undefined);
  };
  return { compute, signals };
}

describe("job run loop (runPiJob)", function () {
  this.timeout(10000);
  const planner = { initialDigits: 100, maxDigits: 2000 };

  it("doubles the target until the maximum, verifying each step", async () => {
    const { compute, targets } = fakeCompute(1);
    const finished: number[] = [];
    const result = await runPiJob({
      deadline: performance.now() + 5000,
      compute,
      planner,
      onStepFinished: (digits) => finished.push(digits),
    });
    assert.deepEqual(targets, [100, 200, 400, 800, 1600, 2000]);
    assert.deepEqual(finished, targets);
    assert.equal(result.pi, PI_2000);
    assert.equal(result.stopReason, "max-digits");
    assert.deepEqual(
      result.steps.map((s) => s.digits),
      targets,
    );
  });

  it("tells each step whether another may follow, and records which steps extend the one before", async () => {
    const hints: [number, StepHint][] = [];
    const result = await runPiJob({
      deadline: performance.now() + 5000,
      compute: (digits, _signal, step) => {
        hints.push([digits, step]);
        return Promise.resolve(PI_2000.slice(0, digits + 2));
      },
      planner,
    });
    // Only the step that reaches maxDigits is surely the last.
    assert.deepEqual(
      hints.map(([digits, step]) => [digits, step.mayContinue]),
      [100, 200, 400, 800, 1600, 2000].map((digits) => [digits, digits < 2000]),
    );
    assert.deepEqual(
      result.steps.map((s) => [s.from, s.extendable]),
      [undefined, 100, 200, 400, 800, 1600].map((from, i) => [from, i < 5 ? undefined : false]),
    );
  });

  it("mayContinueAfter: whether the planner could plan a step after this one", () => {
    assert.equal(mayContinueAfter([], 1000, 10), true, "the first step: no prediction yet");
    assert.equal(
      mayContinueAfter([{ digits: 1000, ms: 1 }], 2000, 1e6, { maxDigits: 2000 }),
      false,
    );
    const oneMillionIn2s = [{ digits: 1e6, ms: 2000 }];
    // Doubling predicts 4,925 ms: 5,075 of 10,000 would be left, too little for another step.
    assert.equal(mayContinueAfter(oneMillionIn2s, 2e6, 10_000), false);
    assert.equal(mayContinueAfter(oneMillionIn2s, 2e6, 60_000), true);
  });

  it("stops when the next step would not fit, well before the deadline", async () => {
    // 100 ms per 1,000 digits: 100 to 1,600 digits take 310 ms; the next step (3,200) would need
    // 320 more, past the 500 ms deadline. The 190 ms to spare keep a loaded machine from making
    // the planner shorten the 1,600-digit step to fit.
    const { compute, targets } = fakeCompute(100);
    const deadline = performance.now() + 500;
    const result = await runPiJob({
      deadline,
      compute,
      planner: { ...planner, minMeasurableMs: 1 },
    });
    assert.equal(result.stopReason, "planned");
    assert.ok(
      result.endedAt <= deadline,
      `ended ${result.endedAt - deadline} ms after the deadline`,
    );
    assert.equal(result.pi, PI_2000.slice(0, 2 + targets[targets.length - 1]));
    assert.deepEqual(targets, [100, 200, 400, 800, 1600]);
  });

  it("drops a step still running at the deadline and keeps the last verified one", async () => {
    const { compute, signals } = hangingAbove(400);
    const deadline = performance.now() + 200;
    const result = await runPiJob({ deadline, compute, planner });
    const late = result.endedAt - deadline;
    assert.ok(late >= -1 && late < 50, `ended ${late} ms from the deadline`);
    assert.equal(result.stopReason, "deadline");
    assert.equal(result.pi, PI_2000.slice(0, 402));
    assert.equal(signals.length, 1);
    assert.equal(signals[0].aborted, true, "the abandoned step was told to stop");
  });

  it("stops at once on a stop request and keeps the last verified step", async () => {
    const { compute, signals } = hangingAbove(200);
    const stop = new AbortController();
    setTimeout(() => stop.abort("SIGTERM"), 30);
    const started = performance.now();
    const result = await runPiJob({
      deadline: performance.now() + 5000,
      compute,
      planner,
      signal: stop.signal,
    });
    assert.ok(performance.now() - started < 200);
    assert.equal(result.stopReason, "signal");
    assert.equal(result.pi, PI_2000.slice(0, 202));
    assert.equal(signals[0].reason, "signal");
  });

  it("does not start when stopped before the first step", async () => {
    const stop = new AbortController();
    stop.abort();
    const result = await runPiJob({
      deadline: performance.now() + 5000,
      compute: fakeCompute(1).compute,
      signal: stop.signal,
    });
    assert.deepEqual([result.pi, result.steps, result.stopReason], [undefined, [], "signal"]);
  });

  it("fails on a step that disagrees with the previous one", async () => {
    // Only the 400-digit step has a wrong digit (at place 321); the next step exposes it.
    const wrong = (digits: number) => {
      const text = PI_2000.slice(0, digits + 2);
      if (digits !== 400) return text;
      const at = 2 + 320;
      return text.slice(0, at) + String((Number(text[at]) + 1) % 10) + text.slice(at + 1);
    };
    await assert.rejects(
      runPiJob({
        deadline: performance.now() + 5000,
        compute: fakeCompute(1, wrong).compute,
        planner,
      }),
      (error: unknown) =>
        error instanceof VerificationError &&
        /^step of 800 digits disagrees with the previous step at decimal place 321: /.test(
          error.message,
        ),
    );
  });

  it("propagates a computation's own failure", async () => {
    await assert.rejects(
      runPiJob({
        deadline: performance.now() + 5000,
        compute: () => Promise.reject(new Error("worker out of memory")),
      }),
      /worker out of memory/,
    );
  });

  describe("verifyStep", () => {
    it("checks the first step against the known prefix", () => {
      assert.equal(KNOWN_PREFIX, PI_2000.slice(0, 52));
      verifyStep(PI_2000.slice(0, 102), 100, undefined);
      verifyStep("3.14", 2, undefined);
      assert.throws(
        () => verifyStep("3.14159265358979323846264338327950288419716939937511", 50, undefined),
        /disagrees with the known prefix at decimal place 50/,
      );
    });
    it("checks the length and shape", () => {
      assert.throws(
        () => verifyStep("3.1415", 5, undefined),
        /returned 6 characters.*expected "3\." and 5 digits/,
      );
      assert.throws(() => verifyStep("3,14159", 5, undefined), /expected "3\." and 5 digits/);
    });
    it("accepts a longer step that extends the previous one", () => {
      verifyStep(PI_2000.slice(0, 1002), 1000, PI_2000.slice(0, 502));
      assert.throws(
        () => verifyStep(PI_2000.slice(0, 1002), 1000, PI_2000.slice(0, 501) + "0"),
        /disagrees with the previous step at decimal place 500/,
      );
    });
  });
});
