/**
 * Prices and instance type offerings under the offline engine, whose mocks answer as AWS would
 * (offline/engine.ts): the Price List only through a Price List region's provider and only for a
 * query that singles out one product; offerings by EC2's name rule. Asserted for the committed
 * stacks whatever their regions and types, and for a config of the test's own.
 */
import * as assert from "node:assert/strict";
import { jobsForRegion, type StackConfig } from "../../config";
import { jobPlacement, placeInstanceTypes } from "../../components/instanceOfferings";
import { pricesFor } from "../../components/instancePrices";
import { gp3PriceFilters, instancePriceFilters, PRICING_API_REGIONS } from "../../lib/priceList";
import {
  callResult,
  defaultSubnetId,
  evaluateProgram,
  loadStackConfig,
  MOCK_OFFERING_GAPS,
  type Evaluation,
  type RecordedCall,
} from "../../offline/engine";
import { evaluatedStack } from "../../testing/evaluations";

const PRODUCT = "aws:pricing/getProduct:getProduct";
const OFFERINGS = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings";

const filter = (call: RecordedCall, field: string) =>
  (call.inputs.filters as Array<{ field: string; value: string }>).find((f) => f.field === field)
    ?.value;

/** The launcher's serialized code in `region` (its specs are inlined in it). */
async function launcherCode(evaluation: Evaluation, region: string): Promise<string> {
  const fn = evaluation.resources.find(
    (r) => r.type === "aws:lambda/function:Function" && r.name.endsWith(`${region}-launcher-fn`),
  );
  assert.ok(fn, `no launcher in ${region}`);
  const assets = await (
    fn.inputs.code as { assets: Promise<Record<string, { text: Promise<string> }>> }
  ).assets;
  return assets["__index.js"].text;
}

/** A spec's object-valued field as the closure serializer writes it, e.g. `{["t3.medium"]: 0.04}`. */
/** The serializer's variable of a job's spec (`__specs_value_nightlypi` or the like). */
function specName(code: string, job: string): string {
  const name = new RegExp(`(__specs_value_\\w+)\\.job = "${job}";`).exec(code)?.[1];
  assert.ok(name, `no spec of job ${job} in the launcher's code`);
  return name;
}

function inlined(code: string, job: string, field: string): string {
  const name = specName(code, job);
  const match = new RegExp(`var ${name}_${field} = (\\{[^\\n]*\\});`).exec(code);
  return match ? match[1] : "";
}

for (const stack of ["dev", "prod"]) {
  describe(`prices and offerings under the engine: stack ${stack}`, function () {
    this.timeout(120000);
    let config: StackConfig;
    let evaluation: Evaluation;
    let warnings: string[];

    before(async () => {
      ({ config, evaluation, warnings } = await evaluatedStack(stack));
    });

    it("asks the Price List once per region and type, and for gp3, through a Price List region", () => {
      const calls = evaluation.calls.filter((c) => c.token === PRODUCT);
      for (const call of calls) {
        assert.ok(
          PRICING_API_REGIONS.includes(call.providerRegion ?? ""),
          `getProduct ran with a provider in ${call.providerRegion}`,
        );
      }
      const asked = calls.map(
        (c) =>
          `${filter(c, "regionCode")} ${filter(c, "instanceType") ?? filter(c, "volumeApiName")}`,
      );
      const expected = config.regions.flatMap((region) =>
        [
          `${region.name} gp3`,
          ...new Set(jobsForRegion(config, region).flatMap((j) => j.instanceTypes)),
        ].map((what) => (what.includes(" ") ? what : `${region.name} ${what}`)),
      );
      assert.deepEqual(asked.sort(), expected.sort());
    });

    it("finds a price for every configured type and region: no 'no estimate' warning", () => {
      assert.deepEqual(
        warnings.filter((w) => /price/i.test(w)),
        [],
      );
    });

    it("gives each launch spec an on-demand price of each of its types, and the gp3 price", async () => {
      for (const region of config.regions) {
        const code = await launcherCode(evaluation, region.name);
        for (const job of jobsForRegion(config, region)) {
          const prices = inlined(code, job.name, "onDemandUsdPerHour");
          for (const type of job.instanceTypes) {
            assert.match(
              prices,
              new RegExp(`\\["${type.replace(".", "\\.")}"\\]: \\d+(\\.\\d+)?[,}]`),
              `${region.name} ${job.name} ${type}: ${prices}`,
            );
          }
          assert.match(
            code,
            new RegExp(`${specName(code, job.name)}\\.volumeUsdPerGiBMonth = 0\\.\\d+;`),
          );
        }
      }
    });

    it("looks up offerings per region, by zone, with the region's provider", () => {
      const calls = evaluation.calls.filter((c) => c.token === OFFERINGS);
      assert.deepEqual(
        calls.map((c) => c.providerRegion).sort(),
        config.regions.map((r) => r.name).sort(),
      );
      for (const call of calls) {
        assert.equal(call.inputs.locationType, "availability-zone");
        const region = config.regions.find((r) => r.name === call.providerRegion)!;
        const types = new Set(jobsForRegion(config, region).flatMap((j) => j.instanceTypes));
        const filters = call.inputs.filters as Array<{ name: string; values: string[] }>;
        assert.deepEqual(filters, [{ name: "instance-type", values: [...types] }]);
      }
    });
  });
}

