import * as assert from "node:assert/strict";
import * as path from "node:path";
import {
  AWS_REGIONS,
  longestJobName,
  parseStackConfig,
  rawConfigFromPulumi,
  STACK_NAME_MAX_LENGTH,
  StackConfigError,
} from "../../config";
import { JOB_NAME_MAX_LENGTH } from "../../launcher/contract";
import {
  environmentNames,
  imageKey,
  imageNames,
  jobNames,
  NAME_RULES,
  nameRuleOf,
  regionSharedNames,
} from "../../lib/resourceNames";
import {
  evaluateProgram,
  Evaluation,
  loadStackConfig,
  RecordedResource,
  ResourceNameError,
} from "../../offline/engine";
import { evaluatedDeployStack, evaluatedStack, evaluatedWith } from "../../testing/evaluations";

// In testing/: the engine forgets a program wherever it is, so each case evaluates it afresh.
const FIXTURE = path.join(__dirname, "..", "..", "testing", "namedResourcesProgram");

async function fixtureProblems(which: string): Promise<string[]> {
  try {
    await evaluateProgram(
      "test",
      { "fixture:case": which },
      { program: FIXTURE, project: "fixture" },
    );
  } catch (error) {
    assert.ok(
      error instanceof ResourceNameError,
      `expected ResourceNameError, got ${String(error)}`,
    );
    return error.problems;
  }
  assert.fail(`case ${which} was accepted`);
}

/** The stack's config with `regions` and `jobs` replaced (one job, copied from dev's). */
function configWith(regions: string[], jobs: string[]): Record<string, string> {
  const base = loadStackConfig("dev");
  const pi = (JSON.parse(base["transient-jobs:jobs"]) as Record<string, unknown>).pi;
  return {
    ...base,
    "transient-jobs:regions": JSON.stringify(regions),
    "transient-jobs:jobs": JSON.stringify(Object.fromEntries(jobs.map((job) => [job, pi]))),
  };
}

function configProblems(stack: string, config: Record<string, string>): string[] {
  try {
    parseStackConfig(rawConfigFromPulumi(config), stack);
  } catch (error) {
    assert.ok(error instanceof StackConfigError, String(error));
    return error.problems;
  }
  assert.fail("config was accepted");
}

const named = (resources: RecordedResource[]) =>
  resources
    .filter((r) => nameRuleOf(r.type))
    .map((r) => {
      const field = nameRuleOf(r.type)!.field;
      // Explicit names are the inputs the program set; auto-names have none.
      return `${r.type} ${r.name} ${r.inputs[field] ?? ""}`.trim();
    })
    .sort();

