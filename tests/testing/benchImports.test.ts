/**
 * `bench/` shares fixtures and harnesses with the tests through `testing/`, never by importing
 * from `tests/`: the benchmarks must keep working whatever the test files become.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../offline/engine";

const BENCH = path.join(PROJECT_ROOT, "bench");
const TESTS = path.join(PROJECT_ROOT, "tests");

/** Every module specifier of a TypeScript source: static and dynamic imports, re-exports, require. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(["'`])([^"'`]+)\1/g;
  for (const match of source.matchAll(pattern)) found.push(match[2]);
  return found;
}

function sourcesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.[cm]?[jt]s$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

describe("bench/ imports", () => {
  it("finds the specifiers of every import form", () => {
    assert.deepEqual(
      specifiers(
        'import { a } from "../tests/a";\nimport "../tests/b";\nconst c = await import("../tests/c");\nconst d = require(\'../tests/d\');\nexport * from "../tests/e";',
      ),
      ["../tests/a", "../tests/b", "../tests/c", "../tests/d", "../tests/e"],
    );
  });

  it("imports nothing from tests/ (shared code lives in testing/)", () => {
    const files = sourcesUnder(BENCH);
    assert.ok(files.length > 0, "no bench sources found");
    const offenders: string[] = [];
    for (const file of files) {
      for (const spec of specifiers(fs.readFileSync(file, "utf8"))) {
        if (!spec.startsWith(".")) continue;
        const target = path.resolve(path.dirname(file), spec);
        if (target === TESTS || target.startsWith(TESTS + path.sep)) {
          offenders.push(`${path.relative(PROJECT_ROOT, file)} imports "${spec}"`);
        }
      }
    }
    assert.deepEqual(offenders, [], "move what bench needs into testing/");
  });
});
