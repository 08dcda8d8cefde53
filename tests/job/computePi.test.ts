import * as assert from "node:assert/strict";
import * as path from "node:path";
import { seriesRange } from "../../job-image/src/chudnovsky";
import { runPiJob } from "../../job-image/src/job";
import { computePiDigits, createSeriesCache } from "../../job-image/src/pi";
import { INCREMENTAL_PLANNER } from "../../job-image/src/planner";
import { AbortedError, PoolClosedError, WorkerPool } from "../../job-image/src/workerPool";
import { buildJob, PI_2000 } from "./helpers/jobBuild";

describe("job computePiDigits (worker threads)", function () {
  this.timeout(60000);
  const pools: WorkerPool[] = [];
  const pool = (size: number) => {
    const created = new WorkerPool(size);
    pools.push(created);
    return created;
  };

  before(async () => {
    await buildJob();
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  it("computes the reference digits on one thread", async () => {
    assert.equal(await computePiDigits(2000, { workers: 1 }), PI_2000);
  });

  it("gives the same 40,000 places on 1, 2 and 3 threads (split merges and conversion)", async () => {
    // 40,000 places: 2,822 terms, so ranges are split across threads, the root merge goes as
    // separate products and the decimal conversion is cut into one chunk per thread.
    const one = await computePiDigits(40_000, { pool: pool(1) });
    assert.equal(one.length, 40_002);
    assert.equal(one.slice(0, 2002), PI_2000);
    assert.equal(await computePiDigits(40_000, { pool: pool(2) }), one);
    assert.equal(await computePiDigits(40_000, { pool: pool(3) }), one);
  });

  it("agrees with itself on the common prefix when the target doubles", async () => {
    const shared = pool(2);
    const smaller = await computePiDigits(12_345, { pool: shared });
    const larger = await computePiDigits(24_690, { pool: shared });
    assert.equal(larger.slice(0, smaller.length), smaller);
  });

  for (const size of [1, 3]) {
    it(`extends a kept series part step by step on ${size} thread(s), digits as from scratch`, async () => {
      const shared = pool(size);
      const cache = createSeriesCache();
      let previous = "";
      for (const digits of [1000, 2000, 5000, 9000, 20_000]) {
        const pi = await computePiDigits(digits, { pool: shared, cache });
        assert.equal(pi.length, digits + 2);
        assert.equal(pi.slice(0, previous.length), previous);
        assert.equal(pi.slice(0, 2002), PI_2000.slice(0, Math.min(digits, 2000) + 2));
        // The kept part is exactly the part of its terms summed from term 0.
        assert.deepEqual(cache.part, seriesRange(0, cache.terms, true));
        previous = pi;
      }
      assert.equal(previous, await computePiDigits(20_000, { pool: shared }));
      // A last step without P: the same digits, and the kept part loses its P.
      const last = await computePiDigits(40_000, { pool: shared, cache, keepP: false });
      assert.equal(last, await computePiDigits(40_000, { pool: shared }));
      const whole = seriesRange(0, cache.terms, false);
      assert.deepEqual(cache.part, { q: whole.q, t: whole.t });
      // Without P the part cannot be extended: a larger step sums from term 0 again.
      const after = await computePiDigits(45_000, { pool: shared, cache });
      assert.equal(after.slice(0, last.length), last);
      assert.deepEqual(cache.part, seriesRange(0, cache.terms, true));
      // A smaller step reuses the larger part as it is.
      const terms = cache.terms;
      assert.equal(await computePiDigits(3000, { pool: shared, cache }), after.slice(0, 3002));
      assert.equal(cache.terms, terms);
    });
  }

  it("runs incremental steps in the job loop to the same digits as from scratch", async () => {
    const shared = pool(2);
    for (const maxDigits of [2000, 50_000]) {
      const cache = createSeriesCache();
      const result = await runPiJob({
        deadline: performance.now() + 30_000,
        compute: (digits, signal, step) =>
          computePiDigits(digits, { pool: shared, signal, cache, keepP: step.mayContinue }),
        planner: { ...INCREMENTAL_PLANNER, initialDigits: 100, maxDigits },
      });
      assert.equal(result.stopReason, "max-digits");
      assert.ok(result.steps.length >= 5, `${result.steps.length} steps`);
      assert.equal(result.pi?.slice(0, 2002), PI_2000.slice(0, Math.min(maxDigits, 2000) + 2));
      assert.equal(result.pi, await computePiDigits(maxDigits, { pool: shared }));
      // The last step dropped P: nothing follows it.
      assert.equal(cache.part?.p, undefined);
    }
  });

  it("keeps the cache untouched when a step is stopped", async () => {
    const shared = pool(2);
    const cache = createSeriesCache();
    await computePiDigits(10_000, { pool: shared, cache });
    const before = { ...cache };
    const controller = new AbortController();
    setTimeout(() => controller.abort("deadline"), 20);
    await assert.rejects(
      computePiDigits(500_000, { pool: shared, signal: controller.signal, cache }),
      AbortedError,
    );
    assert.deepEqual(cache, before);
    const pi = await computePiDigits(12_000, { pool: shared, cache });
    assert.equal(pi.slice(0, 2002), PI_2000);
  });

  it("stops promptly when its signal fires, leaving the pool usable", async () => {
    const shared = pool(2);
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort("deadline"), 50);
    await assert.rejects(
      computePiDigits(500_000, { pool: shared, signal: controller.signal }),
      (error: unknown) => error instanceof AbortedError && error.reason === "deadline",
    );
    assert.ok(performance.now() - started < 1000, "rejected within a second");
    // Queued tasks were dropped; running ones finish in the background, then the pool serves again.
    assert.equal(await computePiDigits(100, { pool: shared }), PI_2000.slice(0, 102));
  });

  it("rejects with PoolClosedError when its pool is closed underneath it", async () => {
    const shared = new WorkerPool(1);
    const running = computePiDigits(500_000, { pool: shared });
    setTimeout(() => void shared.close(), 50);
    await assert.rejects(running, PoolClosedError);
    await assert.rejects(shared.run({ op: "mul", x: 2n, y: 3n }), PoolClosedError);
  });

  it("passes a task's error back and keeps the thread", async () => {
    const shared = pool(1);
    await assert.rejects(
      shared.run({ op: "series", a: 5, b: 5, wantP: true }),
      /not a non-empty range/,
    );
    assert.equal(await shared.run({ op: "mul", x: 6n, y: 7n }), 42n);
  });

  it("says how to fix a missing worker script", () => {
    assert.throws(
      () => new WorkerPool(1, { script: path.join(__dirname, "missing.js") }),
      /missing\.js does not exist; build the job first/,
    );
    assert.throws(() => new WorkerPool(0), /size 0 must be a whole number of at least 1/);
  });
});
