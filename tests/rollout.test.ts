/**
 * Rolling the program out to regions by editing stack config, checked on the URNs and inputs the
 * mocks record: adding or removing a region touches no other region, `enabled: false` only
 * pauses schedules, prod retains its data, schedules are staggered and images roll out in order.
 *
 * The scenario's regions are the test's own (below), on prod's committed jobs and settings, so
 * that the committed region list can be anything config accepts.
 */
import * as assert from "node:assert/strict";
import { jobsForRegion, parseStackConfig, rawConfigFromPulumi } from "../config";
import { PRICING_API_REGIONS } from "../lib/priceList";
import { IMAGE_BUILD_TYPE } from "../lib/codeBuild";
import { imageKey } from "../lib/resourceNames";
import { offsetSchedule } from "../lib/scheduleExpression";
import * as pulumi from "@pulumi/pulumi";
import {
  Evaluation,
  loadStackConfig,
  PLACEHOLDER_CLOSURE,
  RecordedResource,
} from "../offline/engine";
import { deployedLauncherCode } from "../testing/serializedClosure";
import { evaluatedStack, evaluatedWith } from "../testing/evaluations";

const REGIONAL = "transient-jobs:index:RegionalJobStack";
const SCHEDULE = "aws:scheduler/schedule:Schedule";
/** What builds and pushes an image: prod's committed stack builds in CodeBuild. */
const IMAGE = IMAGE_BUILD_TYPE;
/** The resources prod keeps when a region is removed: its results and its images. */
const RETAINED_TYPES = [
  "aws:ecr/lifecyclePolicy:LifecyclePolicy",
  "aws:ecr/repository:Repository",
  "aws:s3/bucket:Bucket",
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  "aws:s3/bucketPolicy:BucketPolicy",
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  "aws:s3/bucketVersioning:BucketVersioning",
];

type RegionEntry = string | { name: string; [key: string]: unknown };
const nameOf = (entry: RegionEntry) => (typeof entry === "string" ? entry : entry.name);

/** The resources below the regional stack of `region`, the stack itself included. */
function regionResources(evaluation: Evaluation, region: string): RecordedResource[] {
  const { resources } = evaluation;
  const root = resources.find((r) => r.type === REGIONAL && r.name === `tj-prod-${region}`);
  assert.ok(root, `no regional stack for ${region}`);
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  return resources.filter((r) => {
    for (
      let p: RecordedResource | undefined = r;
      p;
      p = p.parent ? byUrn.get(p.parent) : undefined
    ) {
      if (p === root) return true;
    }
    return false;
  });
}

/**
 * The variations compare URNs, providers and inputs without the Lambda code (`inputsOf`), and a
 * region's closures capture only that region's values: their code is not serialized.
 */
const CODELESS = { closures: "placeholder" } as const;

type Text = { text: Promise<string> };

const urns = (resources: RecordedResource[]) => new Set(resources.map((r) => r.urn));

/** Inputs as JSON, for "would `pulumi up` update it": assets (the Lambda code) drop out. */
const inputsOf = (r: RecordedResource) => JSON.stringify(r.inputs);

function byUrn(evaluation: Evaluation): Map<string, RecordedResource> {
  return new Map(evaluation.resources.map((r) => [r.urn, r]));
}

/** The scenario: eu-west-1 first, us-east-1 15 minutes later and after it in the rollout. */
const SCENARIO: RegionEntry[] = [
  "eu-west-1",
  { name: "us-east-1", scheduleOffsetMinutes: 15, rolloutOrder: 1 },
];

