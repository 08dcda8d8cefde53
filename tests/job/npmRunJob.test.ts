/**
 * `npm run job` as a user runs it: one SIGTERM to npm ends the job with its last verified step,
 * and leaves no job process behind (npm's shell used to keep it running as an orphan).
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildJob, temporaryDir } from "./helpers/jobBuild";

const ROOT = path.resolve(__dirname, "..", "..");

function jobProcesses(runId: string): string[] {
  try {
    // "--": the pattern starts with dashes, and pgrep would read it as an option.
    return execFileSync("pgrep", ["-f", "--", `--run-id ${runId}`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    })
      .split("\n")
      .filter(Boolean);
  } catch (error) {
    // pgrep exits 1 when nothing matches; anything else is a broken check, not "none left".
    if ((error as { status?: number }).status === 1) return [];
    throw error;
  }
}

describe("npm run job", function () {
  this.timeout(60000);

  // npm run job compiles first; after this run's build its incremental tsc has nothing to do.
  before(() => buildJob());

  it("ends with its last verified step on one SIGTERM to npm, leaving no process behind", async () => {
    const out = temporaryDir("npm-sigterm");
    const runId = `sigterm-${process.pid}`;
    const child = spawn(
      "npm",
      [
        "run",
        "--silent",
        "job",
        "--",
        "--duration",
        "40",
        "--workers",
        "1",
        "--out",
        out,
        "--run-id",
        runId,
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    const exit = new Promise<number | null>((resolve) => child.once("close", resolve));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no third step:\n${stdout}`)), 30000);
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (/step 3 verified/.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const signalled = Date.now();
    child.kill("SIGTERM");
    const code = await exit;
    const stoppedMs = Date.now() - signalled;
    try {
      assert.equal(code, 143, stdout);
      assert.ok(stoppedMs < 5000, `took ${stoppedMs} ms to stop`);
      const manifest = JSON.parse(
        fs.readFileSync(path.join(out, runId, "manifest.json"), "utf8"),
      ) as { stopReason: string; digits: number };
      assert.equal(manifest.stopReason, "signal");
      assert.ok(manifest.digits >= 4000, `${manifest.digits} digits`);
      assert.deepEqual(jobProcesses(runId), []);
    } finally {
      for (const pid of jobProcesses(runId)) process.kill(Number(pid), "SIGKILL");
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
