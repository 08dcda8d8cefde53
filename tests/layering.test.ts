import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");

/**
 * The floors of the code base, lowest first. A module may import its own floor and the floors
 * below it, never one above: the shared rules know nothing of the code that runs, which knows
 * nothing of config, which knows nothing of the components that declare it.
 */
const FLOORS: { name: string; paths: string[] }[] = [
  { name: "ground (shared rules, pure libraries)", paths: ["launcher/contract.ts", "lib/"] },
  { name: "runtime (launcher Lambdas, init script)", paths: ["launcher/"] },
  { name: "config", paths: ["config.ts", "jobParameters.ts"] },
  { name: "components", paths: ["components/"] },
  {
    name: "programs and tools",
    paths: ["index.ts", "offline/", "deploy/", "cli/", "policy/"],
  },
  { name: "harnesses and benchmarks", paths: ["testing/", "bench/"] },
  { name: "tests", paths: ["tests/"] },
];

/** The job is its own package: it imports nothing from the program around it. */
const JOB = "job-image/";

function floorOf(file: string): number {
  // Most specific first: launcher/contract.ts is on the ground floor, the rest of launcher/ above.
  let best = -1;
  let bestLength = -1;
  FLOORS.forEach((floor, index) => {
    for (const prefix of floor.paths) {
      const matches = prefix.endsWith("/") ? file.startsWith(prefix) : file === prefix;
      if (matches && prefix.length > bestLength) {
        best = index;
        bestLength = prefix.length;
      }
    }
  });
  return best;
}

function sources(): string[] {
  return fs
    .readdirSync(ROOT, { recursive: true, encoding: "utf8" })
    .map((f) => f.split(path.sep).join("/"))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .filter((f) => !f.startsWith("node_modules/") && !f.includes("/node_modules/"))
    .filter((f) => !f.startsWith("job-image/dist/"));
}

/** Relative imports of a file (static and dynamic), resolved to repository paths. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(
    /(?:from\s+|import\s*\(\s*|require\(\s*|import\s+)"(\.{1,2}\/[^"]+)"/g,
  )) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), match[1]));
    const candidates = [target, `${target}.ts`, `${target}/index.ts`];
    const resolved = candidates.find((c) => fs.existsSync(path.join(ROOT, c)) && c.endsWith(".ts"));
    if (resolved) found.push(resolved);
  }
  return found;
}

describe("layering", () => {
  const files = sources();

  it("places every source file on a floor", () => {
    const unplaced = files.filter((f) => !f.startsWith(JOB) && floorOf(f) < 0);
    assert.deepEqual(unplaced, [], "add the folder to FLOORS in tests/layering.test.ts");
  });

  it("imports nothing from a higher floor", () => {
    const upward: string[] = [];
    for (const file of files.filter((f) => !f.startsWith(JOB))) {
      for (const target of importsOf(file)) {
        if (target.startsWith(JOB)) continue;
        if (floorOf(target) > floorOf(file)) {
          upward.push(
            `${file} (${FLOORS[floorOf(file)].name}) imports ${target} (${FLOORS[floorOf(target)].name})`,
          );
        }
      }
    }
    assert.deepEqual(upward, []);
  });

  it("keeps the job free of the program: job-image imports only its own files", () => {
    const outside = files
      .filter((f) => f.startsWith(JOB))
      .flatMap((file) => importsOf(file).map((target) => ({ file, target })))
      .filter(({ target }) => !target.startsWith(JOB))
      .map(({ file, target }) => `${file} imports ${target}`);
    assert.deepEqual(outside, []);
  });

  it("notices an upward import (the check can fail)", () => {
    assert.ok(floorOf("launcher/contract.ts") < floorOf("launcher/launch.ts"));
    assert.ok(floorOf("config.ts") < floorOf("components/launcher.ts"));
    assert.ok(floorOf("bench/index.ts") < floorOf("tests/layering.test.ts"));
    assert.deepEqual(importsOf("tests/layering.test.ts"), []);
    assert.ok(importsOf("config.ts").includes("launcher/contract.ts"));
  });
});
