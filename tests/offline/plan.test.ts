import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadStackConfig, StackFileError } from "../../offline/engine";
import { HELP, parsePlanArgs, planOutput, UsageError } from "../../offline/plan";
import { PROJECT_ROOT } from "../../offline/engine";
import { evaluatedWith } from "../../testing/evaluations";

const ENV = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };

/** `npm run plan -- <args>`, the documented command, in its own process. */
function plan(...args: string[]) {
  return spawnSync("npm", ["run", "--silent", "plan", "--", ...args], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    env: ENV,
  });
}

/** The tool's script run by node (what the npm script runs, without npm's start-up). */
function planScript(...args: string[]) {
  return spawnSync(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", path.join("offline", "plan.ts"), ...args],
    { cwd: PROJECT_ROOT, encoding: "utf8", env: ENV },
  );
}

/**
 * What the tool prints for `args` (its `main` prints `planOutput`), computed in this process from
 * the program evaluation the other suites share.
 */
const planText = (...args: string[]) =>
  planOutput(args, async (stack, raw) => (await evaluatedWith(stack, raw)).evaluation);

describe("npm run plan", function () {
  this.timeout(60000);

  it("lists every region's resources and each job's next 3 runs in its timezone", () => {
    const result = plan("prod", "--now", "2026-11-23T12:00:00Z");
    assert.equal(result.status, 0, result.stderr);
    const out = result.stdout;
    assert.match(out, /^Stack prod: 2 region\(s\), 2 job\(s\), \d+ resources to create/);
    // us-east-1 has scheduleOffsetMinutes: 15 in Pulumi.prod.yaml.
    for (const [region, minute] of [
      ["eu-west-1", "30"],
      ["us-east-1", "45"],
    ]) {
      const section = out.split(`Region ${region} (enabled)`)[1]?.split("\nRegion ")[0];
      assert.ok(section, `no section for ${region}`);
      for (const type of [
        "aws:s3/bucket:Bucket",
        "aws:lambda/function:Function",
        "aws:ec2/securityGroup:SecurityGroup",
        "awsx:ecr:Image",
      ]) {
        assert.match(
          section,
          new RegExp(`\\+ ${type.replace(/[/:]/g, "\\$&")}\\s+tj-prod-${region}-`),
        );
      }
      assert.equal(section.match(/aws:ec2\/launchTemplate:LaunchTemplate/g)?.length, 2);
      // Two jobs and the reaper.
      assert.equal(section.match(/aws:scheduler\/schedule:Schedule/g)?.length, 3);
      // 02:30 (plus the region's offset) Paris time, CET in November.
      assert.match(
        section,
        new RegExp(
          `job nightly-pi: cron\\(${minute} 2 \\* \\* \\? \\*\\) in Europe/Paris.*\n\\s+` +
            `next runs: 2026-11-24 02:${minute} CET \\| 2026-11-25 02:${minute} CET \\| 2026-11-26 02:${minute} CET`,
        ),
      );
      // Scheduler skips 02:30 the night clocks go forward and runs it once when they go back.
      assert.match(
        section,
        new RegExp(
          `next runs: .*\n` +
            `\\s+warning: nightly-pi: cron\\(${minute} 2 \\* \\* \\? \\*\\) in Europe/Paris is skipped on 2027-03-28 \\(02:${minute} does not exist: clocks go forward\\)\n` +
            `\\s+warning: nightly-pi: cron\\(${minute} 2 \\* \\* \\? \\*\\) in Europe/Paris runs once on 2027-10-31 \\(02:${minute} occurs twice: runs at the first\\)\n` +
            `\\s+\\+ `,
        ),
      );
      assert.match(
        section,
        /job hourly-pi: rate\(1 hour\) in UTC.*\n\s+next runs: 2026-11-23 13:00 UTC \| 2026-11-23 14:00 UTC \| 2026-11-23 15:00 UTC\n\s+\+ /,
      );
      assert.equal(section.match(/warning: /g)?.length, 2);
    }
  });

  for (const stack of ["dev", "prod"]) {
    it(`lists every resource it counts in ${stack}, the dashboard included, and not the stack`, async () => {
      const out = await planText(stack, "--now", "2026-11-23T12:00:00Z");
      const count = Number(/(\d+) resources to create/.exec(out)?.[1]);
      const listed = out.split("\n").filter((l) => /^\s+\+ /.test(l));
      assert.equal(listed.length, count);
      assert.deepEqual(
        listed.filter((l) => /Dashboard|pulumi:pulumi:Stack/.test(l)).map((l) => l.trim()),
        [`+ ${"aws:cloudwatch/dashboard:Dashboard".padEnd(52)} tj-${stack}-dashboard`],
      );
    });
  }

  it("fails with exit code 2 and the allowed stacks for an unknown stack", () => {
    const result = planScript("staging");
    assert.equal(result.status, 2);
    assert.match(
      result.stderr,
      /stack "staging" has no Pulumi\.staging\.yaml; usage: npm run plan -- <stack> .*\(stacks: dev, prod\)/,
    );
  });
});

describe("parsePlanArgs", () => {
  it("answers --help and -h with its help, whatever else is given", () => {
    assert.equal(parsePlanArgs(["--help"]), "help");
    assert.equal(parsePlanArgs(["dev", "-h"]), "help");
    assert.match(HELP, /^usage: npm run plan -- <stack> \[--now <ISO time>\]/);
  });

  it("reads the stack and --now", () => {
    assert.deepEqual(parsePlanArgs(["dev", "--now", "2026-01-02T03:04:05Z"]), {
      stack: "dev",
      now: new Date("2026-01-02T03:04:05Z"),
    });
  });
  for (const [args, message] of [
    [[], /missing stack name/],
    [["dev", "--now", "yesterday"], /--now: "yesterday" is not an ISO time/],
    [["dev", "--now"], /--now: null is not an ISO time/],
    [["dev", "--verbose"], /unknown flag "--verbose"/],
    [["dev", "prod"], /unexpected argument "prod"/],
  ] as Array<[string[], RegExp]>) {
    it(`rejects ${JSON.stringify(args)}`, () =>
      assert.throws(
        () => parsePlanArgs(args),
        (e: unknown) => e instanceof UsageError && message.test((e as Error).message),
      ));
  }
});

describe("loadStackConfig", () => {
  it("turns a YAML syntax error into one line naming the file, line and column", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "tj-yaml-"));
    try {
      fs.copyFileSync(
        path.join(__dirname, "..", "..", "Pulumi.yaml"),
        path.join(root, "Pulumi.yaml"),
      );
      fs.writeFileSync(
        path.join(root, "Pulumi.dev.yaml"),
        "config:\n  transient-jobs:regions: [eu-west-1\n  transient-jobs:jobs: {}\n",
      );
      assert.throws(
        () => loadStackConfig("dev", root),
        (e: unknown) =>
          e instanceof StackFileError &&
          /^Pulumi\.dev\.yaml:3:3: [^\n]+$/.test((e as Error).message),
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
