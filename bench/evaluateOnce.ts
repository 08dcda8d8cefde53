/**
 * Child process of benchmark 3: evaluates the program once under mocks for the first N regions
 * (see `prodConfigWithRegions`) in a fresh Node process, as `pulumi preview` would, and prints
 * one JSON line: milliseconds of the evaluation and since process start, peak memory, and resources by
 * region.
 *
 *   node -r ts-node/register/transpile-only bench/evaluateOnce.ts N
 */
import { evaluateProgram } from "../offline/engine";
import { prodConfigWithRegions, resourcesByRegion } from "./programEvaluation";

async function main(): Promise<void> {
  const regions = Number(process.argv[2]);
  if (!Number.isInteger(regions) || regions < 1) {
    throw new Error(`expected a region count, got ${JSON.stringify(process.argv[2])}`);
  }
  const config = prodConfigWithRegions(regions);
  const started = performance.now();
  const evaluation = await evaluateProgram("prod", config);
  const evaluationMs = performance.now() - started;
  const result = {
    regions,
    evaluationMs,
    sinceProcessStartMs: performance.now(),
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    resources: evaluation.resources.length,
    byRegion: resourcesByRegion(evaluation, JSON.parse(config["transient-jobs:regions"])),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  // Pulumi's runtime keeps handles open; the result is written.
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
