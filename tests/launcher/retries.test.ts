import * as assert from "node:assert/strict";
import { RUN_RETRY_DEFAULTS, RunRetryPolicy } from "../../launcher/contract";
import {
  decideNextAttempt,
  EndedAttempt,
  nextPurchaseOption,
  RetryContext,
  runLimit,
} from "../../launcher/retries";

const SCHEDULED = new Date("2026-11-23T03:00:00Z");
const minutesAfter = (minutes: number) => new Date(SCHEDULED.getTime() + minutes * 60_000);

function context(
  policy: Partial<RunRetryPolicy> = {},
  extra: Partial<RetryContext> = {},
): RetryContext {
  return {
    policy: { ...RUN_RETRY_DEFAULTS, ...policy },
    purchaseOption: "spot-then-on-demand",
    maxRuntimeMinutes: 60,
    runStartedAt: SCHEDULED,
    minAttemptMinutes: 10,
    ...extra,
  };
}

function ended(overrides: Partial<EndedAttempt> = {}): EndedAttempt {
  return {
    attempt: 1,
    status: "interrupted",
    capacity: "spot",
    endedAt: minutesAfter(20),
    ...overrides,
  };
}

describe("run retries (decideNextAttempt)", () => {
  it("gives a spot-interrupted spot-then-on-demand run its next attempt on demand, after the backoff", () => {
    assert.deepEqual(decideNextAttempt(ended(), context()), {
      retry: true,
      attempt: 2,
      reason: "interrupted",
      purchaseOption: "on-demand",
      notBefore: minutesAfter(21),
      deadlineMinutes: 60,
    });
  });

  const table: [string, Partial<EndedAttempt>, Partial<RunRetryPolicy>, boolean | string][] = [
    ["a lost instance", { status: "lost" }, {}, true],
    ["a failed job (any non-zero code by default)", { status: "failed", exitCode: 3 }, {}, true],
    [
      "a failed job with a listed exit code",
      { status: "failed", exitCode: 75 },
      { exitCodes: [75] },
      true,
    ],
    [
      "a failed job with an exit code not listed",
      { status: "failed", exitCode: 1 },
      { exitCodes: [75] },
      "exit code 1 is not retried (runRetries.exitCodes: 75)",
    ],
    [
      "a failed run without an exit code (it never started)",
      { status: "failed", exitCode: null },
      {},
      "exit code unknown is not retried (runRetries.exitCodes: any non-zero)",
    ],
    ["a success", { status: "succeeded" }, {}, "attempt 1 ended succeeded, which is not retried"],
    ["a reaped run", { status: "reaped" }, {}, "attempt 1 ended reaped, which is not retried"],
    [
      "a timed-out run",
      { status: "timed-out" },
      {},
      "attempt 1 ended timed-out, which is not retried",
    ],
    [
      "a reason left out of runRetries.on",
      { status: "lost" },
      { on: ["interrupted", "failed"] },
      "runRetries.on does not include lost",
    ],
    ["the last allowed attempt", { attempt: 2 }, { attempts: 2 }, true],
    [
      "an attempt after the last",
      { attempt: 3 },
      { attempts: 2 },
      "attempt 3 was the last (runRetries.attempts: 2)",
    ],
    ["no retries at all", {}, { attempts: 0 }, "attempt 1 was the last (runRetries.attempts: 0)"],
  ];
  for (const [label, attempt, policy, expected] of table) {
    it(`${expected === true ? "retries" : "does not retry"} ${label}`, () => {
      const decision = decideNextAttempt(ended(attempt), context(policy));
      if (expected === true) assert.equal(decision.retry, true);
      else assert.deepEqual(decision, { retry: false, why: expected });
    });
  }

  it("gives each attempt at most maxRuntimeMinutes, within the run's limit of maxRuntimeMinutes × (attempts + 1)", () => {
    assert.deepEqual(runLimit(context()), minutesAfter(180));
    const late = decideNextAttempt(ended({ attempt: 2, endedAt: minutesAfter(150) }), context());
    assert.equal(late.retry && late.deadlineMinutes, 29);
    assert.deepEqual(
      decideNextAttempt(ended({ attempt: 2, endedAt: minutesAfter(170) }), context()),
      {
        retry: false,
        why: "the run's limit (maxRuntimeMinutes × (runRetries.attempts + 1) = 180 min from 2026-11-23T03:00:00.000Z) leaves 9 min, less than an attempt needs (10)",
      },
    );
  });

  it("tries spot again for spot, and keeps on-demand and non-interruption retries as configured", () => {
    assert.equal(nextPurchaseOption("spot", "interrupted", "spot"), "spot");
    assert.equal(nextPurchaseOption("spot-then-on-demand", "lost", "spot"), "spot-then-on-demand");
    assert.equal(
      nextPurchaseOption("spot-then-on-demand", "interrupted", "on-demand"),
      "spot-then-on-demand",
    );
    assert.equal(nextPurchaseOption("on-demand", "failed", "on-demand"), "on-demand");
  });
});