describe("AWS name limits in the offline engine", function () {
  this.timeout(120000);

  it("refuses an auto-name over the limit with the type, logical name, name, length and limit", async () => {
    const logical = "r".repeat(57);
    const problems = await fixtureProblems("long-role");
    assert.equal(problems.length, 1);
    assert.match(
      problems[0],
      new RegExp(
        `^aws:iam/role:Role "${logical}": name "${logical}-[0-9a-f]{7}" is 65 characters; AWS allows at most 64 \\(IAM role name, https://docs\\.aws\\.amazon\\.com/IAM/`,
      ),
    );
  });

  it("accepts a name at the limit and reports the auto-name as the name output", async () => {
    const { resources } = await evaluateProgram(
      "test",
      { "fixture:case": "fitting-role" },
      { program: FIXTURE, project: "fixture" },
    );
    const role = resources.find((r) => r.type === "aws:iam/role:Role")!;
    assert.match(String(role.state.name), new RegExp(`^${"r".repeat(56)}-[0-9a-f]{7}$`));
    assert.equal(String(role.state.name).length, 64);
  });

  it("checks an explicit name as given, and lowercases an auto-named bucket as the provider does", async () => {
    assert.deepEqual(
      (await fixtureProblems("explicit-bucket")).map((p) => p.replace(/ \(https:.*$/, "")),
      [
        'aws:s3/bucket:Bucket "results": name "Results_Bucket" is not a valid S3 bucket name: use lowercase letters, digits, . and -, starting and ending with a letter or digit',
      ],
    );
    const { resources } = await evaluateProgram(
      "test",
      { "fixture:case": "auto-named-bucket" },
      { program: FIXTURE, project: "fixture" },
    );
    assert.match(
      String(resources.find((r) => r.name === "Results")?.state.bucket),
      /^results-[0-9a-f]{7}$/,
    );
  });

  it("refuses a resource type that has no entry in NAME_RULES", async () => {
    assert.equal(NAME_RULES["aws:ec2/vpc:Vpc"], undefined);
    const problems = await fixtureProblems("unknown-type");
    assert.equal(problems.length, 1);
    assert.match(
      problems[0],
      /^aws:ec2\/vpc:Vpc "network": the offline engine has no AWS name rule/,
    );
  });

  it("has a name rule (or an unnamed entry) for every type the programs declare", async () => {
    const evaluations: Evaluation[] = [
      (await evaluatedStack("dev")).evaluation,
      (await evaluatedStack("prod")).evaluation,
      await evaluatedDeployStack("dev"),
      await evaluatedDeployStack("prod"),
    ];
    const types = new Set(
      evaluations
        .flatMap((e) => e.resources.map((r) => r.type))
        .filter((t) => t !== "pulumi:pulumi:Stack" && !t.startsWith("transient-jobs:")),
    );
    assert.deepEqual(
      [...types].filter((t) => !(t in NAME_RULES)),
      [],
    );
  });

  for (const stack of ["dev", "prod"]) {
    it(`config checks exactly the named resources the ${stack} program declares`, async () => {
      const { config, evaluation } = await evaluatedStack(stack);
      const expected = [
        ...environmentNames(stack),
        ...config.regions.flatMap((region) => [
          ...regionSharedNames(stack, region.name),
          ...config.jobs.flatMap((job) => jobNames(stack, region.name, job.name)),
          ...[...new Set(config.jobs.map((job) => imageKey(job.image, job.architecture)))].flatMap(
            (key) => imageNames(stack, region.name, key, config.imageBuilder),
          ),
        ]),
      ]
        .map((r) => `${r.type} ${r.logicalName} ${r.explicitName ?? ""}`.trim())
        .sort();
      assert.deepEqual(named(evaluation.resources), expected);
    });
  }
});

describe("name limits at the edge of what config accepts", function () {
  this.timeout(120000);
  const region = [...AWS_REGIONS].sort((a, b) => b.length - a.length || a.localeCompare(b))[0];
  const stack = "s".repeat(STACK_NAME_MAX_LENGTH);
  const longest = longestJobName(stack, region);
  const job = (length: number) => "j".repeat(length);

  it("allows a job name of at least 8 characters with the longest stack name in the longest region", () => {
    assert.equal(region.length, 14);
    assert.ok(longest >= 8 && longest < JOB_NAME_MAX_LENGTH, String(longest));
  });

  it("deploys the longest stack, region and job name config accepts", async () => {
    const config = configWith([region], [job(longest)]);
    parseStackConfig(rawConfigFromPulumi(config), stack);
    // Names do not depend on the Lambda code, which is not serialized.
    const { resources } = (await evaluatedWith(stack, config, { closures: "placeholder" }))
      .evaluation;
    const role = resources.find((r) => r.name.endsWith("-instance-role"))!;
    assert.equal(String(role.state.name).length, 64);
  });

  it("refuses one more character of job name, naming the limit and the longest that fits", () => {
    assert.deepEqual(configProblems(stack, configWith([region], [job(longest + 1)])), [
      `transient-jobs:jobs.${job(longest + 1)}: job name "${job(longest + 1)}" is ${longest + 1} characters; with stack "${stack}" and region "${region}" the IAM role name "${stack.replace(/^/, "tj-")}-${region}-${job(longest + 1)}-instance-role-0000000" would be 65 of 64 characters (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html); the longest job name that fits is ${longest}`,
    ]);
  });

  it("refuses a 24-character job in ap-southeast-1 in prod (its instance role would be 69 of 64)", () => {
    const [problem] = configProblems("prod", configWith(["ap-southeast-1"], [job(24)]));
    assert.match(
      problem,
      /^transient-jobs:jobs\.j{24}: job name "j{24}" is 24 characters; with stack "prod" and region "ap-southeast-1" the IAM role name "tj-prod-ap-southeast-1-j{24}-instance-role-0000000" would be 69 of 64 characters .*; the longest job name that fits is 19$/,
    );
  });

  it("refuses a stack name one character over the limit, or with capitals", () => {
    for (const name of [`${stack}s`, "Prod"]) {
      assert.match(
        configProblems(name, configWith(["eu-west-1"], ["pi"]))[0],
        new RegExp(
          `^transient-jobs: stack name "${name}" is not allowed: use 1-${STACK_NAME_MAX_LENGTH} lowercase letters`,
        ),
      );
    }
  });
});

describe("what an evaluation forgets", function () {
  this.timeout(60000);

  it("loads the program's modules afresh and keeps the harness's (its caches, its emulator)", async () => {
    const harness = require.resolve("../../testing/moto");
    const programModule = require.resolve("../../lib/resourceNames");
    const before = { harness: require.cache[harness], programModule: require.cache[programModule] };
    assert.ok(before.harness && before.programModule, "the root hooks and this file load both");
    await evaluateProgram(
      "test",
      { "fixture:case": "fitting-role" },
      { program: FIXTURE, project: "fixture" },
    );
    assert.equal(require.cache[harness], before.harness, "the harness module was forgotten");
    assert.equal(require.cache[programModule], undefined, "a program module was kept");
  });
});
