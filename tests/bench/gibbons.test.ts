/**
 * The reference job of `npm run bench` (bench/gibbons.py) computes correct digits, so that the
 * benchmark compares our job with a working reference and not with a broken or truncated one.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PI_2000 } from "../job/helpers/jobBuild";

const SCRIPT = path.resolve(__dirname, "..", "..", "bench", "gibbons.py");

/**
 * Pi to 50 decimal places as printed in reference tables (OEIS A000796, CRC Standard
 * Mathematical Tables), typed in here rather than taken from any code of this repository.
 */
const PI_50 = "3.14159265358979323846264338327950288419716939937510";

function gibbons(...args: string[]): Record<string, unknown> {
  const run = spawnSync("python3", [SCRIPT, ...args], { encoding: "utf8", timeout: 20000 });
  if (run.error) throw new Error(`python3 is needed by the bench reference: ${run.error.message}`);
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

describe("bench reference: Gibbons' spigot in Python", () => {
  it("computes the first 50 decimal places of Pi", () => {
    assert.deepEqual(gibbons("--digits", "50").pi, PI_50);
  });

  it("agrees with the 2,000-place fixture checked by two arctangent formulas", () => {
    const result = gibbons("--digits", "2000");
    assert.equal(result.digits, 2000);
    assert.equal(result.pi, PI_2000);
  });

  it("in --duration mode, stops at the deadline and writes every digit it reached", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-gibbons-"));
    try {
      const out = path.join(dir, "pi.txt");
      const result = gibbons("--duration", "1", "--out", out);
      const text = fs.readFileSync(out, "ascii");
      assert.equal(text, `${text.trimEnd()}\n`);
      assert.equal(text.trimEnd().length, Number(result.digits) + 2);
      assert.ok(Number(result.digits) > 50, `only ${result.digits} digits in 1 s`);
      assert.ok(Number(result.seconds) >= 1 && Number(result.seconds) < 2, `${result.seconds} s`);
      const common = Math.min(text.trimEnd().length, PI_2000.length);
      assert.equal(text.slice(0, common), PI_2000.slice(0, common));
      assert.equal(result.prefix, PI_50);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