describe("the engine's AWS rules for prices and offerings", () => {
  it("serves the Price List only through us-east-1 or ap-south-1, as the provider does", () => {
    const inputs = {
      serviceCode: "AmazonEC2",
      filters: instancePriceFilters("sa-east-1", "m7i.large"),
    };
    assert.throws(
      () => callResult(PRODUCT, inputs as never, "sa-east-1"),
      /no endpoint in sa-east-1/,
    );
    const product = callResult(PRODUCT, inputs as never, "us-east-1");
    assert.equal(typeof product.result, "string");
  });

  it("refuses a query that would match several products, or none", () => {
    const without = (field: string) => ({
      serviceCode: "AmazonEC2",
      filters: instancePriceFilters("eu-west-1", "m7i.large").filter((f) => f.field !== field),
    });
    for (const field of [
      "marketoption",
      "capacitystatus",
      "tenancy",
      "operatingSystem",
      "preInstalledSw",
      "licenseModel",
      "regionCode",
    ]) {
      assert.throws(
        () => callResult(PRODUCT, without(field) as never, "us-east-1"),
        /not precise enough/,
        field,
      );
    }
    assert.throws(
      () =>
        callResult(
          PRODUCT,
          {
            serviceCode: "AmazonEC2",
            filters: gp3PriceFilters("eu-west-1").filter((f) => f.field !== "productFamily"),
          } as never,
          "us-east-1",
        ),
      /not precise enough/,
    );
    assert.throws(
      () =>
        callResult(
          PRODUCT,
          {
            serviceCode: "AmazonEC2",
            filters: instancePriceFilters("eu-west-1", "t3.mega"),
          } as never,
          "us-east-1",
        ),
      /did not return any elements/,
    );
  });

  it("offers a well-named type in every zone and t3.mega nowhere", () => {
    const offered = callResult(
      OFFERINGS,
      {
        locationType: "availability-zone",
        filters: [{ name: "instance-type", values: ["m7i.large", "t3.mega"] }],
      } as never,
      "ap-southeast-2",
    );
    assert.deepEqual(offered.instanceTypes, ["m7i.large", "m7i.large", "m7i.large"]);
    assert.deepEqual(offered.locations, ["ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"]);
  });

  it("describes the default subnets getSubnets lists in the default VPC getVpc answers, one per zone", () => {
    const region = "sa-east-1";
    const vpc = callResult("aws:ec2/getVpc:getVpc", {} as never, region);
    const ids = callResult("aws:ec2/getSubnets:getSubnets", {} as never, region).ids as string[];
    const zones = ids.map((id) => {
      const subnet = callResult("aws:ec2/getSubnet:getSubnet", { id } as never, region);
      assert.equal(subnet.vpcId, vpc.id, id);
      return subnet.availabilityZone;
    });
    assert.deepEqual(zones, ["sa-east-1a", "sa-east-1b", "sa-east-1c"]);
  });
});

