/* eslint-disable @typescript-eslint/no-require-imports -- mocha loads its config files as CommonJS */
/**
 * The spec files of each tier, computed from their sources, for the mocha configs. A spec file
 * is in the unit tier unless its own source uses something slow: a program evaluation, moto, a
 * script or a compiled program run in a child process, or the job built with tsc. Nothing to
 * register: a new test lands in the right tier by what it uses (see tests/README.md).
 */
const fs = require("node:fs");
const path = require("node:path");

/** Names whose use makes a spec an integration test (`npm test` runs both tiers). */
const INTEGRATION =
  /\b(evaluateProgram|evaluatedStack|evaluatedDeployStack|evaluatedWith|startMoto|runScript|shellcheck|ScriptSandbox|serializeLauncherClosure|serializeFunction|invokeSerializedHandler|buildJob|startJob|compileCli|runCli|child_process)\b/;

function specs(dir) {
  return fs
    .readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => path.join(dir, f))
    .sort()
    .map((file) => ({ file, source: fs.readFileSync(file, "utf8") }));
}

const all = specs("tests");
const unit = all.filter((s) => !INTEGRATION.test(s.source)).map((s) => s.file);

/** Names whose use means a spec evaluates the program (or waits for another worker to). */
const EVALUATING = /\b(evaluateProgram|evaluatedStack|evaluatedDeployStack|evaluatedWith)\b/;

/** `a` and `b` taken in turns, then what is left of the longer. */
function alternate(a, b) {
  const out = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]);
    if (i < b.length) out.push(b[i]);
  }
  return out;
}

const largerFirst = (specs) =>
  [...specs].sort((a, b) => b.source.length - a.source.length || a.file.localeCompare(b.file));
const integration = all.filter((s) => INTEGRATION.test(s.source));

/**
 * Every spec, in the order the parallel workers take them: integration files first, the larger
 * first, then the unit files, which fill the end, so no worker is left with a long file while
 * the other has finished. Files that evaluate the program alternate with files that do not: the
 * first evaluations are shared, and a worker that started on a file needing the same ones as the
 * other worker would wait for them instead of working.
 */
const everything = [
  ...alternate(
    largerFirst(integration.filter((s) => EVALUATING.test(s.source))),
    largerFirst(integration.filter((s) => !EVALUATING.test(s.source))),
  ).map((s) => s.file),
  ...unit,
];

module.exports = { INTEGRATION, unit, everything };
