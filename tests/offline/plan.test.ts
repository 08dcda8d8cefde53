import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { jobsForRegion, parseStackConfig, rawConfigFromPulumi } from "../../config";
import {
  dstWarningsForYear,
  formatDstWarning,
  nextRunTimes,
  offsetSchedule,
  parseScheduleExpression,
} from "../../lib/scheduleExpression";
import { IMAGE_BUILD_TYPE } from "../../lib/codeBuild";
import { imageKey } from "../../lib/resourceNames";
import { loadStackConfig, StackFileError } from "../../offline/engine";
import { HELP, parsePlanArgs, UsageError } from "../../offline/planArgs";
import { formatInZone, planOutput } from "../../offline/planOutput";
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

/**
 * What the tool prints for `args` (its `main` prints `planOutput`), computed in this process from
 * the program evaluation the other suites share.
 */
const planText = (...args: string[]) =>
  planOutput(args, async (stack, raw) => (await evaluatedWith(stack, raw)).evaluation);

describe("npm run plan", function () {
  // Each test evaluates a whole stack in a child process: slow on a loaded machine.
  this.timeout(180000);

  it("shows each job's memory and interruptions alarms, what they compute from which metrics, and the run and attempt metrics", async () => {
    const out = await planText("dev", "--now", "2026-11-23T12:00:00Z");
    const job = out.split("  job pi: ")[1].split("\n\n")[0];
    assert.match(
      job,
      /\n {4}alarm tj-dev-eu-west-1-alarms-pi-memory: MAX\(\[FILL\(peak, 0\), FILL\(oom, 0\) \* 100\]\) > 90; peak = RunPeakMemoryPercent \(Maximum, 300 s\), oom = RunOomKilled \(Maximum, 300 s\)\n/,
    );
    assert.match(
      job,
      /\n {4}metrics per run: RunDurationSeconds, RunEstimatedCostUsd, RunPeakMemoryPercent, RunMeanCpuPercent, RunOomKilled \(on the dashboard\)/,
    );
    assert.match(
      job,
      /\n {4}alarm tj-dev-eu-west-1-alarms-pi-interruptions: MAX\(\[FILL\(interrupted, 0\) \+ FILL\(lost, 0\), FILL\(retried, 0\)\]\) > 2; interrupted = AttemptInterrupted \(Sum, 86400 s\), lost = AttemptLost \(Sum, 86400 s\), retried = AttemptRetried \(Sum, 86400 s\)\n/,
    );
    assert.match(
      job,
      /\n {4}metrics per attempt: RunStartLatencySeconds, RunOverheadSeconds, AttemptInterrupted, AttemptLost, AttemptRetried \(on the dashboard\)/,
    );
    assert.match(
      out,
      /\+ aws:cloudwatch\/metricAlarm:MetricAlarm\s+tj-dev-eu-west-1-alarms-pi-memory\n/,
    );
  });

  it("lists every region's resources and each job's next 3 runs in its timezone", async () => {
    // Whatever regions and jobs Pulumi.prod.yaml has: the plan shows each as config says.
    const now = new Date("2026-11-23T12:00:00Z");
    const config = parseStackConfig(rawConfigFromPulumi(loadStackConfig("prod")), "prod");
    const out = await planText("prod", "--now", now.toISOString());
    assert.match(
      out,
      new RegExp(
        `^Stack prod: ${config.regions.length} region\\(s\\), ${config.jobs.length} job\\(s\\), \\d+ resources to create`,
      ),
    );
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    for (const region of config.regions) {
      const state = region.enabled ? "enabled" : "disabled: schedules paused";
      const section = out.split(`Region ${region.name} (${state})`)[1]?.split("\nRegion ")[0];
      assert.ok(section, `no section for ${region.name}`);
      for (const type of [
        "aws:s3/bucket:Bucket",
        "aws:lambda/function:Function",
        "aws:ec2/securityGroup:SecurityGroup",
      ]) {
        assert.match(section, new RegExp(`\\+ ${escape(type)}\\s+tj-prod-${region.name}-`));
      }
      const jobs = jobsForRegion(config, region);
      // prod builds in CodeBuild: per region and image (context and architecture) an uploaded
      // context, a project and a build; no image is built by a local Docker daemon.
      assert.equal(config.imageBuilder, "codebuild");
      assert.doesNotMatch(out, /awsx:ecr:Image/);
      const images = new Set(jobs.map((job) => imageKey(job.image, job.architecture)));
      for (const [type, suffix] of [
        ["aws:s3/bucketObjectv2:BucketObjectv2", "context"],
        ["aws:codebuild/project:Project", "build"],
        [IMAGE_BUILD_TYPE, "image"],
      ]) {
        const listed = [...section.matchAll(new RegExp(`\\+ ${escape(type)}\\s+(\\S+)`, "g"))];
        assert.deepEqual(
          listed.map((m) => m[1]).sort(),
          [...images].map((key) => `tj-prod-${region.name}-${key}-${suffix}`).sort(),
        );
      }
      assert.equal(section.match(/aws:ec2\/launchTemplate:LaunchTemplate/g)?.length, jobs.length);
      // The jobs' schedules and the reaper's.
      assert.equal(section.match(/aws:scheduler\/schedule:Schedule/g)?.length, jobs.length + 1);
      let dst = 0;
      for (const job of jobs) {
        // What Scheduler is given: the cron after the region's offset.
        const expression = offsetSchedule(job.schedule, region.scheduleOffsetMinutes);
        const schedule = parseScheduleExpression(expression);
        const runs = nextRunTimes(schedule, job.timezone, now, 3).map((d) =>
          formatInZone(d, job.timezone),
        );
        const warnings = dstWarningsForYear(schedule, job.timezone, now).map(
          (w) =>
            `\\s+warning: ${escape(formatDstWarning(job.name, expression, job.timezone, w))}\n`,
        );
        dst += warnings.length;
        assert.match(
          section,
          new RegExp(
            `job ${escape(job.name)}: ${escape(expression)} in ${escape(job.timezone)}; instance types ${escape(job.instanceTypes.join(", "))}\n` +
              `\\s+next runs: ${escape(runs.join(" | "))}\n${warnings.join("")}` +
              `\\s+image: built from ${escape(job.image)}\n` +
              `\\s+scratch \\(SCRATCH_DIR\\): a folder on the ${job.volumeGiB} GiB root volume\n\\s+\\+ `,
          ),
          `${region.name} ${job.name}`,
        );
      }
      assert.equal(section.match(/warning: /g)?.length ?? 0, dst);
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

  it("plans examples/real-jobs.yaml with --config, showing what each job's keys add", async () => {
    const out = await planText(
      "dev",
      "--config",
      "examples/real-jobs.yaml",
      "--now",
      "2026-11-23T12:00:00Z",
    );
    const details = out
      .split("\n")
      .filter((l) => /^ {4}(image|secrets|own permissions|GPUs|scratch)\b/.test(l))
      .map((l) => l.trim());
    assert.deepEqual(details, [
      "image: built from job-image",
      "secrets (read on the instance): API_TOKEN from secretsmanager:backup/api#token, DB_PASSWORD from ssm:/backup/db-password",
      "own permissions: managed policy arn:aws:iam::123456789012:policy/backup-kms-use",
      "own permissions: Allow s3:GetObject, s3:ListBucket on arn:aws:s3:::partner-drop, arn:aws:s3:::partner-drop/*",
      "scratch (SCRATCH_DIR): NVMe instance store, m6id.large 118 GB",
      "image: 210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/analysis@sha256:4f2b8c9d0e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4 (built elsewhere: no repository, no build)",
      "GPUs: g5.xlarge (1 x NVIDIA A10G), g6.xlarge (1 x NVIDIA L4); ECS GPU AMI, docker run --gpus all",
      "scratch (SCRATCH_DIR): NVMe instance store, g5.xlarge 250 GB, g6.xlarge 250 GB",
      "image: public.ecr.aws/docker/library/python:3.12-slim (built elsewhere: no repository, no build)",
      "secrets (read on the instance): REPORT_TOKEN from arn:aws:secretsmanager:eu-west-1:123456789012:secret:report/token-AbCdEf",
      "scratch (SCRATCH_DIR): a folder on the 30 GiB root volume",
    ]);
    assert.match(
      out,
      /Warnings:\n {2}transient-jobs:jobs\.daily-report\.imageUri: .* names a mutable tag/,
    );
    assert.equal(out.match(/\+ aws:ecr\/repository:Repository/g)?.length, 1);
  });

  it("refuses a --config that is not a file", () => {
    assert.throws(
      () => parsePlanArgs(["dev", "--config", "examples/missing.yaml"]),
      new UsageError(
        '--config: "examples/missing.yaml" is not a file; give a stack file such as examples/real-jobs.yaml',
      ),
    );
  });

  // The documented command in its own process: npm's script, its exit code and its stderr.
  it("fails with exit code 2 and the allowed stacks for an unknown stack", () => {
    const result = plan("staging");
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
    assert.match(HELP, /^usage: npm run plan -- <stack> \[--config <file>\] \[--now <ISO time>\]/);
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
