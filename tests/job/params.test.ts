import * as assert from "node:assert/strict";
import {
  defaultRunId,
  JobParams,
  ParamError,
  parseInvocation,
  USAGE,
  workersWarning,
} from "../../job-image/src/params";

const context = { cpus: 4, now: new Date("2026-11-23T03:04:05.678Z") };
const S3_ENV = {
  RESULTS_BUCKET: "tj-results-eu-west-1",
  RESULTS_PREFIX: "jobs/pi/results",
  RUN_ID: "pi-20261123T0300Z",
  AWS_REGION: "eu-west-1",
};

function params(env: Record<string, string>, argv: string[] = []): JobParams {
  const invocation = parseInvocation(env, argv, context);
  assert.equal(invocation.kind, "run");
  return (invocation as { params: JobParams }).params;
}

function problems(env: Record<string, string>, argv: string[] = []): string[] {
  try {
    parseInvocation(env, argv, context);
  } catch (error) {
    assert.ok(error instanceof ParamError, `expected ParamError, got ${String(error)}`);
    assert.match(error.message, /^invalid parameters:\n {2}/);
    return error.problems;
  }
  assert.fail("expected a ParamError");
}

describe("job parameters", () => {
  it("defaults to 10 s, one thread per CPU and ./results/local-<UTC time>", () => {
    assert.deepEqual(params({}), {
      durationSeconds: 10,
      runId: "local-20261123T030405Z",
      workers: 4,
      output: { kind: "local", dir: "results", overwrite: false },
      checkpointIntervalSeconds: 300,
    });
    assert.equal(defaultRunId(new Date("2027-01-02T23:59:59.999Z")), "local-20270102T235959Z");
  });

  it("reads S3 output from the variables the init script sets", () => {
    assert.deepEqual(params({ ...S3_ENV, DURATION_SECONDS: "300", WORKERS: "8" }), {
      durationSeconds: 300,
      runId: "pi-20261123T0300Z",
      workers: 8,
      output: {
        kind: "s3",
        bucket: "tj-results-eu-west-1",
        prefix: "jobs/pi/results",
        region: "eu-west-1",
        multipartThresholdBytes: 8 * 1024 * 1024,
      },
      checkpointIntervalSeconds: 300,
    });
    const lowered = params({ ...S3_ENV, RESULTS_MULTIPART_THRESHOLD_BYTES: "1024" });
    assert.deepEqual(lowered.output, { ...params(S3_ENV).output, multipartThresholdBytes: 1024 });
    const { RESULTS_PREFIX: _, ...withoutPrefix } = S3_ENV;
    assert.equal((params(withoutPrefix).output as { prefix: string }).prefix, "results");
  });

  it("maps flags to the variables, flags winning, in both spellings", () => {
    const env = { DURATION_SECONDS: "60", WORKERS: "3" };
    assert.deepEqual(
      params(env, ["--duration", "5", "--workers=1", "--out", "/tmp/x", "--run-id=r1"]),
      {
        durationSeconds: 5,
        runId: "r1",
        workers: 1,
        output: { kind: "local", dir: "/tmp/x", overwrite: false },
        checkpointIntervalSeconds: 300,
      },
    );
    assert.equal(params(env).durationSeconds, 60);
  });

  it("reads the checkpoint location the init script passes, or a folder given with --checkpoint", () => {
    const uri = "s3://tj-results-eu-west-1/jobs/pi/checkpoints/pi-20261123T0300Z/";
    const s3 = params({ ...S3_ENV, CHECKPOINT_URI: uri, CHECKPOINT_INTERVAL_SECONDS: "60" });
    assert.deepEqual(s3.checkpoint, {
      kind: "s3",
      bucket: "tj-results-eu-west-1",
      prefix: "jobs/pi/checkpoints/pi-20261123T0300Z",
    });
    assert.equal(s3.checkpointIntervalSeconds, 60);
    assert.deepEqual(params({}, ["--run-id", "r1", "--checkpoint", "cp/r1"]).checkpoint, {
      kind: "local",
      dir: "cp/r1",
    });
    assert.deepEqual(params({ RUN_ID: "r1", CHECKPOINT_URI: "file:///var/cp%20x/" }).checkpoint, {
      kind: "local",
      dir: "/var/cp x/",
    });
    assert.equal(params({}).checkpoint, undefined);
  });

  it("treats empty variables as unset", () => {
    assert.deepEqual(params({ DURATION_SECONDS: "", RESULTS_BUCKET: "", WORKERS: "" }), params({}));
  });

  it("answers --help and -h without validating anything else", () => {
    assert.deepEqual(parseInvocation({ WORKERS: "zero" }, ["--help"], context), { kind: "help" });
    assert.deepEqual(parseInvocation({}, ["-h"], context), { kind: "help" });
  });

  const rejected: [string, Record<string, string>, string[], string[]][] = [
    [
      "a duration that is not a number",
      { DURATION_SECONDS: "ten" },
      [],
      [
        'DURATION_SECONDS: "ten" is not a whole number of seconds from 1 to 86400; use e.g. DURATION_SECONDS=10',
      ],
    ],
    [
      "a zero duration given as a flag, named as the flag",
      {},
      ["--duration", "0"],
      ['--duration: "0" is not a whole number of seconds from 1 to 86400; use e.g. --duration 10'],
    ],
    [
      "a fractional or too long duration",
      { DURATION_SECONDS: "2.5" },
      ["--workers", "1025"],
      [
        'DURATION_SECONDS: "2.5" is not a whole number of seconds from 1 to 86400; use e.g. DURATION_SECONDS=10',
        '--workers: "1025" is not a whole number of threads from 1 to 1024; use e.g. --workers 2',
      ],
    ],
    [
      "zero workers",
      { WORKERS: "0" },
      [],
      ['WORKERS: "0" is not a whole number of threads from 1 to 1024; use e.g. WORKERS=2'],
    ],
    [
      "an unknown flag and a flag without value",
      {},
      ["--verbose", "--duration"],
      [
        '"--verbose" is not an option; use one of --duration, --workers, --out, --run-id, --checkpoint (see --help)',
        "--duration needs a value, e.g. --duration 10",
      ],
    ],
    [
      "a flag followed by another flag instead of its value",
      {},
      ["--out", "--workers", "2"],
      ["--out needs a value, e.g. --out results"],
    ],
    [
      "a run id that could escape its folder",
      { RUN_ID: "../etc" },
      [],
      [
        'RUN_ID: "../etc" is not a valid run id; use 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit (e.g. pi-20261123T0300Z)',
      ],
    ],
    [
      "an invalid bucket and region",
      { ...S3_ENV, RESULTS_BUCKET: "My_Bucket", AWS_REGION: "Europe" },
      [],
      [
        'AWS_REGION: "Europe" is not an AWS region name; use e.g. eu-west-1',
        'RESULTS_BUCKET: "My_Bucket" is not an S3 bucket name; use 3 to 63 lowercase letters, digits, "." or "-", starting and ending with a letter or digit',
      ],
    ],
    [
      "a bucket without region and run id",
      { RESULTS_BUCKET: "tj-results" },
      [],
      [
        "AWS_REGION: not set but RESULTS_BUCKET is; set AWS_REGION to the bucket's region (e.g. eu-west-1)",
        "RUN_ID: not set but RESULTS_BUCKET is; the launcher sets it on every run (e.g. RUN_ID=pi-20261123T0300Z)",
      ],
    ],
    [
      "a local folder together with a bucket",
      S3_ENV,
      ["--out", "here"],
      [
        "--out: a local folder cannot be used with RESULTS_BUCKET; unset RESULTS_BUCKET to write locally, or drop --out",
      ],
    ],
    [
      "S3-only settings without a bucket",
      { RESULTS_PREFIX: "jobs/pi", RESULTS_MULTIPART_THRESHOLD_BYTES: "5" },
      [],
      [
        "RESULTS_PREFIX: applies only to S3 output but RESULTS_BUCKET is not set; set RESULTS_BUCKET or unset RESULTS_PREFIX",
        "RESULTS_MULTIPART_THRESHOLD_BYTES: applies only to S3 output but RESULTS_BUCKET is not set; set RESULTS_BUCKET or unset RESULTS_MULTIPART_THRESHOLD_BYTES",
      ],
    ],
    [
      "a checkpoint in another scheme, without a run id",
      { CHECKPOINT_URI: "https://example.com/cp/" },
      [],
      [
        'CHECKPOINT_URI: "https://example.com/cp/" is neither s3://, file:/// nor a folder path; use e.g. s3://tj-results/jobs/pi/checkpoints/pi-test-1/ or checkpoints/pi-test-1',
        "CHECKPOINT_URI: a checkpoint is resumed by the run with the same id, but RUN_ID is not set; set RUN_ID (or --run-id), e.g. --run-id pi-test-1",
      ],
    ],
    [
      "an S3 checkpoint with a bad bucket name, and a zero interval",
      { RUN_ID: "r1", CHECKPOINT_URI: "s3://Bad_Bucket/cp/", CHECKPOINT_INTERVAL_SECONDS: "0" },
      [],
      [
        'CHECKPOINT_URI: "s3://Bad_Bucket/cp/" is not an S3 location; use s3://<bucket>/<prefix>/ with a bucket name of 3 to 63 lowercase letters, digits, "." or "-" and "/"-separated key segments (e.g. s3://tj-results/jobs/pi/checkpoints/pi-20261123T0300Z/)',
        'CHECKPOINT_INTERVAL_SECONDS: "0" is not a whole number of seconds from 1 to 86400; use e.g. CHECKPOINT_INTERVAL_SECONDS=300',
      ],
    ],
    [
      "an S3 checkpoint without a region",
      { RUN_ID: "r1", CHECKPOINT_URI: "s3://tj-results/cp/" },
      [],
      [
        "CHECKPOINT_URI: an S3 checkpoint needs AWS_REGION; set AWS_REGION to the bucket's region (e.g. eu-west-1)",
      ],
    ],
    [
      "a zero multipart threshold",
      { ...S3_ENV, RESULTS_MULTIPART_THRESHOLD_BYTES: "0" },
      [],
      [
        'RESULTS_MULTIPART_THRESHOLD_BYTES: "0" is not a whole number of bytes from 1 to 5368709120; use e.g. RESULTS_MULTIPART_THRESHOLD_BYTES=8388608',
      ],
    ],
  ];
  for (const [label, env, argv, expected] of rejected) {
    it(`rejects ${label}`, () => assert.deepEqual(problems(env, argv), expected));
  }

  for (const prefix of ["/jobs/pi", "jobs/pi/", "jobs//pi", "jobs/../pi", "jobs/pi results", "."]) {
    it(`rejects the prefix ${JSON.stringify(prefix)}`, () => {
      const [problem, ...others] = problems({ ...S3_ENV, RESULTS_PREFIX: prefix });
      assert.deepEqual(others, []);
      assert.ok(
        problem.startsWith(`RESULTS_PREFIX: ${JSON.stringify(prefix)} is not a key prefix;`),
      );
    });
  }

  for (const region of ["us-east-1", "ap-southeast-5", "us-gov-west-1", "eu-central-2"]) {
    it(`accepts the region ${region}`, () =>
      assert.equal(
        (params({ ...S3_ENV, AWS_REGION: region }).output as { region: string }).region,
        region,
      ));
  }
});

