/**
 * The compiled job run as the container runs it (`node dist/main.js` with the same variables):
 * the deadline, the result on disk, bad parameters and SIGTERM.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Manifest } from "../../job-image/src/manifest";
import { buildJob, startJob, temporaryDir } from "./helpers/jobBuild";
import { checkStoredResult } from "./helpers/results";

function readRun(folder: string, runId: string): Manifest {
  assert.deepEqual(fs.readdirSync(folder).sort(), ["manifest.json", "pi.txt"]);
  return checkStoredResult(
    fs.readFileSync(path.join(folder, "pi.txt")),
    fs.readFileSync(path.join(folder, "manifest.json"), "utf8"),
    runId,
  );
}

describe("job process (node job-image/dist/main.js)", function () {
  this.timeout(60000);
  let cwd: string;

  before(async () => {
    await buildJob();
  });
  beforeEach(() => {
    cwd = temporaryDir("run");
  });
  afterEach(() => fs.rmSync(cwd, { recursive: true, force: true }));

  it("a 2 s run ends within 2 s plus a small margin, with verified digits in ./results/<run id>/", async () => {
    const run = await startJob({
      cwd,
      env: { DURATION_SECONDS: "2", RUN_ID: "deadline-test", WORKERS: "2" },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.ms < 2000 + 400, `took ${Math.round(run.ms)} ms`);
    const manifest = readRun(path.join(cwd, "results", "deadline-test"), "deadline-test");
    assert.ok(manifest.seconds <= 2, `manifest.seconds ${manifest.seconds}`);
    // It used the time: doubling from 1,000 reaches far beyond 30,000 digits in 2 s.
    assert.ok(manifest.digits >= 30_000, `only ${manifest.digits} digits`);
    assert.ok(["planned", "deadline"].includes(manifest.stopReason));
    assert.equal(manifest.workers, 2);
    assert.equal(manifest.durationSeconds, 2);
    const lines = run.stdout.trim().split("\n");
    assert.equal(
      lines[0],
      "pi: run deadline-test, 2 s on 2 worker thread(s), results to results/deadline-test",
    );
    assert.match(lines[1], /^pi: step 1 verified 1,000 digits in \d+\.\d s, \d+\.\d s left$/);
    assert.match(
      lines[lines.length - 1],
      /^pi: [\d,]+ digits in [\d.]+ s \((planned|deadline)\); wrote results\/deadline-test\/pi\.txt and results\/deadline-test\/manifest\.json$/,
    );
    assert.equal(run.stderr, "");
  });

  it("takes --duration, --workers, --out and --run-id flags", async () => {
    const out = path.join(cwd, "elsewhere");
    const run = await startJob({
      cwd,
      args: ["--duration", "1", "--workers=1", "--out", out, "--run-id", "flags"],
    });
    assert.equal(run.code, 0, run.stderr);
    const manifest = readRun(path.join(out, "flags"), "flags");
    assert.equal(manifest.workers, 1);
    assert.equal(manifest.durationSeconds, 1);
    assert.ok(!fs.existsSync(path.join(cwd, "results")));
  });

  const bad: [string, Record<string, string>, string[], RegExp][] = [
    ["a zero duration flag", {}, ["--duration", "0"], /--duration: "0" is not a whole number/],
    ["a non-numeric DURATION_SECONDS", { DURATION_SECONDS: "10s" }, [], /DURATION_SECONDS: "10s"/],
    ["WORKERS=0", { WORKERS: "0" }, [], /WORKERS: "0" is not a whole number of threads/],
    [
      "an invalid bucket without region",
      { RESULTS_BUCKET: "Bad_Bucket", RUN_ID: "r1" },
      [],
      /RESULTS_BUCKET: "Bad_Bucket" is not an S3 bucket name[^]*AWS_REGION: not set/,
    ],
  ];
  for (const [label, env, args, message] of bad) {
    it(`exits with 2 and a clear message for ${label}, writing nothing`, async () => {
      const run = await startJob({ cwd, env, args });
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^pi: invalid parameters:\n {2}/);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, "");
      assert.deepEqual(fs.readdirSync(cwd), []);
    });
  }

  it("prints the usage for --help", async () => {
    const run = await startJob({ cwd, args: ["--help"] });
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: npm run job -- \[--duration SECONDS\]/);
  });

  it("on SIGTERM writes the last verified step and exits with 143", async () => {
    let sent = 0;
    const run = await startJob({
      cwd,
      env: { DURATION_SECONDS: "60", RUN_ID: "sigterm-test", WORKERS: "2" },
      onStdout: (stdout, child) => {
        // After a step that takes a while, so the next one is under way.
        if (!sent && /step 8 verified/.test(stdout)) {
          sent = performance.now();
          child.kill("SIGTERM");
        }
      },
    });
    assert.ok(sent > 0, `never reached step 8: ${run.stdout}`);
    assert.equal(run.code, 143, run.stderr);
    assert.ok(run.ms < 10_000);
    assert.match(run.stdout, /pi: SIGTERM received; keeping the last verified step/);
    const manifest = readRun(path.join(cwd, "results", "sigterm-test"), "sigterm-test");
    assert.equal(manifest.stopReason, "signal");
    assert.ok(manifest.steps.length >= 8);
    assert.ok(manifest.seconds < 60);
    assert.equal(run.stderr, "");
  });
});
