/** The uploaded context is a zip other tools read: Python's zipfile (CodeBuild unpacks it). */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readBuildContext, sha256Hex } from "../../lib/buildContext";

describe("build context zip, read by another implementation", () => {
  it("holds exactly the files sent, byte for byte, with their modes (python3 zipfile)", () => {
    const packed = readBuildContext("job-image");
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tj-zip-")), "context.zip");
    fs.writeFileSync(file, packed.archive);
    const script = [
      "import hashlib, json, sys, zipfile",
      "z = zipfile.ZipFile(sys.argv[1])",
      "assert z.testzip() is None",
      "print(json.dumps({i.filename: [hashlib.sha256(z.read(i)).hexdigest(), i.external_attr >> 16] for i in z.infolist()}))",
    ].join("\n");
    const run = spawnSync("python3", ["-c", script, file], { encoding: "utf8" });
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    assert.equal(run.status, 0, run.stderr);
    const read = JSON.parse(run.stdout) as Record<string, [string, number]>;
    assert.deepEqual(Object.keys(read), packed.files);
    for (const name of packed.files) {
      const bytes = fs.readFileSync(path.join("job-image", name));
      const mode = fs.statSync(path.join("job-image", name)).mode & 0o777;
      assert.deepEqual(read[name], [sha256Hex(bytes), 0o100000 | mode]);
    }
  });
});