describe("job command line as npm passes it", () => {
  it("says to put -- before the options when npm took them for itself", () => {
    // `npm run job --duration 10 --workers 2`: npm keeps the flags and passes the values on.
    assert.deepEqual(
      problems({ npm_config_duration: "true", npm_config_workers: "true" }, ["10", "2"]),
      [
        `npm took --duration, --workers for itself and passed on only "10" "2": put "--" before the job's options, e.g. npm run job -- --duration 10`,
      ],
    );
  });

  it("runs as usual when the options came after --", () => {
    assert.equal(params({}, ["--duration", "5"]).durationSeconds, 5);
  });

  it("shows the command a user types in its help", () => {
    assert.match(USAGE, /^Usage: npm run job -- \[--duration SECONDS\]/);
    assert.match(USAGE, /--overwrite/);
  });

  it("refuses to overwrite a local run's results unless --overwrite is given", () => {
    assert.equal((params({}).output as { overwrite: boolean }).overwrite, false);
    assert.equal((params({}, ["--overwrite"]).output as { overwrite: boolean }).overwrite, true);
  });

  it("warns when more worker threads than cores are asked for", () => {
    assert.equal(workersWarning(4, 4), undefined);
    assert.equal(
      workersWarning(8, 2),
      "--workers 8 is more than the 2 core(s) of this machine; the extra threads share cores and make each step slower, not faster",
    );
  });
});
