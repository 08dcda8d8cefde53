/** Checks shared by the local and the S3 end-to-end tests. */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Manifest } from "../../../job-image/src/manifest";
import { JOB_DIR, PI_2000 } from "./jobBuild";

/**
 * Checks a stored result: the manifest describes the data exactly (sha256, digit count, size, run
 * id, version) and the digits match the reference prefix.
 */
export function checkStoredResult(data: Buffer, manifestText: string, runId: string): Manifest {
  const manifest = JSON.parse(manifestText) as Manifest;
  const text = data.toString("ascii");
  assert.match(text, /^3\.\d+\n$/);
  assert.equal(manifest.sha256, createHash("sha256").update(data).digest("hex"));
  assert.equal(manifest.digits, text.length - 3, "digits = places after 3.");
  assert.equal(manifest.bytes, data.length);
  assert.equal(manifest.runId, runId);
  assert.equal(manifest.algorithm, "chudnovsky-binary-splitting");
  assert.equal(
    manifest.version,
    (
      JSON.parse(fs.readFileSync(path.join(JOB_DIR, "package.json"), "utf8")) as {
        version: string;
      }
    ).version,
  );
  assert.equal(manifest.steps[manifest.steps.length - 1].digits, manifest.digits);
  assert.ok(Date.parse(manifest.finishedAt) >= Date.parse(manifest.startedAt));
  // Correct digits: the reference prefix (the rest was checked step by step by the job).
  const common = Math.min(text.length - 1, PI_2000.length);
  assert.equal(text.slice(0, common), PI_2000.slice(0, common));
  return manifest;
}
