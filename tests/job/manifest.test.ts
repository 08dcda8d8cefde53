import * as assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { LocalResultWriter } from "../../job-image/src/localWriter";
import { writeWithin } from "../../job-image/src/main";
import { ParamError } from "../../job-image/src/params";
import {
  buildManifest,
  encodeManifest,
  encodePiData,
  ManifestInput,
  sha256Hex,
} from "../../job-image/src/manifest";
import { temporaryDir } from "./helpers/jobBuild";

const input: ManifestInput = {
  runId: "pi-20261123T0300Z",
  version: "1.2.3",
  startedAt: new Date("2026-11-23T03:00:00.000Z"),
  finishedAt: new Date("2026-11-23T03:00:09.876Z"),
  durationSeconds: 10,
  workers: 2,
  stopReason: "planned",
  steps: [
    { digits: 1000, ms: 3.4 },
    { digits: 2000, ms: 10.06 },
  ],
};

describe("job manifest and local output", () => {
  it("encodes the data as the digits and one newline", () => {
    assert.deepEqual(encodePiData("3.14"), Buffer.from("3.14\n"));
    for (const bad of ["3.", "3,14", "31415", "3.14\n", "4.14"]) {
      assert.throws(() => encodePiData(bad), /expected "3\." followed by digits/, bad);
    }
  });

  it("hashes like sha256sum", () => {
    // printf '3.1415926535\n' | sha256sum
    assert.equal(
      sha256Hex(encodePiData("3.1415926535")),
      "eee826f1def4933df5261669cd741a1615c081b3f3b38a16c829ff3b0d8353f9",
    );
  });

  it("describes exactly the bytes it is given", () => {
    const data = encodePiData("3.14");
    assert.deepEqual(buildManifest(data, input), {
      runId: "pi-20261123T0300Z",
      algorithm: "chudnovsky-binary-splitting",
      version: "1.2.3",
      digits: 2,
      seconds: 9.876,
      // printf '3.14\n' | sha256sum
      sha256: "a876e0b10411037a012498b9fe18d9bc1df32ed8b722a13564dc944ddcfd9135",
      bytes: 5,
      dataFile: "pi.txt",
      contentType: "text/plain",
      startedAt: "2026-11-23T03:00:00.000Z",
      finishedAt: "2026-11-23T03:00:09.876Z",
      durationSeconds: 10,
      workers: 2,
      stopReason: "planned",
      steps: [
        { digits: 1000, seconds: 0.003 },
        { digits: 2000, seconds: 0.01 },
      ],
    });
    assert.throws(() => buildManifest(Buffer.from("3.14"), input), /not in the pi\.txt format/);
  });

  it("writes pi.txt and manifest.json under <dir>/<run id>/, leaving no temporary files", async () => {
    const dir = temporaryDir("local");
    const data = encodePiData("3.14159");
    const manifest = buildManifest(data, input);
    const writer = new LocalResultWriter(path.join(dir, "results"), "run-1");
    assert.equal(writer.destination, path.join(dir, "results", "run-1"));
    const stored = await writer.write(data, manifest);
    const folder = path.join(dir, "results", "run-1");
    assert.deepEqual(stored, {
      data: path.join(folder, "pi.txt"),
      manifest: path.join(folder, "manifest.json"),
    });
    assert.deepEqual((await fs.readdir(folder)).sort(), ["manifest.json", "pi.txt"]);
    assert.deepEqual(await fs.readFile(stored.data), data);
    assert.deepEqual(await fs.readFile(stored.manifest), encodeManifest(manifest));
    assert.deepEqual(JSON.parse(await fs.readFile(stored.manifest, "utf8")), manifest);
    // A second run of the same id replaces both files.
    const longer = encodePiData("3.1415926535");
    await writer.write(longer, buildManifest(longer, input));
    assert.deepEqual(await fs.readFile(stored.data), longer);
    await fs.rm(dir, { recursive: true });
  });

  it("fails with the path when the folder cannot be created", async () => {
    const dir = temporaryDir("blocked");
    await fs.writeFile(path.join(dir, "file"), "");
    const writer = new LocalResultWriter(path.join(dir, "file"), "run-1");
    const data = encodePiData("3.14");
    await assert.rejects(
      writer.write(data, buildManifest(data, input)),
      /file\/run-1|ENOTDIR|EEXIST/,
    );
    await fs.rm(dir, { recursive: true });
  });

  it("refuses, before any work, to replace a run's results unless asked", async () => {
    const dir = temporaryDir("again");
    const data = encodePiData("3.14");
    await new LocalResultWriter(dir, "run-1").write(data, buildManifest(data, input));
    await assert.rejects(
      new LocalResultWriter(dir, "run-1").prepare(),
      (e: Error) =>
        e instanceof ParamError &&
        e.problems[0] ===
          `--run-id: run-1 already has results in ${path.join(dir, "run-1")}; use another --run-id (or leave it out), or add --overwrite to replace them`,
    );
    await new LocalResultWriter(dir, "run-1", true).prepare();
    await new LocalResultWriter(dir, "run-2").prepare();
    assert.deepEqual((await fs.readdir(dir)).sort(), ["run-1"]);
    await fs.rm(dir, { recursive: true });
  });

  it("fails at once when the folder cannot be written", async () => {
    const dir = temporaryDir("unwritable");
    await fs.writeFile(path.join(dir, "file"), "");
    await assert.rejects(
      new LocalResultWriter(path.join(dir, "file"), "run-1").prepare(),
      (e: Error) =>
        e instanceof ParamError &&
        /^--out: cannot write results to ".*file" \((ENOTDIR|EEXIST)\)/.test(e.problems[0]),
    );
    await fs.rm(dir, { recursive: true });
  });

  it("fails a write that hangs after its time limit, naming where it went", async () => {
    const hanging = {
      destination: "s3://bucket/jobs/pi/results/run-1/",
      prepare: async () => undefined,
      write: () => new Promise<never>(() => undefined),
    };
    const data = encodePiData("3.14");
    await assert.rejects(
      writeWithin(hanging, data, buildManifest(data, input), 50),
      /^Error: writing the result to s3:\/\/bucket\/jobs\/pi\/results\/run-1\/ did not finish within 0\.05 s$/,
    );
  });
});
