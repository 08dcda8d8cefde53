import { randomBytes } from "node:crypto";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { InvalidLaunchSpecError } from "../../launcher/errors";
import {
  assertParametersFit,
  BACKSTOP_LATENESS_MINUTES,
  checkScriptSettings,
  renderInitScript,
  shellQuote,
  USER_DATA_MAX_BYTES,
  type InitScriptInput,
  decodeUserData,
  encodeUserData,
} from "../../launcher/initScript";
import { STOP_MARGIN_MINUTES } from "../../launcher/contract";
import { DEFAULT_GRACE_MINUTES } from "../../launcher/reaper";
import { unmeasuredUtilization } from "../../launcher/utilization";
import { ECR_PASSWORD, ROLE_CREDENTIALS } from "../../testing/awsStub";
import { initScriptInputFixture } from "../../testing/fixtures";
import {
  runConcurrently,
  runScript,
  shellcheck,
  withStopAfterSeconds,
  type ScriptRun,
} from "../../testing/scriptHarness";

const IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/transient-jobs-pi:v1";
const DIGEST = `sha256:${"ab".repeat(32)}`;

const input = initScriptInputFixture;

/** 20,000 characters that compress about as little as text can (a parameter the size checks see). */
const ARBITRARY = randomBytes(15_000).toString("base64").slice(0, 20_000);

/** The calls that matter for ordering: everything but clock, polling, IMDS and the sampler's. */
function steps(run: ScriptRun): string[] {
  return run.calls.filter(
    (c) => !/^(curl|date|docker info|docker image|docker stats|docker inspect|sleep)\b/.test(c),
  );
}

/** The utilization of a container that ran while the stubs gave no figures. */
const UNMEASURED = unmeasuredUtilization();

function baseRecord(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    runId: "pi-20261123T0300Z",
    attempt: 1,
    job: "pi",
    environment: "dev",
    scheduledTime: "2026-11-23T03:00:00Z",
    instanceId: "i-0123456789abcdef0",
    instanceType: "m7i.large",
    availabilityZone: "eu-west-1b",
    imageUri: IMAGE,
    region: "eu-west-1",
    purchaseOption: "on-demand",
    logGroup: "/transient-jobs/dev/pi",
    logStream: "pi-20261123T0300Z",
    estimatedCostUsd: null,
    summary: null,
    utilization: UNMEASURED,
    ...overrides,
  };
}

/** Asserts the record and drops its times after checking they are ordered ISO times. */
function recordWithoutTimes(record: Record<string, unknown>): Record<string, unknown> {
  // The timings have their own tests (initScriptReporting.test.ts).
  const { startedAt, endedAt, durationSeconds, timings: _timings, ...rest } = record;
  assert.ok(Number.isInteger(durationSeconds) && (durationSeconds as number) >= 0);
  assert.match(String(startedAt), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.match(String(endedAt), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.ok(String(startedAt) <= String(endedAt));
  return rest;
}

const S3_CP =
  "aws s3 PutObject s3://tj-results-dev-eu-west-1/jobs/pi/runs/pi-20261123T0300Z/attempt-1.json --region eu-west-1 --content-type application/json";
const WATCHDOG = "shutdown -h +120 transient-jobs run pi-20261123T0300Z reached its deadline";
const POWER_OFF = "shutdown -h now";
const DIMENSIONS =
  '[{"Name":"Environment","Value":"dev"},{"Name":"Region","Value":"eu-west-1"},{"Name":"Job","Value":"pi"}]';

/**
 * The PutMetricData request of an attempt (as the AWS stand-in logs it), its duration and
 * overhead written as `<d>` and `<o>`: no RunSucceeded/RunFailed, which the run supervisor puts.
 */
function putMetrics(): string {
  const data = [
    `{"MetricName":"RunDurationSeconds","Dimensions":${DIMENSIONS},"Value":<d>,"Unit":"Seconds"}`,
    `{"MetricName":"RunOverheadSeconds","Dimensions":${DIMENSIONS},"Value":<o>,"Unit":"Seconds"}`,
  ];
  return `aws cloudwatch PutMetricData --region eu-west-1 --namespace TransientJobs --metric-data [${data.join(",")}]`;
}

/** A call with the run's measured duration (0-2 s here) replaced by `<d>`. */
function withoutDuration(call: string): string {
  return call
    .replace(/"RunDurationSeconds"(.*?)"Value":\d+/, '"RunDurationSeconds"$1"Value":<d>')
    .replace(/"RunOverheadSeconds"(.*?)"Value":[\d.]+/, '"RunOverheadSeconds"$1"Value":<o>')
    .replace(/,\{"MetricName":"RunStartLatencySeconds"[^\]]*\][^}]*\}/, "")
    .replace(/Ran for \d+s/, "Ran for <d>s");
}

