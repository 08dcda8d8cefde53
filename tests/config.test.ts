import { randomBytes } from "node:crypto";
import * as assert from "node:assert/strict";
import {
  instanceArchitecture,
  jobsForRegion,
  editDistance,
  maxLaunchDelaySeconds,
  parseStackConfig,
  readStackConfig,
  rawConfigFromPulumi,
  RawStackConfig,
  regionsBefore,
  StackConfigError,
} from "../config";
import { loadStackConfig } from "../offline/engine";

const job = (overrides: Record<string, unknown> = {}) => ({
  schedule: "cron(0 6 * * ? *)",
  instanceTypes: ["t3.medium"],
  ...overrides,
});
const valid = (overrides: RawStackConfig = {}): RawStackConfig => ({
  regions: ["eu-west-1"],
  jobs: { pi: job() },
  ...overrides,
});

function problemsOf(raw: RawStackConfig, environment = "dev"): string[] {
  try {
    parseStackConfig(raw, environment);
  } catch (error) {
    assert.ok(error instanceof StackConfigError, `expected StackConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail("config was accepted");
}

describe("parseStackConfig: names AWS would refuse", () => {
  it("refuses a job name whose instance role would not fit in one of its regions", () => {
    const name = "a".repeat(20);
    const problems = problemsOf(
      valid({ regions: ["eu-west-1", "ap-southeast-1"], jobs: { [name]: job() } }),
      "prod",
    );
    assert.deepEqual(problems, [
      `transient-jobs:jobs.${name}: job name "${name}" is 20 characters; with stack "prod" and region "ap-southeast-1" the IAM role name "tj-prod-ap-southeast-1-${name}-instance-role-0000000" would be 65 of 64 characters (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html); the longest job name that fits is 19`,
    ]);
  });

  it("accepts the longest job name that fits", () => {
    const name = "a".repeat(19);
    const config = parseStackConfig(
      valid({ regions: ["ap-southeast-1"], jobs: { [name]: job() } }),
      "prod",
    );
    assert.deepEqual(
      config.jobs.map((j) => j.name),
      [name],
    );
  });
});

describe("parseStackConfig", () => {
  const badConfigs: Array<[string, RawStackConfig, string]> = [
    [
      "unknown region",
      valid({ regions: ["eu-west-1", "eu-west-9"] }),
      'transient-jobs:regions[1]: "eu-west-9" is not an AWS region',
    ],
    [
      "duplicate region",
      valid({ regions: ["eu-west-1", { name: "eu-west-1" }] }),
      'transient-jobs:regions[1]: "eu-west-1" is listed twice; list each region once',
    ],
    [
      "no regions",
      valid({ regions: [] }),
      "transient-jobs:regions: [] must list at least one region",
    ],
    ["no jobs", valid({ jobs: {} }), "transient-jobs:jobs: {} must define at least one job"],
    [
      "bad cron",
      valid({ jobs: { pi: job({ schedule: "cron(0 6 * * * *)" }) } }),
      'transient-jobs:jobs.pi.schedule: "cron(0 6 * * * *)" is not a valid schedule: exactly one of day-of-month ("*") and day-of-week ("*") must be "?"',
    ],
    [
      "cron with five fields",
      valid({ jobs: { pi: job({ schedule: "cron(0 6 * * ?)" }) } }),
      'transient-jobs:jobs.pi.schedule: "cron(0 6 * * ?)" is not a valid schedule: cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 5',
    ],
    [
      "minute out of range",
      valid({ jobs: { pi: job({ schedule: "cron(61 6 * * ? *)" }) } }),
      'transient-jobs:jobs.pi.schedule: "cron(61 6 * * ? *)" is not a valid schedule: minutes value "61" is out of range 0-59',
    ],
    [
      // Scheduler takes "rate(1 hours)" (plural units for any value), but a singular unit only with 1.
      "rate with a singular unit for more than 1",
      valid({ jobs: { pi: job({ schedule: "rate(5 hour)" }) } }),
      'transient-jobs:jobs.pi.schedule: "rate(5 hour)" is not a valid schedule: rate unit "hour" is singular, which is valid only with the value 1; write "rate(5 hours)"',
    ],
    [
      "unknown timezone",
      valid({ jobs: { pi: job({ timezone: "Europe/Atlantis" }) } }),
      'transient-jobs:jobs.pi.timezone: "Europe/Atlantis" is not an IANA time zone (e.g. "UTC", "Europe/Paris")',
    ],
    [
      "empty instance types",
      valid({ jobs: { pi: job({ instanceTypes: [] }) } }),
      "transient-jobs:jobs.pi.instanceTypes: [] must list at least one instance type, most preferred first",
    ],
    [
      "malformed instance type",
      valid({ jobs: { pi: job({ instanceTypes: ["large"] }) } }),
      'transient-jobs:jobs.pi.instanceTypes[0]: "large" is not an EC2 instance type (e.g. "m7i.large", "c7g.xlarge")',
    ],
    [
      // Well formed, but no EC2 size: refused offline, before EC2's offerings are asked.
      "instance type with a size EC2 does not have",
      valid({ jobs: { pi: job({ instanceTypes: ["t3.medium", "t3.mega"] }) } }),
      'transient-jobs:jobs.pi.instanceTypes[1]: "t3.mega" is not an EC2 instance type: "mega" is not an EC2 size (nano, micro, small, medium, large, xlarge, <n>xlarge (e.g. 2xlarge), metal or metal-<n>xl; e.g. "t3.large")',
    ],
    [
      "arm64 type with x86_64 architecture",
      valid({ jobs: { pi: job({ instanceTypes: ["m7i.large", "m7g.large"] }) } }),
      'transient-jobs:jobs.pi.instanceTypes[1]: "m7g.large" is arm64 but architecture is x86_64; use an x86_64 type or set architecture: arm64',
    ],
    [
      "x86_64 type with arm64 architecture",
      valid({
        jobs: { pi: job({ architecture: "arm64", instanceTypes: ["c7g.large", "c7i.large"] }) },
      }),
      'transient-jobs:jobs.pi.instanceTypes[1]: "c7i.large" is x86_64 but architecture is arm64; use an arm64 type or set architecture: x86_64',
    ],
    [
      "negative runtime",
      valid({ jobs: { pi: job({ maxRuntimeMinutes: -5 }) } }),
      "transient-jobs:jobs.pi.maxRuntimeMinutes: -5 must be at least 10: the instance stops the job 7 minutes before its deadline to report",
    ],
    [
      "runtime too short for the stop margin",
      valid({ jobs: { pi: job({ maxRuntimeMinutes: 9 }) } }),
      "transient-jobs:jobs.pi.maxRuntimeMinutes: 9 must be at least 10: the instance stops the job 7 minutes before its deadline to report",
    ],
    [
      "runtime as text",
      valid({ jobs: { pi: job({ maxRuntimeMinutes: "two hours" }) } }),
      'transient-jobs:jobs.pi.maxRuntimeMinutes: "two hours" must be a number, not a string',
    ],
    [
      "memory alarm threshold an OOM kill could not exceed",
      valid({ jobs: { pi: job({ memoryAlarmPercent: 100 }) } }),
      "transient-jobs:jobs.pi.memoryAlarmPercent: 100 must be at most 99: the alarm counts an OOM kill as 100 %, which must be above it",
    ],
    [
      "memory alarm threshold too low to mean anything",
      valid({ jobs: { pi: job({ memoryAlarmPercent: 12.5 }) } }),
      "transient-jobs:jobs.pi.memoryAlarmPercent: 12.5 must be a whole number",
    ],
    [
      "a negative interruptions alarm threshold",
      valid({ jobs: { pi: job({ interruptionAlarmThreshold: -1 }) } }),
      "transient-jobs:jobs.pi.interruptionAlarmThreshold: -1 must be 0 or more: the alarm fires when a day's count is above it",
    ],
    [
      "an interruptions alarm threshold in halves",
      valid({ jobs: { pi: job({ interruptionAlarmThreshold: 1.5 }) } }),
      "transient-jobs:jobs.pi.interruptionAlarmThreshold: 1.5 must be a whole number",
    ],
    [
      "an interruptions alarm threshold beyond any job",
      valid({ jobs: { pi: job({ interruptionAlarmThreshold: 5000 }) } }),
      "transient-jobs:jobs.pi.interruptionAlarmThreshold: 5000 must be at most 1000 attempts a day",
    ],
    [
      "job region the stack does not have",
      valid({ jobs: { pi: job({ regions: ["us-east-1"] }) } }),
      'transient-jobs:jobs.pi.regions[0]: "us-east-1" is not one of the stack\'s regions (eu-west-1); add it to transient-jobs:regions first',
    ],
    [
      "unknown concurrency policy",
      valid({ jobs: { pi: job({ concurrencyPolicy: "skip" }) } }),
      'transient-jobs:jobs.pi.concurrencyPolicy: "skip" must be one of "forbid", "allow", "replace"',
    ],
    [
      "misspelt key",
      valid({ jobs: { pi: job({ instanceType: "t3.micro" }) } }),
      'transient-jobs:jobs.pi: unknown key(s) "instanceType"; check the spelling against Pulumi.yaml',
    ],
    [
      "bad job name",
      valid({ jobs: { "Nightly Pi": job() } }),
      'transient-jobs:jobs.Nightly Pi: "Nightly Pi" is not a valid job name',
    ],
    [
      "parameter that is not an env var name",
      valid({ jobs: { pi: job({ parameters: { "duration-seconds": "10" } }) } }),
      'transient-jobs:jobs.pi.parameters.duration-seconds: "duration-seconds" is not an environment variable name',
    ],
    [
      "reserved parameter",
      valid({ jobs: { pi: job({ parameters: { RUN_ID: "x" } }) } }),
      'transient-jobs:jobs.pi.parameters.RUN_ID: "RUN_ID" is reserved; the init script sets RUN_ID, RESULTS_BUCKET, RESULTS_PREFIX, AWS_REGION',
    ],
    [
      "region flag of the wrong type",
      valid({ regions: [{ name: "eu-west-1", enabled: "no" }] }),
      'transient-jobs:regions[0].enabled: "no" must be true or false, not a string',
    ],
    [
      "bad subnet id",
      valid({ regions: [{ name: "eu-west-1", subnetIds: ["sn-1"] }] }),
      'transient-jobs:regions[0].subnetIds[0]: "sn-1" is not a subnet id ("subnet-" and hex)',
    ],
    [
      "region that runs no job",
      valid({ regions: ["eu-west-1", "us-east-1"], jobs: { pi: job({ regions: ["eu-west-1"] }) } }),
      "transient-jobs:regions[1]: \"us-east-1\" runs no job (every job's regions leaves it out); remove the region or add it to a job's regions",
    ],
    [
      "region override with the wrong architecture",
      valid({ regions: [{ name: "eu-west-1", instanceTypes: ["m7g.large"] }] }),
      'transient-jobs:regions[0].instanceTypes[0]: "m7g.large" is arm64 but job "pi" is x86_64',
    ],
    [
      "parameters too big for EC2 user data",
      valid({
        jobs: {
          pi: job({
            parameters: Object.fromEntries(
              // As hard to compress as text gets: the user data is sent gzip-compressed.
              ["A", "B", "C", "D", "E"].map((name) => [
                name,
                randomBytes(3000).toString("base64").slice(0, 4000),
              ]),
            ),
          }),
        },
      }),
      "transient-jobs:jobs.pi.parameters: initScript: the rendered script of run pi-20261123T0300Z is",
    ],
    [
      "an image builder that does not exist",
      valid({ imageBuilder: "kaniko" }),
      'transient-jobs:imageBuilder: "kaniko" is not an image builder; use "codebuild" (in AWS, no Docker needed) or "docker" (the Docker daemon of pulumi up)',
    ],
    [
      "a build context too long for its source bucket's name with codebuild",
      valid({
        imageBuilder: "codebuild",
        jobs: { pi: job({ image: `images/${"x".repeat(24)}` }) },
      }),
      `transient-jobs:jobs.pi.image: "images/${"x".repeat(24)}": with stack "dev" and region "eu-west-1" the S3 bucket name`,
    ],
    [
      "log retention CloudWatch does not offer",
      valid({ logRetentionDays: 31 }),
      "transient-jobs:logRetentionDays: 31 is not a CloudWatch Logs retention",
    ],
    [
      "notification email",
      valid({ notifications: { emails: ["ops"] } }),
      'transient-jobs:notifications.emails[0]: "ops" is not an email address',
    ],
    [
      "plain http endpoint",
      valid({ notifications: { httpsEndpoints: ["http://hooks.example.com/x"] } }),
      'transient-jobs:notifications.httpsEndpoints[0]: "http://hooks.example.com/x" is not an https:// URL',
    ],
    [
      "schedule offset of an hour",
      valid({ regions: [{ name: "eu-west-1", scheduleOffsetMinutes: 60 }] }),
      "transient-jobs:regions[0].scheduleOffsetMinutes: 60 must be at most 59",
    ],
    [
      "schedule offset that cannot shift a job's cron exactly",
      valid({
        regions: ["eu-west-1", { name: "us-east-1", scheduleOffsetMinutes: 45 }],
        jobs: { pi: job({ schedule: "cron(0,30 6 * * ? *)" }) },
      }),
      'transient-jobs:regions[1].scheduleOffsetMinutes: 45 cannot shift job "pi": "cron(0,30 6 * * ? *)" shifted by 45 minutes would move some runs into the next hour and not others',
    ],
    [
      "schedule offset that pushes a weekday job past midnight",
      valid({
        regions: [{ name: "eu-west-1", scheduleOffsetMinutes: 15 }],
        jobs: { pi: job({ schedule: "cron(50 23 ? * MON-FRI *)" }) },
      }),
      'transient-jobs:regions[0].scheduleOffsetMinutes: 15 cannot shift job "pi": "cron(50 23 ? * MON-FRI *)" shifted by 15 minutes would move runs past midnight',
    ],
    [
      "negative rollout order",
      valid({ regions: [{ name: "eu-west-1", rolloutOrder: -1 }] }),
      "transient-jobs:regions[0].rolloutOrder: -1 must be at least 0",
    ],
    [
      "fractional rollout order",
      valid({ regions: [{ name: "eu-west-1", rolloutOrder: 1.5 }] }),
      "transient-jobs:regions[0].rolloutOrder: 1.5 must be a whole number",
    ],
    [
      "rollout order as text",
      valid({ regions: [{ name: "eu-west-1", rolloutOrder: "first" }] }),
      'transient-jobs:regions[0].rolloutOrder: "first" must be a number, not a string',
    ],
    [
      "more Lambda retries than Lambda allows",
      valid({ launcherRetry: { maximumRetryAttempts: 3 } }),
      "transient-jobs:launcherRetry.maximumRetryAttempts: 3 must be at most 2 (Lambda's limit)",
    ],
    [
      "a Lambda event age beyond six hours",
      valid({ launcherRetry: { maximumEventAgeSeconds: 21601 } }),
      "transient-jobs:launcherRetry.maximumEventAgeSeconds: 21601 must be at most 21600 (6 hours, Lambda's limit)",
    ],
    [
      "an EBS key alias instead of a key",
      valid({
        regions: [
          { name: "eu-west-1", ebsKmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:alias/aws/ebs" },
        ],
      }),
      'transient-jobs:regions[0].ebsKmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:alias/aws/ebs" is not a KMS key ARN',
    ],
    [
      "an EBS key of another region",
      valid({
        regions: [
          {
            name: "eu-west-1",
            ebsKmsKeyArn:
              "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
          },
        ],
      }),
      'transient-jobs:regions[0].ebsKmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" is a key in us-east-1, but EBS volumes in eu-west-1 need a key of eu-west-1',
    ],
  ];

  for (const [title, raw, expected] of badConfigs) {
    it(`rejects ${title}`, () => {
      const problems = problemsOf(raw);
      assert.ok(
        problems.some((p) => p.startsWith(expected)),
        `expected a problem starting with\n  ${expected}\ngot\n  ${problems.join("\n  ")}`,
      );
    });
  }

  it("suggests the nearest region and time zone, and says what is allowed in its own words", () => {
    assert.deepEqual(
      problemsOf(
        valid({
          regions: ["eu-wset-1"],
          jobs: { pi: job({ timezone: "Europe/Pariss", volumeGiB: 0 }) },
          imagesToKeep: "5",
          unknownTopLevel: 1,
        }),
      ).sort(),
      [
        'transient-jobs: unknown key(s) "unknownTopLevel"; check the spelling against Pulumi.yaml',
        'transient-jobs:imagesToKeep: "5" must be a number, not a string; write 5 without quotes',
        'transient-jobs:jobs.pi.timezone: "Europe/Pariss" is not an IANA time zone (did you mean "Europe/Paris"?)',
        "transient-jobs:jobs.pi.volumeGiB: 0 must be at least 30 (the AMI's root snapshot)",
        'transient-jobs:regions[0]: "eu-wset-1" is not an AWS region (did you mean "eu-west-1"?; the full list is AWS_REGIONS in config.ts)',
      ].sort(),
    );
  });

  it("reports a job's region outside the stack once, without its consequences", () => {
    assert.deepEqual(problemsOf(valid({ jobs: { pi: job({ regions: ["us-east-1"] }) } })), [
      `transient-jobs:jobs.pi.regions[0]: "us-east-1" is not one of the stack's regions (eu-west-1); add it to transient-jobs:regions first`,
    ]);
  });

  it("names a missing required key and what to set it to", () => {
    assert.deepEqual(problemsOf({ regions: ["eu-west-1"] }), [
      "transient-jobs:jobs: (missing) is required: set it to a map of keys to values",
    ]);
  });

  it("reports every problem at once", () => {
    const problems = problemsOf(
      valid({
        regions: ["eu-west-9"],
        jobs: { pi: job({ timezone: "Nowhere", instanceTypes: [] }) },
      }),
    );
    assert.equal(problems.length, 3, problems.join("\n"));
  });

  describe("every problem in one run", () => {
    it("reports a job's schema problem and another job's and region's semantic problems together", () => {
      const problems = problemsOf(
        valid({
          regions: ["eu-west-1", "eu-west-1"],
          jobs: {
            pi: job({ volumeGiB: 0 }),
            arm: job({ instanceTypes: ["m7g.large"] }),
          },
        }),
      );
      assert.deepEqual(problems.sort(), [
        'transient-jobs:jobs.arm.instanceTypes[0]: "m7g.large" is arm64 but architecture is x86_64; use an x86_64 type or set architecture: arm64',
        "transient-jobs:jobs.pi.volumeGiB: 0 must be at least 30 (the AMI's root snapshot)",
        'transient-jobs:regions[1]: "eu-west-1" is listed twice; list each region once',
      ]);
    });

    it("checks a job's valid fields although another of its fields is broken", () => {
      assert.deepEqual(
        problemsOf(
          valid({ jobs: { pi: job({ timezone: "Nowhere", instanceTypes: ["m7g.large"] }) } }),
        ).sort(),
        [
          'transient-jobs:jobs.pi.instanceTypes[0]: "m7g.large" is arm64 but architecture is x86_64; use an x86_64 type or set architecture: arm64',
          'transient-jobs:jobs.pi.timezone: "Nowhere" is not an IANA time zone (e.g. "UTC", "Europe/Paris")',
        ],
      );
    });

    it("skips only the rules that need the broken value", () => {
      // A broken architecture hides the architecture rule, not the too-long name or the
      // region whose offset and key are checked on their own.
      const name = "a".repeat(20);
      const problems = problemsOf(
        valid({
          regions: [
            {
              name: "ap-southeast-1",
              rolloutOrder: -1,
              ebsKmsKeyArn:
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            },
          ],
          jobs: { [name]: job({ architecture: "sparc", instanceTypes: ["m7g.large"] }) },
        }),
        "prod",
      );
      assert.equal(problems.length, 4, problems.join("\n"));
      for (const start of [
        "transient-jobs:regions[0].rolloutOrder: -1 must be at least 0",
        'transient-jobs:regions[0].ebsKmsKeyArn: "arn:aws:kms:us-east-1:',
        `transient-jobs:jobs.${name}.architecture: "sparc" must be one of "x86_64", "arm64"`,
        `transient-jobs:jobs.${name}: job name "${name}" is 20 characters`,
      ]) {
        assert.ok(
          problems.some((p) => p.startsWith(start)),
          `expected ${start}\ngot\n  ${problems.join("\n  ")}`,
        );
      }
    });

    it("knows a region's name when another of its fields is broken", () => {
      assert.deepEqual(
        problemsOf(
          valid({
            regions: ["eu-west-1", { name: "eu-west-1", scheduleOffsetMinutes: 99 }],
            jobs: { pi: job({ regions: ["eu-west-1"] }) },
          }),
        ).sort(),
        [
          "transient-jobs:regions[1].scheduleOffsetMinutes: 99 must be at most 59",
          'transient-jobs:regions[1]: "eu-west-1" is listed twice; list each region once',
        ],
      );
    });

    it("does not call a job's region foreign when a stack region is itself misspelt", () => {
      assert.deepEqual(
        problemsOf(
          valid({
            regions: ["eu-west-1", "eu-wset-2"],
            jobs: { pi: job({ regions: ["eu-west-2"] }) },
          }),
        ),
        [
          'transient-jobs:regions[1]: "eu-wset-2" is not an AWS region (did you mean "eu-west-2"?; the full list is AWS_REGIONS in config.ts)',
        ],
      );
    });

    it("checks the jobs of a config whose job names are broken", () => {
      const problems = problemsOf(
        valid({ jobs: { Pi: job(), arm: job({ instanceTypes: ["m7g.large"] }) } }),
      );
      assert.equal(problems.length, 2, problems.join("\n"));
      assert.ok(
        problems.some((p) => p.startsWith('transient-jobs:jobs.Pi: "Pi" is not a valid job name')),
      );
      assert.ok(problems.some((p) => p.startsWith("transient-jobs:jobs.arm.instanceTypes[0]")));
    });

    it("reports no problem twice", () => {
      const problems = problemsOf(
        valid({
          regions: ["eu-west-1", "eu-west-1", "eu-west-9", { name: "eu-west-1", enabled: "no" }],
          jobs: {
            a: job({ instanceTypes: ["m7g.large", "m7g.large"], timezone: "Nowhere" }),
            b: job({ instanceTypes: ["m7g.large"], regions: ["eu-west-1", "eu-west-1"] }),
            c: job({ schedule: "every day", parameters: { bad: "1" } }),
          },
          imagesToKeep: 0,
          launcherRetry: { maximumRetryAttempts: 9 },
          extra: true,
        }),
      );
      assert.ok(problems.length >= 10, problems.join("\n"));
      assert.deepEqual(problems, [...new Set(problems)], "a problem is listed twice");
    });
  });

  it("applies documented defaults", () => {
    const config = parseStackConfig(valid(), "dev");
    assert.deepEqual(config.regions, [
      { name: "eu-west-1", enabled: true, scheduleOffsetMinutes: 0, rolloutOrder: 0 },
    ]);
    const { parsedSchedule, ...pi } = config.jobs[0];
    assert.equal(parsedSchedule.kind, "cron");
    assert.deepEqual(pi, {
      name: "pi",
      schedule: "cron(0 6 * * ? *)",
      timezone: "UTC",
      image: "job-image",
      architecture: "x86_64",
      instanceTypes: ["t3.medium"],
      volumeGiB: 30,
      maxRuntimeMinutes: 120,
      concurrencyPolicy: "forbid",
      purchaseOption: "on-demand",
      parameters: {},
      secrets: {},
      policies: { managed: [], statements: [] },
      retry: { maximumRetryAttempts: 3, maximumEventAgeSeconds: 3600 },
      runRetries: { attempts: 2, on: ["interrupted", "lost", "failed"], backoffMinutes: 1 },
      memoryAlarmPercent: 90,
      interruptionAlarmThreshold: 2,
    });
    assert.equal(config.retainResources, false);
    assert.equal(parseStackConfig(valid(), "prod").retainResources, true);
    assert.equal(config.logRetentionDays, 30);
    assert.equal(config.imageBuilder, "docker");
    assert.equal(
      parseStackConfig(valid({ imageBuilder: "codebuild" }), "dev").imageBuilder,
      "codebuild",
    );
    assert.deepEqual(config.launcherRetry, {
      maximumRetryAttempts: 2,
      maximumEventAgeSeconds: 3600,
    });
  });

  it("bounds a run's launch delay by both event ages and the launcher's timeout", () => {
    const config = parseStackConfig(
      valid({
        launcherRetry: { maximumEventAgeSeconds: 600 },
        jobs: { pi: job({ retry: { maximumEventAgeSeconds: 900 } }) },
      }),
      "dev",
    );
    assert.equal(maxLaunchDelaySeconds(config.jobs[0], config.launcherRetry, 120), 1620);
  });

  it("takes numbers and booleans as parameters in their string form, as pulumi config set stores them", () => {
    const config = parseStackConfig(
      valid({
        jobs: { pi: job({ parameters: { DURATION_SECONDS: 300, DEBUG: true, RATIO: 1.5 } }) },
      }),
      "dev",
    );
    assert.deepEqual(config.jobs[0].parameters, {
      DURATION_SECONDS: "300",
      DEBUG: "true",
      RATIO: "1.5",
    });
    assert.deepEqual(
      problemsOf(valid({ jobs: { pi: job({ parameters: { DURATION_SECONDS: { s: 1 } } }) } })),
      [
        'transient-jobs:jobs.pi.parameters.DURATION_SECONDS: {"s":1} must be a string, a number or true/false (it becomes an environment variable)',
      ],
    );
  });

  it("applies a region's instance type override to the jobs that run there", () => {
    const config = parseStackConfig(
      valid({ regions: ["eu-west-1", { name: "us-east-1", instanceTypes: ["c7i.large"] }] }),
      "prod",
    );
    assert.deepEqual(jobsForRegion(config, config.regions[0])[0].instanceTypes, ["t3.medium"]);
    assert.deepEqual(jobsForRegion(config, config.regions[1])[0].instanceTypes, ["c7i.large"]);
  });
});

