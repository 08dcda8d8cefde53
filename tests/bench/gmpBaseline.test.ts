/**
 * The native baseline of `npm run bench`: its search for the most digits within a duration, and
 * the C program itself, which must compute correct digits for the share of GMP to mean anything.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  bestWithin,
  compileGmp,
  GMP_RUNS_PER_DURATION,
  nextGmpRun,
  predictGmpDigits,
  runGmp,
} from "../../bench/gmpBaseline";
import { firstDifference } from "../../bench/piJob";
import { PI_2000 } from "../job/helpers/jobBuild";

describe("bench native GMP baseline", () => {
  describe("predictGmpDigits", () => {
    it("extrapolates with the exponent of the two runs nearest in time", () => {
      // Doubling the digits took 2.5× the time: k = log2(2.5) = 1.32; 10 s is 4× 2.5 s, so
      // 2M × 4^(1/1.32) = 2M × 2.854 = 5.708M, rounded down to 5.70M.
      const runs = [
        { digits: 1_000_000, seconds: 1 },
        { digits: 2_000_000, seconds: 2.5 },
      ];
      assert.equal(predictGmpDigits(runs, 10), 5_700_000);
      // With a run near 10 s, that one and the next nearest decide: k = log(9/2.5)/log(2.5) =
      // 1.398, and 5M × (10/9)^(1/1.398) = 5.391M.
      const more = [...runs, { digits: 5_000_000, seconds: 9 }];
      assert.equal(predictGmpDigits(more, 10), 5_390_000);
    });

    it("keeps the exponent within [1, 2] when timer noise gives anything", () => {
      const flat = [
        { digits: 1000, seconds: 1 },
        { digits: 2000, seconds: 1 },
      ];
      assert.equal(predictGmpDigits(flat, 4), 8000);
      const steep = [
        { digits: 1000, seconds: 1 },
        { digits: 2000, seconds: 16 },
      ];
      assert.equal(predictGmpDigits(steep, 64), 4000);
    });

    it("needs two timed runs", () => {
      assert.throws(
        () => predictGmpDigits([{ digits: 5, seconds: 1 }], 10),
        /two timed runs, got 1/,
      );
    });
  });

  describe("the search", () => {
    const probes = [
      { digits: 1_000_000, seconds: 1 },
      { digits: 2_000_000, seconds: 2.5 },
    ];

    it("aims a little below the duration, then stops once a run lands close below it", () => {
      // 9.6 s: 2M × 3.84^(1/1.32) = 5.534M.
      assert.equal(nextGmpRun(probes, 10, 0), 5_530_000);
      assert.equal(nextGmpRun([...probes, { digits: 5_530_000, seconds: 9.5 }], 10, 1), undefined);
    });

    it("tries again after an overshoot, within the runs allowed per duration", () => {
      const over = [...probes, { digits: 5_530_000, seconds: 11 }];
      const again = nextGmpRun(over, 10, 1);
      assert.ok(again !== undefined && again < 5_530_000, `${again}`);
      assert.equal(nextGmpRun(over, 10, GMP_RUNS_PER_DURATION), undefined);
    });

    it("counts the largest run that finished within the duration", () => {
      const runs = [
        ...probes,
        { digits: 5_000_000, seconds: 9.7 },
        { digits: 5_500_000, seconds: 10.4 },
      ];
      assert.deepEqual(bestWithin(runs, 10), { digits: 5_000_000, seconds: 9.7 });
      assert.deepEqual(bestWithin(runs, 2), { digits: 1_000_000, seconds: 1 });
      assert.equal(bestWithin(runs, 0.5), undefined);
    });
  });

  describe("firstDifference", () => {
    it("compares files on their common length only", () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-gmp-diff-"));
      try {
        const write = (name: string, text: string) => {
          fs.writeFileSync(path.join(dir, name), text);
          return path.join(dir, name);
        };
        const long = write("long", PI_2000);
        assert.equal(firstDifference(long, write("prefix", PI_2000.slice(0, 700))), -1);
        // Our job ends its file with a newline; the others do not.
        assert.equal(firstDifference(write("newline", `${PI_2000.slice(0, 9)}\n`), long), -1);
        assert.equal(firstDifference(long, write("newline2", `${PI_2000.slice(0, 9)}\n`)), -1);
        const wrong = `${PI_2000.slice(0, 1500)}0${PI_2000.slice(1501)}`;
        assert.equal(PI_2000[1500] === "0", false);
        assert.equal(firstDifference(long, write("wrong", wrong)), 1500);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("chudnovskyGmp.c (when gcc and libgmp are present)", function () {
    this.timeout(60_000);
    let dir: string;
    let binary: string | undefined;
    before(async function () {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-gmp-"));
      const program = await compileGmp(dir);
      // The bench reports the baseline as not measured without them; npm test must not need gcc.
      if ("unavailable" in program) this.skip();
      else binary = program.binary;
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    for (const digits of [1, 50, 999, 2000]) {
      it(`computes ${digits} decimal places that match the 2,000-place fixture`, async () => {
        const out = path.join(dir, `pi-${digits}.txt`);
        const run = await runGmp(binary as string, digits, undefined, out);
        assert.equal(run.digits, digits);
        assert.equal(fs.readFileSync(out, "utf8"), PI_2000.slice(0, 2 + digits));
      });
    }

    it("rejects a bad digit count, naming it", () => {
      const run = spawnSync(binary as string, ["12x"], { encoding: "utf8" });
      assert.equal(run.status, 2);
      assert.match(run.stderr, /DIGITS: "12x" is not a whole number from 1 to 10\^9/);
    });
  });
});
