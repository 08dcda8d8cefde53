import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { renderInitScript } from "../../launcher/initScript";
import { initScriptInputFixture } from "../../testing/fixtures";

/** The rendered script's shell function `name`, from its first line to the closing brace. */
function shellFunction(script: string, name: string): string {
  const start = script.indexOf(`\n${name}() {\n`);
  assert.ok(start >= 0, `the script defines ${name}`);
  const end = script.indexOf("\n}\n", start);
  return script.slice(start + 1, end + 2);
}

describe("init script: JSON strings in the record (json_string)", () => {
  const script = renderInitScript(initScriptInputFixture());
  const functions = [shellFunction(script, "json_string"), shellFunction(script, "json_or_null")];

  /** What json_string prints for each value, in one bash process, parsed as JSON. */
  function quoted(values: string[], fn = "json_string", locale = "C.UTF-8"): unknown[] {
    const run = spawnSync(
      "bash",
      [
        "-c",
        `${functions.join("\n")}\nfor v in "$@"; do ${fn} "$v"; printf '\\n'; done`,
        "bash",
        ...values,
      ],
      { encoding: "utf8", env: { PATH: process.env.PATH, HOME: "/nonexistent", LC_ALL: locale } },
    );
    assert.equal(run.status, 0, run.stderr);
    return run.stdout
      .split("\n")
      .slice(0, -1)
      .map((line) => JSON.parse(line));
  }

  const cases: [string, string][] = [
    ["plain", "plain"],
    ['say "hi"', 'say "hi"'],
    ["C:\\path\\", "C:\\path\\"],
    ["two\nlines\tand\rmore", "two lines and more"],
    ["bell\u0007 escape\u001b[31m unit\u001f", "bell escape[31m unit"],
    ["ünïcødé ✓ 日本", "ünïcødé ✓ 日本"],
    ["$(date) `id` ${HOME} *?[a]", "$(date) `id` ${HOME} *?[a]"],
    ["100% %s %d", "100% %s %d"],
    ["", ""],
  ];

  for (const locale of ["C", "C.UTF-8"]) {
    it(`quotes any message as valid JSON, control characters dropped (LC_ALL=${locale})`, () => {
      assert.deepEqual(
        quoted(
          cases.map(([value]) => value),
          "json_string",
          locale,
        ),
        cases.map(([, expected]) => expected),
      );
    });
  }

  it("writes null for an empty value with json_or_null", () => {
    assert.deepEqual(quoted(["", "x"], "json_or_null"), [null, "x"]);
  });

  it("starts no process: pure bash, not a pipeline per value", () => {
    assert.doesNotMatch(
      shellFunction(renderInitScript(initScriptInputFixture()), "json_string"),
      /\$\(|\|/,
    );
  });
});