describe("instanceArchitecture", () => {
  const table: Array<[string, string]> = [
    ["m7g.large", "arm64"],
    ["c7gn.xlarge", "arm64"],
    ["r8gd.2xlarge", "arm64"],
    ["g5g.xlarge", "arm64"],
    ["is4gen.large", "arm64"],
    ["a1.medium", "arm64"],
    ["g5.xlarge", "x86_64"],
    ["g4dn.xlarge", "x86_64"],
    ["m7i.8xlarge", "x86_64"],
    ["t3a.medium", "x86_64"],
    ["c6in.large", "x86_64"],
  ];
  for (const [type, arch] of table) {
    it(`${type} is ${arch}`, () => assert.equal(instanceArchitecture(type), arch));
  }
});

describe("the shipped stack configs", () => {
  it("dev runs one small job in one region", () => {
    const config = parseStackConfig(rawConfigFromPulumi(loadStackConfig("dev")), "dev");
    assert.equal(config.regions.length, 1);
    assert.deepEqual(
      config.jobs.map((j) => j.name),
      ["pi"],
    );
  });

  it("prod runs at least two jobs in at least two regions, and keeps its data", () => {
    const config = parseStackConfig(rawConfigFromPulumi(loadStackConfig("prod")), "prod");
    assert.ok(config.regions.length >= 2, `prod has ${config.regions.length} region(s)`);
    assert.ok(config.jobs.length >= 2, `prod has ${config.jobs.length} job(s)`);
    assert.equal(config.retainResources, true);
  });
});

