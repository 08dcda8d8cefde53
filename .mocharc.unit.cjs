/* eslint-disable @typescript-eslint/no-require-imports -- mocha loads its config files as CommonJS */
/**
 * `npm run test:unit`: the pure and SDK-mock tiers, in seconds (see tests/tiers.cjs for the
 * split and tests/README.md).
 */
const { unit } = require("./tests/tiers.cjs");

// No unit spec evaluates the program or serializes a closure, so swc may transpile the program
// too (testing/transpileMemo.ts); `npm test` runs these specs again on TypeScript's output.
process.env.TJ_TEST_TRANSPILER ??= "swc";

module.exports = {
  require: ["ts-node/register/transpile-only", "tests/setup.ts"],
  extension: ["ts"],
  spec: unit,
  timeout: 20000,
};
