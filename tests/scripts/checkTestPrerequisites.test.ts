/**
 * scripts/check-test-prerequisites.cjs, `npm test`'s pretest: run with a PATH of stand-ins, it
 * names every missing program once, with how to install it, and exits 1; with all of them it
 * says nothing and exits 0.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const SCRIPT = path.join(__dirname, "..", "..", "scripts", "check-test-prerequisites.cjs");

/** A folder of stand-in programs: each exits with the given status. */
function fakePath(programs: Record<string, number>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-prereq-"));
  for (const [name, status] of Object.entries(programs)) {
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\nexit ${status}\n`, { mode: 0o755 });
  }
  return dir;
}

function check(programs: Record<string, number>) {
  const dir = fakePath(programs);
  try {
    return spawnSync(process.execPath, [SCRIPT], {
      env: { ...process.env, PATH: dir },
      encoding: "utf8",
      timeout: 15000,
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const ALL = { python3: 0, shellcheck: 0, bash: 0, timeout: 0 };

describe("scripts/check-test-prerequisites.cjs (npm test's pretest)", () => {
  it("is what npm test runs first", () => {
    const pkg = JSON.parse(
      fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"),
    );
    assert.equal(pkg.scripts.pretest, "node scripts/check-test-prerequisites.cjs");
    assert.equal(pkg.scripts["pretest:unit"], undefined, "the unit tier needs no prerequisites");
  });

  it("lists every missing program in one message, with how to install each, and exits 1", () => {
    const run = check({});
    assert.equal(run.status, 1, run.stderr);
    assert.equal(run.stdout, "");
    const lines = run.stderr.trim().split("\n");
    assert.match(lines[0], /^npm test cannot start: 5 prerequisite\(s\) missing/);
    const listed = lines.filter((l) => l.startsWith("  - "));
    assert.equal(listed.length, 5, run.stderr);
    for (const [start, install] of [
      ["  - python3:", "apt-get install -y python3"],
      ["  - moto,", "pip install 'moto[server]==5.2.1'"],
      ["  - shellcheck:", "apt-get install -y shellcheck"],
      ["  - bash:", "install bash"],
      ["  - timeout (GNU coreutils):", "install coreutils"],
    ]) {
      const line = listed.find((l) => l.startsWith(start));
      assert.ok(line?.includes(install), `no "${start} ... ${install}" in\n${run.stderr}`);
    }
  });

  it("reports moto missing when python3 cannot find moto with its server extras", () => {
    const run = check({ ...ALL, python3: 1 });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^npm test cannot start: 1 prerequisite\(s\) missing/);
    assert.match(
      run.stderr,
      /- moto, the AWS emulator .*: pip install 'moto\[server\]==5\.2\.1'\n/,
    );
  });

  it("reports shellcheck alone when only it is missing", () => {
    const { shellcheck: _, ...rest } = ALL;
    const run = check(rest);
    assert.equal(run.status, 1);
    assert.deepEqual(
      run.stderr.split("\n").filter((l) => l.startsWith("  - ")),
      [
        "  - shellcheck: lints the init script in its tests; apt-get install -y shellcheck (macOS: brew install shellcheck)",
      ],
    );
  });

  it("says nothing and exits 0 when everything is there", () => {
    const run = check(ALL);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr + run.stdout, "");
  });
});