describe("regionsBefore", () => {
  it("lists the regions with a lower rollout order, whatever their place in the list", () => {
    const { regions } = parseStackConfig(
      valid({
        regions: [
          { name: "us-east-1", rolloutOrder: 2 },
          "eu-west-1",
          { name: "eu-central-1", rolloutOrder: 1 },
          { name: "ap-southeast-2", rolloutOrder: 1 },
        ],
      }),
      "prod",
    );
    const before = (name: string) =>
      regionsBefore(
        regions,
        regions.find((r) => r.name === name)!,
      ).map((r) => r.name);
    assert.deepEqual(before("eu-west-1"), []);
    assert.deepEqual(before("eu-central-1"), ["eu-west-1"]);
    assert.deepEqual(before("ap-southeast-2"), ["eu-west-1"]);
    assert.deepEqual(before("us-east-1"), ["eu-west-1", "eu-central-1", "ap-southeast-2"]);
  });
});

describe("rawConfigFromPulumi", () => {
  it("keeps only the project's keys and decodes JSON values", () => {
    assert.deepEqual(
      rawConfigFromPulumi({
        "transient-jobs:regions": '["eu-west-1"]',
        "transient-jobs:logRetentionDays": "14",
        "transient-jobs:name": "plain text",
        "aws:region": "eu-west-1",
      }),
      { regions: ["eu-west-1"], logRetentionDays: 14, name: "plain text" },
    );
  });
});

