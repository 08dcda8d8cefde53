import * as assert from "node:assert/strict";
import { parseStackConfig, RawStackConfig, StackConfigError } from "../config";

const withRetries = (runRetries: unknown): RawStackConfig => ({
  regions: ["eu-west-1"],
  jobs: { pi: { schedule: "cron(0 6 * * ? *)", instanceTypes: ["t3.medium"], runRetries } },
});

function problemsOf(raw: RawStackConfig): string[] {
  try {
    parseStackConfig(raw, "dev");
  } catch (error) {
    assert.ok(error instanceof StackConfigError, String(error));
    return error.problems;
  }
  assert.fail("config was accepted");
}

describe("config: runRetries", () => {
  it("takes a policy as given, and fills in what it leaves out", () => {
    const [job] = parseStackConfig(
      withRetries({ attempts: 4, on: ["failed"], exitCodes: [3, 137] }),
      "dev",
    ).jobs;
    assert.deepEqual(job.runRetries, {
      attempts: 4,
      on: ["failed"],
      exitCodes: [3, 137],
      backoffMinutes: 1,
    });
    const [none] = parseStackConfig(withRetries({ attempts: 0 }), "dev").jobs;
    assert.deepEqual(none.runRetries, {
      attempts: 0,
      on: ["interrupted", "lost", "failed"],
      backoffMinutes: 1,
    });
  });

  const key = "transient-jobs:jobs.pi.runRetries";
  const cases: [string, unknown, string][] = [
    [
      "too many attempts",
      { attempts: 11 },
      `${key}.attempts: 11 must be from 0 to 10 (new attempts after the first)`,
    ],
    [
      "negative attempts",
      { attempts: -1 },
      `${key}.attempts: -1 must be from 0 to 10 (new attempts after the first)`,
    ],
    ["fractional attempts", { attempts: 1.5 }, `${key}.attempts: 1.5 must be a whole number`],
    [
      "an unknown reason",
      { on: ["interrupted", "timed-out"] },
      `${key}.on[1]: "timed-out" is not a retry reason; use interrupted, lost, failed`,
    ],
    ["a reason twice", { on: ["lost", "lost"] }, `${key}.on: ["lost","lost"] lists a reason twice`],
    [
      "exit code 0",
      { exitCodes: [0] },
      `${key}.exitCodes[0]: 0 must be an exit code from 1 to 255 (0 is success)`,
    ],
    [
      "exit code above 255",
      { exitCodes: [256] },
      `${key}.exitCodes[0]: 256 must be an exit code from 1 to 255 (0 is success)`,
    ],
    [
      "no exit codes",
      { exitCodes: [] },
      `${key}.exitCodes: [] must list at least one exit code from 1 to 255, or be left out (any non-zero)`,
    ],
    [
      "exit codes without failed",
      { on: ["lost"], exitCodes: [2] },
      `${key}.exitCodes: [2] only applies to failed attempts: add "failed" to runRetries.on or remove exitCodes`,
    ],
    [
      "a backoff over a day",
      { backoffMinutes: 1441 },
      `${key}.backoffMinutes: 1441 must be from 0 to 1440 minutes`,
    ],
    [
      "an unknown key",
      { attempt: 3 },
      `${key}: unknown key(s) "attempt"; check the spelling against Pulumi.yaml`,
    ],
  ];
  for (const [what, runRetries, problem] of cases) {
    it(`refuses ${what}, naming the field, the value and what is allowed`, () => {
      assert.deepEqual(problemsOf(withRetries(runRetries)), [problem]);
    });
  }
});
