/**
 * README.md as a new user follows it: "Before you start" comes right after the two commands and
 * names what using and testing need, including the programs `npm test` checks first.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const README = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");

describe("README.md: Before you start", () => {
  const start = README.indexOf("\n## Before you start\n");
  const section = README.slice(start, README.indexOf("\n## ", start + 1));

  it("comes right after the first two commands", () => {
    assert.match(README, /^# transient-jobs\n\n```sh\n[^`]*\n```\n\n## Before you start\n/);
  });

  it("names what using it needs", () => {
    for (const need of ["Node.js 20.19", "Pulumi CLI", "AWS credentials", "Docker"]) {
      assert.ok(section.includes(need), `does not name ${need}`);
    }
  });

  it("names what testing needs, with the install commands the check prints", () => {
    const check = fs.readFileSync(
      path.join(__dirname, "..", "..", "scripts", "check-test-prerequisites.cjs"),
      "utf8",
    );
    for (const install of ["pip install 'moto[server]==5.2.1'", "apt-get install -y shellcheck"]) {
      assert.ok(section.includes(install), `does not say ${install}`);
    }
    assert.ok(check.includes('"moto[server]==5.2.1"'), "the check installs another moto");
    assert.ok(check.includes("apt-get install -y shellcheck"));
    assert.ok(section.includes("`npm test` checks them first"));
    assert.ok(section.includes("scripts/check-test-prerequisites.cjs"));
  });

  it("says a full npm run bench rewrites tracked files, naming them", () => {
    assert.match(
      README,
      /a full\s+run rewrites two tracked files, `docs\/performance.md` and `bench\/results.json`/,
    );
  });
});