describe("readStackConfig", () => {
  const all = {
    "transient-jobs:regions": JSON.stringify(["eu-west-1"]),
    "transient-jobs:jobs": JSON.stringify({ pi: job() }),
    "aws:region": "eu-west-1",
    "pulumi:disable-default-providers": JSON.stringify(["aws"]),
  };

  it("reads the project's keys and ignores other providers' namespaces", () => {
    assert.deepEqual(
      readStackConfig(all, "dev").regions.map((r) => r.name),
      ["eu-west-1"],
    );
  });

  it("reports a key under a misspelt namespace, with the key it was meant to be", () => {
    assert.throws(
      () => readStackConfig({ ...all, "transient-job:logRetentionDays": "7" }, "dev"),
      (e: unknown) =>
        e instanceof StackConfigError &&
        e.problems.length === 1 &&
        e.problems[0] ===
          'transient-job:logRetentionDays: namespace "transient-job" is not this project\'s; did you mean transient-jobs:logRetentionDays? This program reads only keys under transient-jobs:',
    );
  });

  it("lists a misspelt namespace together with the config's other problems", () => {
    assert.throws(
      () =>
        readStackConfig(
          {
            ...all,
            "transient-jobs:regions": JSON.stringify(["eu-west-9"]),
            "trnsient-jobs:x": "1",
          },
          "dev",
        ),
      (e: unknown) =>
        e instanceof StackConfigError &&
        e.problems[0].startsWith('trnsient-jobs:x: namespace "trnsient-jobs"') &&
        e.problems.some((p) => p.startsWith('transient-jobs:regions[0]: "eu-west-9"')),
    );
  });

  it("checks a valid job's declared parameters although another job is broken", () => {
    assert.throws(
      () =>
        readStackConfig(
          {
            ...all,
            "transient-jobs:jobs": JSON.stringify({
              pi: job({ parameters: { DURATION_SECONDS: "abc" } }),
              broken: job({ volumeGiB: 1 }),
            }),
          },
          "dev",
        ),
      (e: unknown) => {
        assert.ok(e instanceof StackConfigError);
        assert.equal(e.problems.length, 2, e.problems.join("\n"));
        assert.ok(e.problems.some((p) => p.startsWith("transient-jobs:jobs.broken.volumeGiB: 1")));
        assert.ok(
          e.problems.some((p) =>
            p.startsWith("transient-jobs:jobs.pi.parameters.DURATION_SECONDS"),
          ),
        );
        return true;
      },
    );
  });

  it("measures edit distance", () => {
    assert.deepEqual(
      [
        editDistance("transient-jobs", "transient-job"),
        editDistance("kitten", "sitting"),
        editDistance("", "abc"),
        editDistance("aws", "transient-jobs"),
      ],
      [1, 3, 3, 12],
    );
  });
});
