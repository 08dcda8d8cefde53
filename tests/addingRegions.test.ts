/**
 * Adding a region to prod, as README's "Adding a region" does, for any region config accepts:
 * config validation passes for each, and the program evaluates cleanly, with prices and
 * offerings, for two of them (ap-southeast-2, the guide's example, and sa-east-1).
 */
import * as assert from "node:assert/strict";
import { AWS_REGIONS, jobsForRegion, parseStackConfig, rawConfigFromPulumi } from "../config";
import { PRICING_API_REGIONS } from "../lib/priceList";
import { loadStackConfig } from "../offline/engine";
import { evaluatedWith } from "../testing/evaluations";

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
  this.timeout(180000);

  it("passes config validation for every region config accepts", () => {
    for (const region of AWS_REGIONS) {
      const config = parseStackConfig(rawConfigFromPulumi(withRegions([region])), "prod");
      assert.ok(
        config.regions.some((r) => r.name === region),
        region,
      );
    }
  });

  it("evaluates the program with ap-southeast-2 and sa-east-1 added: prices and offerings for every type", async () => {
    const added = ["ap-southeast-2", "sa-east-1"];
    const { config, evaluation, warnings } = await evaluatedWith("prod", withRegions(added));
    assert.deepEqual(
      warnings.filter((w) => /price|offered/i.test(w)),
      [],
    );
    for (const name of added) {
      const region = config.regions.find((r) => r.name === name)!;
      const types = new Set(jobsForRegion(config, region).flatMap((j) => j.instanceTypes));
      const priced = evaluation.calls.filter(
        (c) =>
          c.token === "aws:pricing/getProduct:getProduct" &&
          (c.inputs.filters as Array<{ field: string; value: string }>).some(
            (f) => f.field === "regionCode" && f.value === name,
          ),
      );
      assert.equal(priced.length, types.size + 1, `${name}: one query per type, and gp3`);
      for (const call of priced) assert.ok(PRICING_API_REGIONS.includes(call.providerRegion!));
      assert.ok(
        evaluation.resources.some(
          (r) => r.type === "aws:lambda/function:Function" && r.providerRegion === name,
        ),
        `${name} has no launcher`,
      );
    }
  });
});
