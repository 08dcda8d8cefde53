/* eslint-disable @typescript-eslint/no-require-imports -- a plain Node script, run before mocha */
/**
 * `npm test`'s `pretest`: the programs outside npm the whole suite needs, checked once, up front.
 * Every missing one is listed in one message with how to install it, and the suite does not start
 * (exit 1). Nothing is skipped: a test that needs a missing program would fail, so it is reported
 * here instead, in words. `npm run test:unit` needs none of them and does not run this (npm runs
 * `pretest` only before `npm test`: https://docs.npmjs.com/cli/v7/using-npm/scripts).
 */
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

/** The moto release `.ci/run` and README.md install. */
const MOTO = "moto[server]==5.2.1";

/** The executable `command` on PATH, or undefined. */
function onPath(command) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, command);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** What the suite needs, each with what uses it and how to install it. */
const missing = [];

const python = onPath("python3");
if (!python) {
  missing.push(
    "python3: starts moto and runs the bench reference; install Python 3 (e.g. apt-get install -y python3 python3-pip)",
  );
}
// testing/moto.ts starts `python3 -m moto.server`, which needs moto with its [server] extras
// (Flask and Flask-CORS). They are found, not imported: importing moto takes a second.
const FIND_MOTO_SERVER =
  "import importlib.util as u, sys; " +
  'sys.exit(0 if all(u.find_spec(m) for m in ("moto", "flask", "flask_cors")) else 1)';
const moto = python
  ? spawnSync(python, ["-c", FIND_MOTO_SERVER], { encoding: "utf8", timeout: 60000 })
  : undefined;
if (!moto || moto.status !== 0) {
  missing.push(
    `moto, the AWS emulator of the end-to-end tests (python3 -m moto.server must start): pip install '${MOTO}'` +
      (python ? "" : ", once python3 is installed"),
  );
}
if (!onPath("shellcheck")) {
  missing.push(
    "shellcheck: lints the init script in its tests; apt-get install -y shellcheck (macOS: brew install shellcheck)",
  );
}
if (!onPath("bash")) missing.push("bash: runs the init script in its tests; install bash");
if (!onPath("timeout")) {
  missing.push(
    "timeout (GNU coreutils): the init-script tests run it; install coreutils (macOS: brew install coreutils, with its gnubin folder on PATH)",
  );
}

if (missing.length > 0) {
  console.error(
    [
      `npm test cannot start: ${missing.length} prerequisite(s) missing (see "Before you start" in README.md):`,
      ...missing.map((line) => `  - ${line}`),
      "npm run test:unit runs the unit tier without them.",
    ].join("\n"),
  );
  process.exit(1);
}
