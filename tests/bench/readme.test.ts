/** A full `npm run bench` rewrites only the generated block of docs/performance.md. */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { updateReadme } from "../../bench/performanceDoc";

describe("bench: docs/performance.md table", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "tj-readme-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("replaces the block between the markers and keeps the text around it", async () => {
    const file = path.join(dir, "README.md");
    fs.writeFileSync(
      file,
      "# X\n\n## Performance\n\n<!-- bench:start -->\n\nold table\n\n<!-- bench:end -->\n\nWhy: kept.\n",
    );
    await updateReadme("| a | b |\n| - | - |\n| 1 | 2 |", file);
    assert.equal(
      fs.readFileSync(file, "utf8"),
      "# X\n\n## Performance\n\n<!-- bench:start -->\n\n| a   | b   |\n| --- | --- |\n| 1   | 2   |\n\n<!-- bench:end -->\n\nWhy: kept.\n",
    );
  });

  it("refuses a README without the markers, naming them", async () => {
    const file = path.join(dir, "README.md");
    fs.writeFileSync(file, "# X\n");
    await assert.rejects(
      updateReadme("table", file),
      /has no <!-- bench:start --> … <!-- bench:end -->/,
    );
  });

  it("finds the markers in docs/performance.md", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "performance.md"), "utf8");
    const start = doc.indexOf("<!-- bench:start -->");
    assert.ok(start > doc.indexOf("# Performance"), "no bench:start after the heading");
    assert.ok(start < doc.indexOf("<!-- bench:end -->"), "no bench:end after bench:start");
  });
});
