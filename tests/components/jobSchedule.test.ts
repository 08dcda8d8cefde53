/**
 * JobSchedule's deploy-time warnings: `pulumi up` says which runs a DST transition of the job's
 * zone skips or runs once, for the expression Scheduler is given (after the region's offset).
 */
import * as assert from "node:assert/strict";
import { evaluatedStack } from "../../testing/evaluations";

describe("JobSchedule under mocks: DST warnings of stack prod", function () {
  this.timeout(60000);
  let warnings: string[];

  before(async () => {
    ({ warnings } = await evaluatedStack("prod"));
  });

  it("warns, per region, that nightly-pi is skipped once and runs once a year", () => {
    // Pulumi.prod.yaml: 02:30 Europe/Paris; us-east-1 runs 15 minutes later.
    const dst = warnings.filter((w) => /clocks go forward|occurs twice/.test(w)).sort();
    const date = "\\d{4}-\\d\\d-\\d\\d";
    const expected = [
      new RegExp(
        `^nightly-pi: cron\\(30 2 \\* \\* \\? \\*\\) in Europe/Paris is skipped on ${date} \\(02:30 does not exist: clocks go forward\\)$`,
      ),
      new RegExp(
        `^nightly-pi: cron\\(30 2 \\* \\* \\? \\*\\) in Europe/Paris runs once on ${date} \\(02:30 occurs twice: runs at the first\\)$`,
      ),
      new RegExp(
        `^nightly-pi: cron\\(45 2 \\* \\* \\? \\*\\) in Europe/Paris is skipped on ${date} \\(02:45 does not exist: clocks go forward\\)$`,
      ),
      new RegExp(
        `^nightly-pi: cron\\(45 2 \\* \\* \\? \\*\\) in Europe/Paris runs once on ${date} \\(02:45 occurs twice: runs at the first\\)$`,
      ),
    ];
    assert.equal(dst.length, expected.length, dst.join("\n"));
    for (const pattern of expected) {
      assert.ok(
        dst.some((w) => pattern.test(w)),
        `no warning matches ${pattern}:\n${dst.join("\n")}`,
      );
    }
    // hourly-pi is a rate in UTC: nothing to say.
    assert.ok(!warnings.some((w) => w.startsWith("hourly-pi:")), warnings.join("\n"));
  });
});
