/**
 * The front page and docs/ as a user reads them: every relative link resolves to a file (and,
 * into Markdown, to a heading), README.md stays a short front page, and tables stay narrow
 * enough for a terminal, the block `npm run bench` writes included.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const DOCS = path.join(ROOT, "docs");
const PAGES = [
  "README.md",
  ...fs
    .readdirSync(DOCS)
    .filter((f) => f.endsWith(".md"))
    .map((f) => path.join("docs", f)),
  "launcher/README.md",
  "job-image/README.md",
];

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** The text outside fenced blocks, where links are links. */
const prose = (text: string) =>
  text
    .split(/^\s*```.*$/m)
    .filter((_, i) => i % 2 === 0)
    .join("\n");

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

/** Every relative `[text](target)` link of a page. */
function relativeLinks(text: string): string[] {
  return [...prose(text).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1])
    .filter((target) => !/^[a-z]+:/i.test(target));
}

describe("docs", () => {
  for (const page of PAGES) {
    it(`${page}: every relative link resolves`, () => {
      const text = read(page);
      const broken: string[] = [];
      for (const link of relativeLinks(text)) {
        const [file, anchor] = link.split("#");
        const target = file === "" ? page : path.join(path.dirname(page), file);
        if (!fs.existsSync(path.join(ROOT, target))) {
          broken.push(`${link}: no file ${target}`);
          continue;
        }
        if (anchor && target.endsWith(".md") && !anchors(read(target)).has(anchor)) {
          broken.push(`${link}: no heading #${anchor} in ${target}`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }

  it("finds links and anchors at all (the checks above cannot pass vacuously)", () => {
    const links = relativeLinks(read("README.md"));
    assert.ok(links.includes("docs/operating.md#how-a-run-works-in-detail"), links.join(" "));
    assert.ok(anchors(read("docs/operating.md")).has("job-missed-run"));
  });

  it("keeps README.md a front page under 10 KB, starting with the two commands", () => {
    const readme = read("README.md");
    assert.ok(readme.length < 10 * 1024, `README.md is ${readme.length} bytes`);
    assert.match(
      readme,
      /^# transient-jobs\n\n```sh\nnpm ci && npm run job -- --duration 10 .*\nnpm test /,
    );
    for (const doc of ["configuration", "deploying", "operating", "security", "performance"]) {
      assert.ok(readme.includes(`(docs/${doc}.md)`), `README.md does not link docs/${doc}.md`);
    }
  });

  // launcher/ and job-image/ READMEs are outside this rule for now.
  for (const page of PAGES.filter((p) => p === "README.md" || p.startsWith("docs"))) {
    it(`${page}: no table row wider than 100 characters`, () => {
      const wide = read(page)
        .split("\n")
        .map((line, i) => ({ line, n: i + 1 }))
        .filter(({ line }) => line.startsWith("|") && line.length > 100)
        .map(({ n, line }) => `${page}:${n} (${line.length} characters)`);
      assert.deepEqual(wide, []);
    });
  }

  it("lists every alarm the program declares in the operating runbook", () => {
    const runbook = read("docs/operating.md");
    for (const key of ["launcher-errors", "launcher-failed-events", "over-deadline"]) {
      assert.match(runbook, new RegExp(`^### ${key}$`, "m"));
    }
    for (const key of ["failed", "dead-letters", "missed-run"]) {
      assert.match(runbook, new RegExp(`^### \`<job>-${key}\`$`, "m"));
    }
  });
});
