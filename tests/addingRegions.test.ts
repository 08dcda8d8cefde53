/**
 * Adding a region to prod, as README's "Adding a region" does, for any region config accepts:
 * config validation passes for each. The program's evaluation with one added (ap-southeast-2,
 * the guide's example, with prices and offerings for every type) is in rollout.test.ts, which
 * evaluates that stack anyway.
 */
import * as assert from "node:assert/strict";
import { AWS_REGIONS, parseStackConfig, rawConfigFromPulumi } from "../config";
import { loadStackConfig } from "../offline/engine";

const prod = loadStackConfig("prod");
const committed = JSON.parse(prod["transient-jobs:regions"]) as unknown[];
const named = (entry: unknown) =>
  typeof entry === "string" ? entry : String((entry as { name: string }).name);
const withRegions = (extra: string[]) => ({
  ...prod,
  "transient-jobs:regions": JSON.stringify([
    ...committed,
    ...extra.filter((r) => !committed.map(named).includes(r)),
  ]),
});

describe("adding a region to prod", function () {
  this.timeout(60000);

  it("passes config validation for every region config accepts", () => {
    for (const region of AWS_REGIONS) {
      const config = parseStackConfig(rawConfigFromPulumi(withRegions([region])), "prod");
      assert.ok(
        config.regions.some((r) => r.name === region),
        region,
      );
    }
  });
});
