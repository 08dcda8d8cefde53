import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { readStackConfig, StackConfigError } from "../config";
import {
  ParameterFileError,
  parameterProblems,
  parseParameterDeclarations,
} from "../jobParameters";
import { loadStackConfig } from "../offline/engine";

const DEMO = parseParameterDeclarations(
  fs.readFileSync("job-image/parameters.json", "utf8"),
  "job-image/parameters.json",
);
const pi = (parameters: Record<string, string>, maxRuntimeMinutes = 20) => ({
  name: "pi",
  image: "job-image",
  parameters,
  maxRuntimeMinutes,
});

describe("a job's declared parameters", () => {
  it("accepts the demo's parameters within their ranges and the runtime", () => {
    assert.deepEqual(
      parameterProblems(pi({ DURATION_SECONDS: "600", WORKERS: "2" }), DEMO, "transient-jobs"),
      [],
    );
  });

  const refused: Array<[string, Record<string, string>, string]> = [
    [
      "a duration that is not a number",
      { DURATION_SECONDS: "abc" },
      'transient-jobs:jobs.pi.parameters.DURATION_SECONDS: "abc" must be a whole number from 1 to 86400 (job-image/parameters.json: seconds the job computes digits for, before it writes them)',
    ],
    [
      "a fractional worker count",
      { WORKERS: "1.5" },
      'transient-jobs:jobs.pi.parameters.WORKERS: "1.5" must be a whole number from 1 to 1024 (job-image/parameters.json: worker threads; default: one per vCPU of the instance)',
    ],
    [
      "a duration the runtime leaves no room for",
      { DURATION_SECONDS: "601" },
      'transient-jobs:jobs.pi.parameters.DURATION_SECONDS: "601" seconds leave no room within maxRuntimeMinutes 20: at most 600 (the run needs about 10 minutes besides the job: boot, image pull, and the stop 7 minutes before the deadline); lower it or raise maxRuntimeMinutes',
    ],
    [
      "a parameter the job does not declare",
      { DURATION_SECOND: "60" },
      "transient-jobs:jobs.pi.parameters.DURATION_SECOND: is not a parameter of job-image (job-image/parameters.json declares CHECKPOINT_INTERVAL_SECONDS, DURATION_SECONDS, RESULTS_MULTIPART_THRESHOLD_BYTES, WORKERS); check the spelling or declare it there",
    ],
  ];
  for (const [title, parameters, message] of refused) {
    it(`refuses ${title}`, () =>
      assert.deepEqual(parameterProblems(pi(parameters), DEMO, "transient-jobs"), [message]));
  }

  it("refuses a declaration file that is not one, naming the file", () => {
    assert.throws(
      () => parseParameterDeclarations('{"X": {"type": "date"}}', "my-job/parameters.json"),
      (e: unknown) =>
        e instanceof ParameterFileError &&
        /^my-job\/parameters\.json: not a parameter declaration file \(X\.type: /.test(
          (e as Error).message,
        ),
    );
  });
});

describe("readStackConfig with declared parameters", () => {
  for (const stack of ["dev", "prod"]) {
    it(`accepts the committed ${stack} stack`, () => {
      assert.ok(readStackConfig(loadStackConfig(stack), stack).jobs.length > 0);
    });
  }

  it('refuses DURATION_SECONDS "abc" before anything is deployed', () => {
    const all = {
      ...loadStackConfig("dev"),
      "transient-jobs:jobs": JSON.stringify({
        pi: {
          schedule: "cron(0 6 * * ? *)",
          instanceTypes: ["t3.medium"],
          parameters: { DURATION_SECONDS: "abc" },
        },
      }),
    };
    assert.throws(
      () => readStackConfig(all, "dev"),
      (e: unknown) =>
        e instanceof StackConfigError &&
        e.problems.length === 1 &&
        e.problems[0].startsWith(
          'transient-jobs:jobs.pi.parameters.DURATION_SECONDS: "abc" must be a whole number',
        ),
    );
  });

  it("checks nothing for an image that declares nothing", () => {
    const config = readStackConfig(loadStackConfig("dev"), "dev", () => undefined);
    assert.equal(config.jobs[0].name, "pi");
  });
});