/** argv of `docker run` for the default input (parameters `{ DIGITS: "10000" }`). */
const DOCKER_RUN_ARGS = [
  "run",
  "--name",
  "tj-pi-20261123T0300Z",
  "--log-driver",
  "awslogs",
  "--log-opt",
  "mode=non-blocking",
  "--log-opt",
  "max-buffer-size=4m",
  "--log-opt",
  "awslogs-region=eu-west-1",
  "--log-opt",
  "awslogs-group=/transient-jobs/dev/pi",
  "--log-opt",
  "awslogs-stream=pi-20261123T0300Z",
  "--env",
  "RUN_ID=pi-20261123T0300Z",
  "--env",
  "RESULTS_BUCKET=tj-results-dev-eu-west-1",
  "--env",
  "RESULTS_PREFIX=jobs/pi/results",
  "--env",
  "CHECKPOINT_URI=s3://tj-results-dev-eu-west-1/jobs/pi/checkpoints/pi-20261123T0300Z/",
  "--env",
  "ATTEMPT=1",
  "--env",
  "AWS_REGION=eu-west-1",
  "--mount",
  "type=bind,source=<sandbox>/scratch,target=/scratch",
  "--env",
  "SCRATCH_DIR=/scratch",
  "--env",
  "DIGITS=10000",
  IMAGE,
];

/** A parameter whose value no shell may expand or split: it reaches the container as written. */
const NOTE = "it's $(reboot) `id`\nsecond line";

/** argv of `docker run` in the successful run, whose parameters add {@link NOTE}. */
const SUCCESS_RUN_ARGS = [...DOCKER_RUN_ARGS.slice(0, -1), "--env", `NOTE=${NOTE}`, IMAGE];

const PUBLIC_IMAGE = "public.ecr.aws/docker/library/busybox:1.36";

/**
 * The script runs the behaviour tests look at, started together before them: each mostly waits on
 * its stubs, and several tests read the same run (the successful one above all).
 */
function scenarios() {
  const script = renderInitScript(input());
  return runConcurrently({
    success: () => runScript(renderInitScript(input({ parameters: { DIGITS: "10000", NOTE } }))),
    // The two that wait for their stop time first, so that they wait while the others run.
    runningAtStopTime: () => runScript(withStopAfterSeconds(script, 4), { runSleepSeconds: 30 }),
    pullingAtStopTime: () =>
      runScript(withStopAfterSeconds(renderInitScript(input({ pullAttempts: 2 })), 0), {
        pullFailures: 99,
      }),
    // Three pairs of independent failures, one run each: the watchdog's and the record's first
    // upload, the container's start and every upload, the image's registry and its first pulls.
    pullRetriedFromPublicRegistry: () =>
      runScript(renderInitScript(input({ imageUri: PUBLIC_IMAGE })), { pullFailures: 2 }),
    pullNever: () => runScript(renderInitScript(input({ pullAttempts: 3 })), { pullFailures: 99 }),
    jobFailed: () => runScript(script, { runExit: 3 }),
    containerNotStartedRecordNever: () => runScript(script, { runExit: 125, s3Failures: 99 }),
    dockerNeverReady: () => runScript(script, { dockerInfoFailures: 99 }),
    noWatchdogRecordRetried: () => runScript(script, { watchdogExit: 1, s3Failures: 1 }),
    terminatedMidJob: () => runScript(script, { runSleepSeconds: 30 }, "docker-run.argv"),
    signalledWhileReporting: () =>
      runScript(script, { s3Seconds: 0.4 }, "record-1.json", ["SIGTERM", "SIGINT", "SIGHUP"]),
    noCredentials: () => runScript(script, { noCredentials: true }),
  });
}

const DEADLINE_RULE =
  "an integer from 10 to 10080: the script stops the job 7 minutes before the deadline to report, and the job needs the rest; raise maxRuntimeMinutes";

