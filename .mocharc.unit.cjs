/* eslint-disable @typescript-eslint/no-require-imports -- mocha loads its config files as CommonJS */
/**
 * `npm run test:unit`: the pure and SDK-mock tiers, in seconds (see tests/tiers.cjs for the
 * split and tests/README.md).
 */
const { unit } = require("./tests/tiers.cjs");

module.exports = {
  require: ["ts-node/register/transpile-only", "tests/setup.ts"],
  extension: ["ts"],
  spec: unit,
  timeout: 20000,
};