describe("placeInstanceTypes", () => {
  const zones = { "subnet-a": "r-1a", "subnet-b": "r-1b" };
  it("keeps, per type, the subnets whose zone offers it, in subnet order", () => {
    assert.deepEqual(
      placeInstanceTypes(["x.large", "y.large", "z.large"], ["subnet-a", "subnet-b"], zones, [
        { instanceType: "x.large", location: "r-1b" },
        { instanceType: "x.large", location: "r-1a" },
        { instanceType: "y.large", location: "r-1b" },
        { instanceType: "z.large", location: "r-1c" },
      ]),
      {
        subnetIdsByInstanceType: { "x.large": ["subnet-a", "subnet-b"], "y.large": ["subnet-b"] },
        unoffered: [2],
      },
    );
  });
});

describe("the program with a type some zones lack, and one no zone offers", function () {
  this.timeout(120000);
  /** A stack of the test's own: one job in ap-southeast-2 (default VPC, zones a-c). */
  const raw = (): Record<string, string> => ({
    ...loadStackConfig("dev"),
    "transient-jobs:regions": JSON.stringify(["ap-southeast-2"]),
    "transient-jobs:jobs": JSON.stringify({
      pi: {
        schedule: "cron(0 6 * * ? *)",
        instanceTypes: ["m7i.large", "m6i.large"],
        volumeGiB: 30,
        parameters: { DURATION_SECONDS: "300" },
      },
    }),
  });
  afterEach(() => MOCK_OFFERING_GAPS.clear());

  it("gives the launcher, per type, only the subnets whose zone offers it", async () => {
    MOCK_OFFERING_GAPS.set("ap-southeast-2b", new Set(["m7i.large"]));
    const evaluation = await evaluateProgram("dev", raw());
    const code = await launcherCode(evaluation, "ap-southeast-2");
    const subnet = (letter: string) => defaultSubnetId("ap-southeast-2", letter);
    const list = (name: string) =>
      new RegExp(
        `var ${specName(code, "pi")}_subnetIdsByInstanceType_${name} = (\\[[^\\]]*\\]);`,
      ).exec(code)?.[1];
    assert.deepEqual(JSON.parse(list("m7ilarge") ?? "null"), [subnet("a"), subnet("c")]);
    assert.deepEqual(JSON.parse(list("m6ilarge") ?? "null"), [
      subnet("a"),
      subnet("b"),
      subnet("c"),
    ]);
  });

  it("refuses to deploy a type no zone of the job's subnets offers, naming key, value and region", async () => {
    for (const zone of ["a", "b", "c"])
      MOCK_OFFERING_GAPS.set(`ap-southeast-2${zone}`, new Set(["m6i.large"]));
    // Refused before any Lambda's code matters: the closures are not serialized.
    const evaluation = evaluateProgram("dev", raw(), { closures: "placeholder" });
    await assert.rejects(evaluation, (error: Error) => {
      assert.match(
        error.message,
        /transient-jobs:jobs\.pi\.instanceTypes\[1\]: "m6i\.large" is not offered by EC2 in any zone of the job's subnets in ap-southeast-2 \(ap-southeast-2a, ap-southeast-2b, ap-southeast-2c\)/,
      );
      return true;
    });
  });
});

describe("jobPlacement and pricesFor", () => {
  it("are exported for the regional stack", () => {
    assert.equal(typeof jobPlacement, "function");
    assert.deepEqual(
      pricesFor({ onDemandUsdPerHour: { a: 1, b: 2 }, volumeUsdPerGiBMonth: 0.08 }, ["b", "c"]),
      { onDemandUsdPerHour: { b: 2 }, volumeUsdPerGiBMonth: 0.08 },
    );
  });
});
