import * as assert from "node:assert/strict";
import * as path from "node:path";
import { computePiDigits } from "../../job-image/src/pi";
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

  it("stops promptly when its signal fires, leaving the pool usable", async () => {
    const shared = pool(2);
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort("deadline"), 50);
    await assert.rejects(
      computePiDigits(3_000_000, { pool: shared, signal: controller.signal }),
      (error: unknown) => error instanceof AbortedError && error.reason === "deadline",
    );
    assert.ok(performance.now() - started < 1000, "rejected within a second");
    // Queued tasks were dropped; running ones finish in the background, then the pool serves again.
    assert.equal(await computePiDigits(100, { pool: shared }), PI_2000.slice(0, 102));
  });

  it("rejects with PoolClosedError when its pool is closed underneath it", async () => {
    const shared = new WorkerPool(1);
    const running = computePiDigits(2_000_000, { pool: shared });
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
