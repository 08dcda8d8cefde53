/**
 * job-image/README.md's sample `manifest.json` against one the job's own code builds: the same
 * keys in the same order, values of the same kinds, and figures that agree with each other as a
 * real manifest's do.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  ALGORITHM,
  buildManifest,
  DATA_CONTENT_TYPE,
  DATA_FILE,
  encodePiData,
  Manifest,
} from "../../job-image/src/manifest";

const README = fs.readFileSync(path.join(__dirname, "..", "..", "job-image", "README.md"), "utf8");

/** The JSON block that follows "`manifest.json`:" in the contract. */
function sampleManifest(): Record<string, unknown> {
  const match = /`manifest\.json`:\n\n```json\n([\s\S]*?)\n```/.exec(README);
  assert.ok(match, "job-image/README.md has no sample manifest after `manifest.json`:");
  return JSON.parse(match[1]) as Record<string, unknown>;
}

const kind = (value: unknown) => (Array.isArray(value) ? "array" : typeof value);

describe("job-image/README.md's sample manifest", () => {
  const sample = sampleManifest();
  const data = encodePiData(`3.${"1".repeat(1000)}`);
  const real: Manifest = buildManifest(data, {
    runId: "pi-20261123T0300Z",
    version: "1.1.0",
    startedAt: new Date("2026-11-23T03:00:00.000Z"),
    finishedAt: new Date("2026-11-23T03:00:01.000Z"),
    durationSeconds: 2,
    workers: 2,
    stopReason: "planned",
    steps: [{ digits: 1000, ms: 4 }],
  });

  it("has the real manifest's keys, in its order", () => {
    assert.deepEqual(Object.keys(sample), Object.keys(real));
  });

  it("has values of the real manifest's kinds, and its constants", () => {
    for (const [key, value] of Object.entries(real)) {
      assert.equal(kind(sample[key]), kind(value), `${key} is ${kind(sample[key])}`);
    }
    assert.equal(sample.algorithm, ALGORITHM);
    assert.equal(sample.dataFile, DATA_FILE);
    assert.equal(sample.contentType, DATA_CONTENT_TYPE);
    assert.ok(["planned", "deadline", "signal", "max-digits"].includes(String(sample.stopReason)));
    assert.match(String(sample.version), /^\d+\.\d+\.\d+$/);
  });

  it("lists steps shaped like the real ones ('…' aside), the last one the stored digits", () => {
    const steps = (sample.steps as unknown[]).filter((s) => s !== "…");
    assert.ok(steps.length >= 2);
    for (const step of steps)
      assert.deepEqual(Object.keys(step as object), Object.keys(real.steps[0]));
    assert.equal((steps[steps.length - 1] as { digits: number }).digits, sample.digits);
  });

  it("has figures that agree as a real manifest's do", () => {
    // "3." + the digits + "\n", and seconds from startedAt to finishedAt.
    assert.equal(real.bytes, real.digits + 3);
    assert.equal(sample.bytes, (sample.digits as number) + 3);
    const ms = Date.parse(sample.finishedAt as string) - Date.parse(sample.startedAt as string);
    assert.equal(sample.seconds, ms / 1000);
    assert.ok((sample.seconds as number) <= (sample.durationSeconds as number));
  });
});
