import * as assert from "node:assert/strict";
import { checked, info, MARKDOWN_WIDTH, markdownFigures, wrap } from "../../bench/report";

describe("bench: the figures as Markdown", () => {
  const long = "a note long enough to need several lines ".repeat(6).trim();
  const figures = [
    checked("pi", "10 s, 1 core: digits", 199, "199×", { op: ">=", limit: 200, unit: "×" }, long),
    info("launcher", "zipped size", "17,507 bytes"),
  ];

  it("lists every figure under its benchmark, with its target and status", () => {
    const text = markdownFigures(figures);
    assert.match(
      text,
      /^\*\*pi\*\*\n\n- 10 s, 1 core: digits: \*\*199×\*\* \(target ≥ 200×: MISS\)\. a note/,
    );
    assert.match(text, /\*\*launcher\*\*\n\n- zipped size: \*\*17,507 bytes\*\*$/);
  });

  it(`wraps every line at ${MARKDOWN_WIDTH} characters, continuing items indented`, () => {
    const lines = markdownFigures(figures).split("\n");
    assert.ok(lines.length > 5, "the long note was not wrapped");
    assert.deepEqual(
      lines.filter((l) => [...l].length > MARKDOWN_WIDTH),
      [],
    );
    assert.ok(
      lines.some((l) => l.startsWith("  ")),
      "no continuation line is indented",
    );
  });

  it("keeps a word longer than the width whole, on its own line", () => {
    assert.deepEqual(wrap(`short ${"x".repeat(30)} end`, 10, "  "), [
      "short",
      `  ${"x".repeat(30)}`,
      "  end",
    ]);
  });
});