/** Every optional part of the script at once: the job's secrets, GPUs, instance store, prices. */
const EVERY_PART: InitScriptInput = input({
  attempt: 3,
  imageUri: `${IMAGE}@${DIGEST}`,
  parameters: {
    QUOTE: "it's",
    SHELL: '$(reboot) `id` $HOME ${PATH} \\ "x"',
    MULTI: "line 1\nline 2",
    EMPTY: "",
  },
  secrets: {
    DB_PASSWORD: "ssm:/backup/db-password",
    API_TOKEN: "secretsmanager:backup/api#token",
    PARTNER_KEY: "arn:aws:secretsmanager:us-east-1:210987654321:secret:partner/key-AbC123#key",
  },
  gpu: true,
  instanceStore: true,
  instancePrices: { "m7i.large/on-demand": 112350, "m7i.large/spot": 40120 },
  volumeMicroUsdPerHour: 4440,
});

/** None of them, and no parameters: what only an optional part uses shows up here as unused. */
const NO_PART: InitScriptInput = input({ imageUri: PUBLIC_IMAGE, parameters: {} });

describe("renderInitScript", () => {
  let runs: ReturnType<typeof scenarios>;
  let lint: { everyPart: ReturnType<typeof shellcheck>; noPart: ReturnType<typeof shellcheck> };
  before(() => {
    // shellcheck takes a second or two of CPU a script: started with the runs, once per script.
    lint = {
      everyPart: shellcheck(renderInitScript(EVERY_PART)),
      noPart: shellcheck(renderInitScript(NO_PART)),
    };
    runs = scenarios();
  });

  describe("static checks", () => {
    const variants: [string, InitScriptInput][] = [
      ["the default input", input()],
      [
        "a later attempt, a digest-pinned image and awkward parameter values",
        input({
          attempt: 3,
          imageUri: `${IMAGE}@${DIGEST}`,
          parameters: EVERY_PART.parameters,
        }),
      ],
      ["a public image and no parameters", NO_PART],
      ["secrets, a GPU, an instance store and a price table", EVERY_PART],
    ];
    for (const [title, variant] of variants) {
      it(`passes bash -n with ${title}`, () => {
        const syntax = spawnSync("bash", ["-n"], {
          input: renderInitScript(variant),
          encoding: "utf8",
        });
        assert.equal(syntax.status, 0, syntax.stderr);
      });
    }

    // The script is static text with optional parts: these two hold each part, and each absence.
    it("passes shellcheck with every optional part, awkward parameter values and a digest-pinned image", async () => {
      assert.deepEqual(await lint.everyPart, { status: 0, output: "" });
    });

    it("passes shellcheck with no optional part, a public image and no parameters", async () => {
      assert.deepEqual(await lint.noPart, { status: 0, output: "" });
    });

    it("single-quotes every inserted value", () => {
      const script = renderInitScript(input({ parameters: { NOTE: "it's $(x)" } }));
      assert.ok(script.includes(`readonly RUN_ID='pi-20261123T0300Z'`));
      assert.ok(
        script.includes(`readonly RECORD_KEY='jobs/pi/runs/pi-20261123T0300Z/attempt-1.json'`),
      );
      assert.ok(
        script.includes(
          `readonly CHECKPOINT_URI='s3://tj-results-dev-eu-west-1/jobs/pi/checkpoints/pi-20261123T0300Z/'`,
        ),
      );
      assert.ok(script.includes(`readonly RESULTS_PREFIX='jobs/pi/results'`));
      assert.ok(
        script.includes(`readonly ECR_REGISTRY='123456789012.dkr.ecr.eu-west-1.amazonaws.com'`),
      );
      assert.ok(script.includes(`readonly ATTEMPT=1`));
      assert.ok(script.includes(`readonly DEADLINE_MINUTES=120`));
      assert.ok(script.includes(`readonly STOP_AFTER_SECONDS=${(120 - STOP_MARGIN_MINUTES) * 60}`));
      assert.ok(script.includes(`  --env 'NOTE=it'\\''s $(x)' \\`));
    });

    it("is deterministic, whatever the order of the parameters", () => {
      assert.equal(
        renderInitScript(input({ parameters: { A: "1", B: "2" } })),
        renderInitScript(input({ parameters: { B: "2", A: "1" } })),
      );
    });
  });

  describe("validation", () => {
    const cases: [string, Partial<InitScriptInput>, string][] = [
      [
        "runId",
        { runId: "pi 1" },
        `initScript.runId: "pi 1" is invalid; it must be letters, digits and hyphens`,
      ],
      [
        "job",
        { job: "Pi" },
        `initScript.job: "Pi" is invalid; it must be 1-24 lowercase letters, digits and "-", starting with a letter`,
      ],
      [
        "region",
        { region: "eu-west-1;" },
        `initScript.region: "eu-west-1;" is invalid; it must be an AWS region such as eu-west-1`,
      ],
      [
        "bucket",
        { bucket: "Bad_Bucket" },
        `initScript.bucket: "Bad_Bucket" is invalid; it must be an S3 bucket name (3-63 lower-case letters, digits, '.' and '-')`,
      ],
      [
        "imageUri without registry",
        { imageUri: "busybox" },
        `initScript.imageUri: "busybox" is invalid; it must be an image reference <registry-host>/<repository>[:tag][@sha256:digest]`,
      ],
      [
        "imageUri with a quote",
        { imageUri: `${IMAGE}'` },
        `initScript.imageUri: "${IMAGE}'" is invalid; it must be an image reference <registry-host>/<repository>[:tag][@sha256:digest]`,
      ],
      [
        "resultsPrefix with a trailing slash",
        { resultsPrefix: "jobs/pi/" },
        `initScript.resultsPrefix: "jobs/pi/" is invalid; it must be S3 key segments of letters, digits, '_', '.' and '-' separated by single '/', without leading or trailing '/'`,
      ],
      [
        "resultsPrefix with ..",
        { resultsPrefix: "jobs/../pi" },
        `initScript.resultsPrefix: "jobs/../pi" is invalid; it must be S3 key segments of letters, digits, '_', '.' and '-' separated by single '/', without leading or trailing '/', and without "." or ".." segments`,
      ],
      [
        "logGroup",
        { logGroup: "/tj/$(x)" },
        `initScript.logGroup: "/tj/$(x)" is invalid; it must be a CloudWatch Logs group name (letters, digits, '_', '-', '/', '.', '#')`,
      ],
      [
        "scheduledTime",
        { scheduledTime: "2026-11-23 03:00" },
        `initScript.scheduledTime: "2026-11-23 03:00" is invalid; it must be an ISO-8601 UTC time such as 2026-11-23T03:00:00Z`,
      ],
      [
        "deadlineMinutes zero",
        { deadlineMinutes: 0 },
        `initScript.deadlineMinutes: 0 is invalid; it must be ${DEADLINE_RULE}`,
      ],
      [
        "deadlineMinutes fractional",
        { deadlineMinutes: 11.5 },
        `initScript.deadlineMinutes: 11.5 is invalid; it must be ${DEADLINE_RULE}`,
      ],
      [
        "deadlineMinutes too short for the stop margin",
        { deadlineMinutes: 9 },
        `initScript.deadlineMinutes: 9 is invalid; it must be ${DEADLINE_RULE}`,
      ],
      [
        "attempt",
        { attempt: 0 },
        `initScript.attempt: 0 is invalid; it must be an integer from 1 to 11`,
      ],
      [
        "checkpointUri",
        { checkpointUri: "s3://other-bucket/jobs/pi/checkpoints/pi-20261123T0300Z/" },
        `initScript.checkpointUri: "s3://other-bucket/jobs/pi/checkpoints/pi-20261123T0300Z/" is invalid; it must be "s3://tj-results-dev-eu-west-1/jobs/pi/checkpoints/pi-20261123T0300Z/": s3://<bucket>/ and RUN_RECORDS.checkpointPrefix of the job's prefix and the run`,
      ],
      [
        "a parameter name",
        { parameters: { lower: "x" } },
        `initScript.parameters.lower: "lower" is invalid; it must be a name matching ^[A-Z_][A-Z0-9_]*$`,
      ],
      [
        "a reserved parameter",
        { parameters: { RUN_ID: "x" } },
        `initScript.parameters.RUN_ID: "RUN_ID" is invalid; it must be a name other than RUN_ID, RESULTS_BUCKET, RESULTS_PREFIX, AWS_REGION, SCRATCH_DIR, CHECKPOINT_URI, ATTEMPT, which the launcher sets itself`,
      ],
      [
        "a non-string parameter",
        { parameters: { N: 3 as unknown as string } },
        `initScript.parameters.N: 3 is invalid; it must be a string`,
      ],
      [
        "a NUL in a parameter",
        { parameters: { N: "a\0b" } },
        `shellQuote: a value contains a NUL character, which no shell word can hold`,
      ],
    ];
    // The run's own values are checked per run; the job's, once at deploy time.
    const perRun = new Set(["runId", "scheduledTime", "attempt", "checkpointUri"]);
    for (const [title, overrides, message] of cases) {
      const check = perRun.has(title) ? "renderInitScript" : "checkScriptSettings";
      it(`rejects ${title} (${check})`, () => {
        const { runId, scheduledTime, ...settings } = input(overrides);
        assert.throws(
          () =>
            perRun.has(title)
              ? renderInitScript({ ...settings, runId, scheduledTime })
              : checkScriptSettings(settings),
          (e: Error) => e instanceof InvalidLaunchSpecError && e.message === message,
        );
      });
    }

    it("accepts the settings of the fixture, so each rejection above is the override's", () => {
      const { runId: _runId, scheduledTime: _time, ...settings } = input({});
      assert.doesNotThrow(() => checkScriptSettings(settings));
    });

    it("keeps a deploy-time value one shell word even unchecked: it cannot run as code", () => {
      const hostile = `b'; touch /tmp/owned; echo '$(id)\``;
      const script = renderInitScript(input({ bucket: hostile, logGroup: "/tj/$(x)" }));
      assert.ok(script.includes(`readonly BUCKET=${shellQuote(hostile)}`));
      const syntax = spawnSync("bash", ["-n"], { input: script });
      assert.equal(syntax.status, 0, String(syntax.stderr));
    });

    it("sends the script gzip-compressed, which cloud-init uncompresses, so repeated text costs little", () => {
      const script = renderInitScript(
        input({ parameters: { BIG: "x".repeat(USER_DATA_MAX_BYTES) } }),
      );
      const sent = encodeUserData(script);
      assert.deepEqual([...sent.subarray(0, 2)], [0x1f, 0x8b]);
      assert.ok(sent.length < script.length / 3, `${sent.length} of ${script.length} bytes`);
      assert.equal(decodeUserData(sent.toString("base64")), script);
      assert.deepEqual(encodeUserData(script), sent, "a retried launch sends the same bytes");
    });

    it("rejects a script over the user data limit", () => {
      assert.throws(
        () =>
          renderInitScript(input({ parameters: { BIG: ARBITRARY.slice(0, USER_DATA_MAX_BYTES) } })),
        /initScript: the rendered script of run pi-20261123T0300Z is \d+ bytes compressed, over the EC2 user data limit of 16384; shorten the job parameters/,
      );
    });

    it("refuses at deploy time the parameters a run's longest values would push over the limit", () => {
      const fit = (length: number) => ({
        job: "pi",
        environment: "prod",
        region: "eu-west-1",
        instanceTypes: ["m7i.large", "c7i.large"],
        parameters: { BIG: ARBITRARY.slice(0, length) },
      });
      const fits = (length: number) => {
        try {
          assertParametersFit(fit(length));
          return true;
        } catch {
          return false;
        }
      };
      let low = 0;
      let high = ARBITRARY.length;
      while (high - low > 1) {
        const mid = Math.floor((low + high) / 2);
        if (fits(mid)) low = mid;
        else high = mid;
      }
      // What fits renders for a real run; one byte more is refused with the renderer's message,
      // although this run's own (shorter) values would still fit: the check keeps room for the rest.
      assert.ok(renderInitScript(input({ parameters: fit(low).parameters })));
      assert.throws(() => assertParametersFit(fit(low + 1)), /shorten the job parameters/);
      assert.ok(renderInitScript(input({ parameters: fit(low + 1).parameters })));
    });

    it("schedules the backstop at the deadline, within the reaper's grace", () => {
      const script = renderInitScript(input({ deadlineMinutes: 10 }));
      assert.ok(script.includes(`readonly DEADLINE_MINUTES=10`));
      assert.ok(script.includes(`readonly STOP_AFTER_SECONDS=180`));
      assert.ok(
        BACKSTOP_LATENESS_MINUTES < DEFAULT_GRACE_MINUTES,
        `the backstop may fire ${BACKSTOP_LATENESS_MINUTES} min after the deadline tag, the reaper acts ${DEFAULT_GRACE_MINUTES} min after it`,
      );
    });

    it("shellQuote round-trips through bash", () => {
      const value = `a'b "c" $(d) \`e\` \\f\n'`;
      const echoed = spawnSync("bash", ["-c", `printf '%s' ${shellQuote(value)}`], {
        encoding: "utf8",
      });
      assert.equal(echoed.stdout, value);
    });
  });

  describe("behaviour under bash with stub commands", function () {
    // Each run is a bash script and tens of processes: seconds apiece on a loaded machine.
    this.timeout(60000);

    it("runs watchdog, login, pull, run, record, power off in that order and records success", async () => {
      const run = await runs.success;
      assert.equal(run.status, 0, run.stderr);
      const [watchdog, ...rest] = steps(run);
      assert.equal(run.calls[0], WATCHDOG);
      assert.equal(watchdog, WATCHDOG);
      // The two sides of the login pipe start together, in either order.
      assert.deepEqual(rest.slice(0, 2), [
        "aws ecr GetAuthorizationToken --region eu-west-1",
        "docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      ]);
      assert.deepEqual(rest.slice(2).map(withoutDuration), [
        `docker pull --quiet ${IMAGE}`,
        `docker ${SUCCESS_RUN_ARGS.join(" ").replace(/\n/g, "\\n")}`,
        "docker logs --tail 1 tj-pi-20261123T0300Z",
        S3_CP,
        putMetrics(),
        POWER_OFF,
      ]);
      assert.deepEqual(run.records.map(recordWithoutTimes), [
        baseRecord({
          status: "succeeded",
          phase: "finished",
          exitCode: 0,
          message: "the job exited with status 0",
          imageDigest: DIGEST,
        }),
      ]);
    });

    it("passes the run's environment and the awslogs driver to docker run, values intact", async () => {
      const run = await runs.success;
      assert.deepEqual(run.dockerRunArgs, SUCCESS_RUN_ARGS);
    });

    it("delivers the job's logs in non-blocking mode, with a bounded buffer", async () => {
      const run = await runs.success;
      const args = run.dockerRunArgs!;
      const logOpts = args.flatMap((a, i) => (args[i - 1] === "--log-opt" ? [a] : []));
      assert.deepEqual(logOpts.slice(0, 2), ["mode=non-blocking", "max-buffer-size=4m"]);
    });

    it("reads only a token and the role's credentials from IMDS before the job, the rest to report", async () => {
      const run = await runs.success;
      const at = run.calls.findIndex((c) => c.startsWith("docker run"));
      const metadata = (calls: string[]) =>
        calls.filter((c) => c.startsWith("curl") && c.includes("169.254.169.254"));
      const items = (calls: string[]) =>
        metadata(calls)
          // One curl may read several items, a URL each.
          .flatMap((c) => [...c.matchAll(/169\.254\.169\.254\/latest\/(\S+)/g)].map((m) => m[1]))
          .filter((item) => !/^meta-data\/(spot|events)\//.test(item)) // the watcher's polls
          .sort();
      const credentials = [
        "meta-data/iam/security-credentials/",
        `meta-data/iam/security-credentials/${ROLE_CREDENTIALS.role}`,
      ];
      assert.deepEqual(items(run.calls.slice(0, at)), ["api/token", ...credentials]);
      // The report may come days later: a new token (6 hours at most) and new credentials.
      assert.deepEqual(
        items(run.calls.slice(at)),
        [
          "api/token",
          "meta-data/../dynamic/instance-identity/document",
          ...credentials,
          "meta-data/instance-life-cycle",
          ...["launch-requested-at", "launch-accepted-at", "instance-launch-time"].map(
            (key) => `meta-data/tags/instance/transient-jobs:${key}`,
          ),
        ].sort(),
      );
      const tokens = metadata(run.calls).map((c) => /token: (TOKEN-\d+)/.exec(c)?.[1]);
      assert.deepEqual([...new Set(tokens.filter(Boolean))].sort(), ["TOKEN-1", "TOKEN-2"]);
    });

    it("retries the pull with a doubling backoff", async () => {
      const run = await runs.pullRetriedFromPublicRegistry;
      const pulls = run.calls.filter((c) => c.startsWith("docker pull"));
      assert.equal(pulls.length, 3);
      // Up to the run: the utilization sampler sleeps between samples too.
      const afterFirstPull = run.calls.slice(
        run.calls.indexOf(pulls[0]),
        run.calls.findIndex((c) => c.startsWith("docker run")),
      );
      assert.deepEqual(
        afterFirstPull
          .filter((c) => c.startsWith("sleep") || c.startsWith("docker pull"))
          .slice(0, 5),
        [pulls[0], "sleep 5", pulls[0], "sleep 10", pulls[0]],
      );
      assert.equal(run.records[0].status, "succeeded");
    });

    it("records a failed run and powers off when the pull never succeeds", async () => {
      const run = await runs.pullNever;
      assert.equal(run.calls.filter((c) => c.startsWith("docker pull")).length, 3);
      assert.equal(
        run.calls.some((c) => c.startsWith("docker run")),
        false,
      );
      assert.deepEqual(steps(run).slice(-3).map(withoutDuration), [S3_CP, putMetrics(), POWER_OFF]);
      assert.deepEqual(run.records.map(recordWithoutTimes), [
        baseRecord({
          status: "failed",
          phase: "pull",
          exitCode: null,
          message: `could not pull ${IMAGE}`,
          imageDigest: null,
          // The container never ran: nothing to measure.
          utilization: null,
        }),
      ]);
    });

    it("records a failed run with the job's exit code and powers off", async () => {
      const run = await runs.jobFailed;
      assert.equal(run.calls.at(-1), POWER_OFF);
      assert.deepEqual(run.records.map(recordWithoutTimes), [
        baseRecord({
          status: "failed",
          phase: "finished",
          exitCode: 3,
          message: "the job exited with status 3",
          imageDigest: DIGEST,
        }),
      ]);
    });

    it("tells a container that could not start from a job that failed", async () => {
      const run = await runs.containerNotStartedRecordNever;
      assert.deepEqual(
        [
          run.records[0].status,
          run.records[0].phase,
          run.records[0].exitCode,
          run.records[0].message,
        ],
        ["failed", "run", 125, "docker run failed with status 125; the container did not start"],
      );
      assert.equal(run.calls.at(-1), POWER_OFF);
    });

    it("gives up on a Docker daemon that never answers, records it and powers off", async () => {
      const run = await runs.dockerNeverReady;
      assert.equal(run.calls.filter((c) => c === "docker info").length, 12);
      assert.equal(
        run.calls.some((c) => c.startsWith("docker pull")),
        false,
      );
      assert.deepEqual(
        [run.records[0].status, run.records[0].phase, run.records[0].message],
        ["failed", "docker", "the Docker daemon did not become ready"],
      );
      assert.equal(run.calls.at(-1), POWER_OFF);
    });

    it("does not run the job when the watchdog cannot be scheduled", async () => {
      const run = await runs.noWatchdogRecordRetried;
      assert.equal(
        run.calls.some((c) => c.startsWith("docker")),
        false,
      );
      assert.deepEqual(
        [run.records[0].status, run.records[0].phase, run.records[0].message],
        ["failed", "watchdog", "could not schedule the power-off at the deadline"],
      );
      assert.equal(run.calls.at(-1), POWER_OFF);
    });

    it("retries writing the record, and notifies nobody: the run supervisor does, once per run", async () => {
      const run = await runs.noWatchdogRecordRetried;
      assert.equal(run.calls.filter((c) => c === S3_CP).length, 2);
      assert.equal(run.records.length, 2);
      assert.equal(run.calls.at(-1), POWER_OFF);
      assert.equal(
        run.calls.some((c) => /sns/.test(c)),
        false,
      );
    });

    it("still powers off when the record can never be written", async () => {
      const run = await runs.containerNotStartedRecordNever;
      assert.equal(run.calls.filter((c) => c === S3_CP).length, 3);
      assert.equal(run.calls.at(-1), POWER_OFF);
      assert.match(run.stderr, /the attempt record could not be written/);
    });

    it("records an interrupted run when shutdown's SIGTERM arrives mid-job", async () => {
      const run = await runs.terminatedMidJob;
      assert.equal(run.calls.at(-1), POWER_OFF);
      assert.deepEqual(
        [run.records[0].status, run.records[0].phase, run.records[0].exitCode],
        ["failed", "run", null],
      );
      assert.equal(
        run.records[0].message,
        "interrupted by SIGTERM during run (deadline reached or instance shutting down)",
      );
    });

    it("stops a job still running at the stop time, records timed-out and reports before powering off", async () => {
      const run = await runs.runningAtStopTime;
      assert.equal(run.status, 0, run.stderr);
      const tail = steps(run).slice(steps(run).findIndex((c) => c.startsWith("docker run")) + 1);
      assert.deepEqual(
        tail.map((c) => c.replace(/ --message .*/, "").replace(/--metric-data .*/, "")),
        [
          "docker stop --time 60 tj-pi-20261123T0300Z",
          "docker wait tj-pi-20261123T0300Z",
          "docker logs --tail 1 tj-pi-20261123T0300Z",
          S3_CP,
          "aws cloudwatch PutMetricData --region eu-west-1 --namespace TransientJobs ",
          POWER_OFF,
        ],
      );
      assert.deepEqual(run.records.map(recordWithoutTimes), [
        baseRecord({
          status: "timed-out",
          phase: "run",
          exitCode: 143,
          message: "still running 7 min before the deadline: stopped, exit status 143",
          imageDigest: DIGEST,
        }),
      ]);
      assert.ok((run.records[0].durationSeconds as number) < 20, "the container was not stopped");
      assert.doesNotMatch(
        run.calls.find((c) => c.startsWith("aws cloudwatch"))!,
        /"Run(Failed|Succeeded)"/,
      );
    });

    it("ends a run still pulling at the stop time as timed-out, without running the job", async () => {
      const run = await runs.pullingAtStopTime;
      assert.equal(
        run.calls.some((c) => c.startsWith("docker run")),
        false,
      );
      assert.deepEqual(
        [run.records[0].status, run.records[0].phase, run.records[0].message],
        ["timed-out", "pull", `still pulling ${IMAGE} at the stop time`],
      );
      assert.deepEqual(steps(run).slice(-3).map(withoutDuration), [S3_CP, putMetrics(), POWER_OFF]);
    });

    it("still reports and powers off when SIGTERM, SIGINT and SIGHUP arrive while the exit handler runs", async () => {
      // One run: any of the three that the handler did not ignore would end it before the report.
      const run = await runs.signalledWhileReporting;
      assert.deepEqual(steps(run).slice(-3).map(withoutDuration), [S3_CP, putMetrics(), POWER_OFF]);
      assert.equal(run.records[0].status, "succeeded");
    });

    it("installs nothing: every AWS call is curl signing with the role's credentials", async () => {
      // Neither aws, dnf nor mdadm is on the harness's PATH: a call to one would fail the run.
      const run = await runs.success;
      assert.equal(run.records[0].status, "succeeded", run.stderr);
      assert.doesNotMatch(run.stderr, /command not found/);
      const api = run.calls.filter((c) => c.startsWith("curl") && c.includes("amazonaws.com"));
      assert.deepEqual(
        api.map((c) => /--aws-sigv4 (\S+)/.exec(c)?.[1]),
        ["aws:amz:eu-west-1:ecr", "aws:amz:eu-west-1:s3", "aws:amz:eu-west-1:monitoring"],
      );
      // The stand-in accepted each, signature and session token checked.
      assert.equal(run.calls.filter((c) => /^aws (ecr|s3|cloudwatch) /.test(c)).length, 3);
      // The credentials reach curl in a file, never on a command line, and the file is gone.
      const everything = [run.calls.join("\n"), run.stderr].join("\n");
      for (const secret of [ROLE_CREDENTIALS.secretAccessKey, ROLE_CREDENTIALS.token]) {
        assert.equal(everything.includes(secret), false);
      }
      assert.deepEqual(run.runtimeFiles, []);
      assert.equal(run.dockerLoginStdin, ECR_PASSWORD);
    });

    it("records a run whose instance has no role credentials as failed at the login", async () => {
      const run = await runs.noCredentials;
      assert.deepEqual(
        [run.records.length, run.calls.at(-1)],
        [0, POWER_OFF],
        "without credentials nothing can be written, but the instance still powers off",
      );
      assert.match(run.stderr, /run failed: could not log in to 123456789012\.dkr\.ecr/);
      assert.match(run.stderr, /no credentials from the instance metadata/);
    });

    it("skips the ECR login for an image from another registry", async () => {
      const run = await runs.pullRetriedFromPublicRegistry;
      assert.equal(
        run.calls.some((c) => c.includes("login")),
        false,
      );
      assert.ok(run.calls.includes(`docker pull --quiet ${PUBLIC_IMAGE}`));
    });
  });
});
