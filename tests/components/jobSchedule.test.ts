/**
 * JobSchedule's deploy-time warnings: `pulumi up` says which runs a DST transition of the job's
 * zone skips or runs once, for the expression Scheduler is given (after the region's offset).
 * Asserted for whatever regions and jobs the committed config has: any valid config must pass.
 */
import * as assert from "node:assert/strict";
import { jobsForRegion, type StackConfig } from "../../config";
import {
  dstWarningsForYear,
  formatDstWarning,
  offsetSchedule,
  parseScheduleExpression,
} from "../../lib/scheduleExpression";
import { evaluatedStack } from "../../testing/evaluations";

/** The DST warnings `config` must produce: one set per region and job, after the offset. */
function expectedDstWarnings(config: StackConfig, from: Date): string[] {
  return config.regions.flatMap((region) =>
    jobsForRegion(config, region).flatMap((job) => {
      const expression = offsetSchedule(job.schedule, region.scheduleOffsetMinutes);
      return dstWarningsForYear(parseScheduleExpression(expression), job.timezone, from).map(
        (warning) => formatDstWarning(job.name, expression, job.timezone, warning),
      );
    }),
  );
}

for (const stack of ["dev", "prod"]) {
  describe(`JobSchedule under mocks: DST warnings of stack ${stack}`, function () {
    this.timeout(60000);
    let warnings: string[];
    let config: StackConfig;

    before(async () => {
      ({ warnings, config } = await evaluatedStack(stack));
    });

    it("warns, per region and job, of every run DST skips or runs once in the next year", () => {
      const dst = warnings.filter((w) => /clocks go forward|occurs twice/.test(w)).sort();
      assert.deepEqual(dst, expectedDstWarnings(config, new Date()).sort());
      // Every warning names a job of the stack and the zone its cron is read in.
      for (const line of dst) {
        const job = config.jobs.find((j) => line.startsWith(`${j.name}: `));
        assert.ok(job, `warning of an unknown job: ${line}`);
        assert.ok(line.includes(` in ${job.timezone} `), line);
        assert.notEqual(job.timezone, "UTC", `UTC has no DST: ${line}`);
      }
    });
  });
}
