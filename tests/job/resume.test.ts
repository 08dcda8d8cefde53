/**
 * A run that survives its attempt: the compiled job stopped by SIGTERM (as the init script stops
 * it on a spot interruption) saves a checkpoint, and the next attempt of the same run resumes
 * from it within what is left of the same duration, to exactly Pi's digits.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { decodeCheckpoint } from "../../job-image/src/checkpoint";
import type { Manifest } from "../../job-image/src/manifest";
import { buildJob, JOB_DIR, startJob, temporaryDir } from "./helpers/jobBuild";
import { checkStoredResult } from "./helpers/results";

/** Pi from scratch in this process, with the job's own compiled code (one thread). */
async function piFromScratch(digits: number): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the build of this run
  const job = require(
    path.join(JOB_DIR, "dist", "index.js"),
  ) as typeof import("../../job-image/src/index");
  return job.computePiDigits(digits, { workers: 1 });
}

describe("job resuming from its checkpoint (node job-image/dist/main.js)", function () {
  this.timeout(60000);
  const runId = "pi-20261123T0300Z";
  // The whole run's duration: long enough that step 5 comes well before its end (see below).
  const durationSeconds = 2;
  let cwd: string;
  let env: Record<string, string>;
  const checkpointFile = () => path.join(cwd, "checkpoints", runId, "checkpoint.bin");
  const result = () => {
    const folder = path.join(cwd, "results", runId);
    return {
      data: fs.readFileSync(path.join(folder, "pi.txt")),
      manifest: fs.readFileSync(path.join(folder, "manifest.json"), "utf8"),
    };
  };

  before(() => buildJob());
  beforeEach(() => {
    cwd = temporaryDir("resume");
    env = {
      DURATION_SECONDS: String(durationSeconds),
      WORKERS: "1",
      RUN_ID: runId,
      CHECKPOINT_URI: `file://${path.join(cwd, "checkpoints", runId)}/`,
    };
  });
  afterEach(() => fs.rmSync(cwd, { recursive: true, force: true }));

  it("saves its state on SIGTERM, and the next attempt goes on from it to exactly Pi's digits", async () => {
    let sent = false;
    const first = await startJob({
      cwd,
      env,
      onStdout: (stdout, child) => {
        // Early in the run, where the planner doubles and keeps P for the next step: near its
        // end it may take one larger last step, which keeps no P, and a loaded machine brings
        // the end closer.
        if (!sent && /step 5 verified/.test(stdout)) {
          sent = true;
          child.kill("SIGTERM");
        }
      },
    });
    assert.equal(first.code, 143, first.stderr);
    assert.match(first.stdout, /pi: saved the checkpoint to .*checkpoint\.bin\n/);
    const stopped = checkStoredResult(result().data, result().manifest, runId);
    const saved = decodeCheckpoint(fs.readFileSync(checkpointFile()), runId);
    assert.equal(saved.pi.length - 2, stopped.digits);
    assert.ok(saved.part.p !== undefined, "the saved series part can be extended");
    assert.ok(saved.usedMs > 0 && saved.usedMs < durationSeconds * 1000, `used ${saved.usedMs} ms`);

    const second = await startJob({ cwd, env });
    assert.equal(second.code, 0, second.stderr);
    assert.match(
      second.stdout,
      new RegExp(
        `pi: resuming from .*checkpoint\\.bin: [\\d,]+ digits, \\d+ s of ${durationSeconds} s used\\n`,
      ),
    );
    const resumed: Manifest = checkStoredResult(result().data, result().manifest, runId);
    assert.deepEqual(resumed.resumed, {
      digits: stopped.digits,
      usedSeconds: Math.round(saved.usedMs) / 1000,
    });
    // One duration for the whole run: the second attempt had only what the first left.
    assert.ok(
      resumed.resumed!.usedSeconds + resumed.seconds <= durationSeconds + 0.5,
      `${resumed.resumed!.usedSeconds} s + ${resumed.seconds} s`,
    );
    assert.ok(resumed.digits > stopped.digits, `${resumed.digits} after ${stopped.digits}`);
    assert.deepEqual(
      resumed.steps.slice(0, stopped.steps.length).map((s) => s.digits),
      stopped.steps.map((s) => s.digits),
    );
    // Digit for digit what a computation from scratch gives.
    assert.equal(result().data.toString("ascii"), `${await piFromScratch(resumed.digits)}\n`);
  });

  it("starts again, saying why, when the checkpoint is damaged", async () => {
    fs.mkdirSync(path.dirname(checkpointFile()), { recursive: true });
    fs.writeFileSync(checkpointFile(), "transient-jobs pi checkpoint 1\n{}\n");
    const run = await startJob({ cwd, env: { ...env, DURATION_SECONDS: "1" } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /pi: warning: the checkpoint .*checkpoint\.bin cannot be used \(its header lacks runId, usedMs, steps, terms, sections or sha256\); starting the run again\n/,
    );
    const manifest = checkStoredResult(result().data, result().manifest, runId);
    assert.equal(manifest.resumed, undefined);
  });
});