describe("region rollout by stack config (prod)", function () {
  this.timeout(240_000);
  const committed = loadStackConfig("prod");
  // Prod's jobs, each run in every region of the scenario.
  const jobs = JSON.parse(committed["transient-jobs:jobs"]) as Record<
    string,
    { regions?: unknown }
  >;
  for (const job of Object.values(jobs)) delete job.regions;
  const config = { ...committed, "transient-jobs:jobs": JSON.stringify(jobs) };
  const regions = SCENARIO;
  const withRegions = (entries: RegionEntry[]) => ({
    ...config,
    "transient-jobs:regions": JSON.stringify(entries),
  });
  const scenario = withRegions(regions);
  /** The scenario's config, validated. */
  const parsed = parseStackConfig(rawConfigFromPulumi(scenario), "prod");
  const jobsIn = (region: string) =>
    jobsForRegion(
      parsed,
      parsed.regions.find((r) => r.name === region)!,
    );
  let base: Evaluation;
  let adding: ReturnType<typeof evaluatedWith> | undefined;
  /** The stack with ap-southeast-2 appended (rolloutOrder 0), evaluated once. */
  const withThirdRegionEvaluated = () =>
    (adding ??= evaluatedWith("prod", withRegions([...regions, "ap-southeast-2"]), CODELESS));
  const withThirdRegion = () => withThirdRegionEvaluated().then((e) => e.evaluation);

  before(async () => {
    // The committed config is often the scenario itself: then its evaluation is shared.
    const same = JSON.stringify(scenario) === JSON.stringify(committed);
    base = (await (same ? evaluatedStack("prod") : evaluatedWith("prod", scenario))).evaluation;
  });

  it("names every regional resource after its region, never after its place in the list", () => {
    for (const region of regions.map(nameOf)) {
      for (const r of regionResources(base, region)) {
        assert.ok(r.name.startsWith(`tj-prod-${region}`), `${r.type} ${r.name}`);
      }
    }
  });

  describe("adding a region (regions[2]: ap-southeast-2)", () => {
    let added: Evaluation;
    before(async () => {
      added = await withThirdRegion();
    });

    // README's "Adding a region" example: any region config accepts deploys (addingRegions.test.ts
    // validates every one); this one evaluates with AWS's prices and offerings for every type.
    it("prices and places every instance type of the new region from AWS's data, without warnings", async () => {
      const { config: addedConfig, warnings } = await withThirdRegionEvaluated();
      assert.deepEqual(
        warnings.filter((w) => /price|offered/i.test(w)),
        [],
      );
      const region = addedConfig.regions.find((r) => r.name === "ap-southeast-2")!;
      const types = new Set(jobsForRegion(addedConfig, region).flatMap((j) => j.instanceTypes));
      assert.ok(types.size > 0);
      const priced = added.calls.filter(
        (c) =>
          c.token === "aws:pricing/getProduct:getProduct" &&
          (c.inputs.filters as Array<{ field: string; value: string }>).some(
            (f) => f.field === "regionCode" && f.value === region.name,
          ),
      );
      assert.equal(priced.length, types.size + 1, "one query per type, and gp3");
      for (const call of priced) assert.ok(PRICING_API_REGIONS.includes(call.providerRegion!));
      assert.ok(
        added.resources.some(
          (r) => r.type === "aws:lambda/function:Function" && r.providerRegion === region.name,
        ),
        "the new region has no launcher",
      );
    });

    it("gives the variation's Lambdas placeholder code, which refuses to run, and only it", async () => {
      assert.equal(added.closures, "placeholder");
      assert.equal(base.closures, "serialized");
      await assert.rejects(deployedLauncherCode(added.resources), /did not serialize/);
      assert.match(await deployedLauncherCode(base.resources), /handleLaunchEvent/);
      const functions = added.resources.filter((r) => r.type === "aws:lambda/function:Function");
      for (const fn of functions) {
        const assets = await (fn.inputs.code as { assets: Promise<Record<string, Text>> }).assets;
        assert.equal(await assets["__index.js"].text, PLACEHOLDER_CLOSURE, fn.name);
      }
      const module = { exports: {} as { handler?: () => Promise<unknown> } };
      new Function("exports", PLACEHOLDER_CLOSURE)(module.exports);
      await assert.rejects(module.exports.handler!(), /did not serialize its closures/);
      // The engine puts Pulumi's serializer back for the next evaluation.
      assert.equal(pulumi.runtime.serializeFunction.name, "serializeFunction");
    });

    it("adds exactly one regional stack, and every new resource is inside it", () => {
      const newStacks = added.resources.filter(
        (r) => r.type === REGIONAL && !urns(base.resources).has(r.urn),
      );
      assert.deepEqual(
        newStacks.map((r) => r.name),
        ["tj-prod-ap-southeast-2"],
      );
      const inside = urns(regionResources(added, "ap-southeast-2"));
      const created = added.resources.filter((r) => !urns(base.resources).has(r.urn));
      assert.ok(created.length > 20, `only ${created.length} new resources`);
      for (const r of created) assert.ok(inside.has(r.urn), `${r.urn} is outside the new region`);
    });

    it("keeps every URN, and the inputs and provider of every other region's resources", () => {
      const after = byUrn(added);
      const otherRegions = urns([
        ...regionResources(base, "eu-west-1"),
        ...regionResources(base, "us-east-1"),
      ]);
      for (const r of base.resources) {
        const same = after.get(r.urn);
        assert.ok(same, `${r.urn} disappeared`);
        // Stack-wide resources (the dashboard) may list the new region; they are not regional.
        if (!otherRegions.has(r.urn)) continue;
        assert.equal(inputsOf(same), inputsOf(r), `${r.urn} would be updated`);
        assert.equal(same.providerRegion, r.providerRegion, `${r.urn} would change provider`);
      }
    });
  });

  describe("removing a region (eu-west-1, regions[0])", () => {
    let removed: Evaluation;
    before(async () => {
      ({ evaluation: removed } = await evaluatedWith(
        "prod",
        withRegions(regions.filter((r) => nameOf(r) !== "eu-west-1")),
        CODELESS,
      ));
    });

    it("keeps the remaining region's URNs and inputs exactly, though its index changed", () => {
      const kept = regionResources(base, "us-east-1");
      const after = byUrn(removed);
      assert.deepEqual(urns(regionResources(removed, "us-east-1")), urns(kept));
      for (const r of kept) {
        const same = after.get(r.urn)!;
        assert.equal(inputsOf(same), inputsOf(r), `${r.urn} would be updated`);
        assert.equal(same.providerRegion, r.providerRegion, `${r.urn} would change provider`);
      }
    });

    it("keeps the environment's dashboard and its provider when the first region goes", () => {
      const dashboard = (e: Evaluation) =>
        e.resources.find((r) => r.type === "aws:cloudwatch/dashboard:Dashboard")!;
      assert.equal(dashboard(removed).urn, dashboard(base).urn);
      assert.equal(dashboard(removed).providerRegion, dashboard(base).providerRegion);
    });

    it("deletes only the removed region's resources, and retains its results and images", () => {
      const gone = base.resources.filter((r) => !urns(removed.resources).has(r.urn));
      assert.deepEqual(urns(gone), urns(regionResources(base, "eu-west-1")));
      const retained = gone.filter((r) => r.retainOnDelete);
      assert.deepEqual([...new Set(retained.map((r) => r.type))].sort(), RETAINED_TYPES);
      assert.equal(
        retained.filter((r) => r.type === "aws:s3/bucket:Bucket").length,
        1,
        "the results bucket",
      );
      assert.equal(
        retained.filter((r) => r.type === "aws:ecr/repository:Repository").length,
        new Set(jobsIn("eu-west-1").map((j) => imageKey(j.image, j.architecture))).size,
        "one repository per image",
      );
      // Kept resources refuse deletion of their contents, should anyone delete them anyway.
      for (const r of retained.filter((r) => r.type === "aws:s3/bucket:Bucket")) {
        assert.equal(r.inputs.forceDestroy, false, r.name);
      }
      for (const r of retained.filter((r) => r.type === "aws:ecr/repository:Repository")) {
        assert.equal(r.inputs.forceDelete, false, r.name);
      }
      // Everything else of the region really goes: schedules, functions, roles, templates.
      const deleted = gone.filter((r) => r.custom && !r.retainOnDelete).map((r) => r.type);
      for (const type of [
        SCHEDULE,
        "aws:lambda/function:Function",
        "aws:iam/role:Role",
        "aws:ec2/launchTemplate:LaunchTemplate",
      ]) {
        assert.ok(deleted.includes(type), `${type} is not deleted`);
      }
    });
  });

  describe("enabled: false (us-east-1)", () => {
    let paused: Evaluation;
    before(async () => {
      ({ evaluation: paused } = await evaluatedWith(
        "prod",
        withRegions(
          regions.map((r) =>
            nameOf(r) === "us-east-1" ? { ...(r as object), name: "us-east-1", enabled: false } : r,
          ),
        ),
        CODELESS,
      ));
    });

    it("keeps every resource, disables the region's job schedules and changes nothing elsewhere", () => {
      assert.deepEqual(urns(paused.resources), urns(base.resources));
      const after = byUrn(paused);
      const inRegion = urns(regionResources(base, "us-east-1"));
      const changedSchedules: string[] = [];
      for (const r of base.resources) {
        const now = after.get(r.urn)!;
        if (inputsOf(now) === inputsOf(r)) continue;
        assert.ok(inRegion.has(r.urn), `${r.name}, outside the paused region, changed`);
        if (r.type !== SCHEDULE) continue;
        changedSchedules.push(r.name);
        assert.deepEqual({ ...now.inputs, state: "ENABLED" }, r.inputs);
        assert.equal(now.inputs.state, "DISABLED");
      }
      assert.deepEqual(
        changedSchedules.sort(),
        jobsIn("us-east-1")
          .map((j) => `tj-prod-us-east-1-${j.name}-schedule`)
          .sort(),
      );
      const reaper = after.get(
        base.resources.find((r) => r.name === "tj-prod-us-east-1-reaper-schedule")!.urn,
      )!;
      // Instances launched before the pause still get reaped.
      assert.equal(reaper.inputs.state, "ENABLED");
      const outputs = paused.outputs.regions as Record<string, { enabled: boolean }>;
      assert.deepEqual([outputs["eu-west-1"].enabled, outputs["us-east-1"].enabled], [true, false]);
    });
  });

  it("staggers the region's cron schedules by scheduleOffsetMinutes, and leaves rates alone", () => {
    const expression = (name: string) =>
      base.resources.find((r) => r.type === SCHEDULE && r.name === name)?.inputs.scheduleExpression;
    for (const region of parsed.regions) {
      for (const job of jobsIn(region.name)) {
        const expected = job.schedule.startsWith("rate(")
          ? job.schedule
          : offsetSchedule(job.schedule, region.scheduleOffsetMinutes);
        assert.equal(expression(`tj-prod-${region.name}-${job.name}-schedule`), expected);
      }
    }
    assert.equal(offsetSchedule("cron(30 2 * * ? *)", 15), "cron(45 2 * * ? *)");
    assert.equal(offsetSchedule("rate(1 hour)", 15), "rate(1 hour)");
  });

  describe("rolloutOrder", () => {
    /** Which regions' resources each region's images wait for. */
    function imageWaitsFor(evaluation: Evaluation, names: string[]): Record<string, string[]> {
      const waits: Record<string, string[]> = {};
      for (const region of names) {
        const images = regionResources(evaluation, region).filter((r) => r.type === IMAGE);
        assert.ok(images.length > 0, `no image in ${region}`);
        const before = names.filter((other) => {
          const theirs = regionResources(evaluation, other).filter((r) => r.custom);
          const waited = images.map((image) =>
            theirs.every((r) => image.dependencies?.includes(r.urn)),
          );
          return other !== region && waited.every(Boolean);
        });
        for (const image of images) {
          for (const other of names.filter((o) => o !== region && !before.includes(o))) {
            const theirs = urns(regionResources(evaluation, other));
            assert.ok(
              !image.dependencies?.some((d) => theirs.has(d)),
              `${image.name} waits for part of ${other}`,
            );
          }
        }
        waits[region] = before;
      }
      return waits;
    }

    it("builds us-east-1's images (rolloutOrder 1) only after all of eu-west-1 (0) is up to date", () => {
      assert.deepEqual(imageWaitsFor(base, ["eu-west-1", "us-east-1"]), {
        "eu-west-1": [],
        "us-east-1": ["eu-west-1"],
      });
    });

    it("deploys regions of equal order in parallel and later orders after all earlier ones", async () => {
      // ap-southeast-2 added with the default order 0, like eu-west-1.
      assert.deepEqual(
        imageWaitsFor(await withThirdRegion(), ["eu-west-1", "us-east-1", "ap-southeast-2"]),
        {
          "eu-west-1": [],
          "ap-southeast-2": [],
          "us-east-1": ["eu-west-1", "ap-southeast-2"],
        },
      );
    });
  });
});

describe("retained resources in dev", function () {
  this.timeout(120_000);

  it("retains nothing: removing a dev region deletes its bucket and images too", async () => {
    const { evaluation } = await evaluatedStack("dev");
    assert.deepEqual(
      evaluation.resources.filter((r) => r.retainOnDelete).map((r) => r.name),
      [],
    );
    for (const r of evaluation.resources.filter((r) => r.type === "aws:s3/bucket:Bucket")) {
      assert.equal(r.inputs.forceDestroy, true);
    }
    for (const r of evaluation.resources.filter(
      (r) => r.type === "aws:ecr/repository:Repository",
    )) {
      assert.equal(r.inputs.forceDelete, true);
    }
  });
});
