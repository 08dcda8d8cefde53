/* eslint-disable @typescript-eslint/no-require-imports -- mocha loads its config files as CommonJS */
/** `npm test`: every spec file (see tests/tiers.cjs for their order), in two worker processes. */
const { everything } = require("./tests/tiers.cjs");

module.exports = {
  require: ["ts-node/register/transpile-only", "tests/setup.ts"],
  extension: ["ts"],
  spec: everything,
  // The order above is the point: mocha must not sort it.
  sort: false,
  timeout: 20000,
  parallel: true,
  jobs: 2,
};
