/* eslint-disable @typescript-eslint/no-require-imports -- mocha loads its config file as CommonJS */
/**
 * `npm run test:unit`: the pure and SDK-mock tiers, in seconds. A spec file belongs here unless
 * its own source uses something slow: a program evaluation, moto, a script or a compiled program
 * run in a child process, or the job built with tsc. The split is computed from the sources, so a
 * new test lands in the right tier without a list to update (see tests/README.md).
 */
const fs = require("node:fs");
const path = require("node:path");

/** Names whose use makes a spec an integration test (`npm test` runs both tiers). */
const INTEGRATION =
  /\b(evaluateProgram|evaluatedStack|evaluatedDeployStack|evaluatedWith|startMoto|runScript|shellcheck|ScriptSandbox|serializeLauncherClosure|invokeSerializedHandler|buildJob|startJob|compileCli|runCli|child_process)\b/;

function specs(dir) {
  return fs
    .readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => path.join(dir, f))
    .sort();
}

const unit = specs("tests").filter((file) => !INTEGRATION.test(fs.readFileSync(file, "utf8")));

module.exports = {
  require: ["ts-node/register/transpile-only", "tests/setup.ts"],
  extension: ["ts"],
  spec: unit,
  timeout: 20000,
};
