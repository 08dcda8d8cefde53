import * as assert from "node:assert/strict";
import {
  nextRunTimes,
  offsetSchedule,
  parseScheduleExpression,
} from "../../lib/scheduleExpression";

describe("offsetSchedule", () => {
  const shifted: Array<[string, number, string]> = [
    ["cron(30 2 * * ? *)", 15, "cron(45 2 * * ? *)"],
    ["cron(0 6 * * ? *)", 0, "cron(0 6 * * ? *)"],
    // Carries into the next hour, keeping the days.
    ["cron(45 9 ? * MON-FRI *)", 20, "cron(5 10 ? * MON-FRI *)"],
    ["cron(40 8-17 ? * MON-FRI *)", 30, "cron(10 9-18 ? * MON-FRI *)"],
    ["cron(0 8-17 ? * MON-FRI *)", 30, "cron(30 8-17 ? * MON-FRI *)"],
    ["cron(30 0/6 * * ? *)", 45, "cron(15 1/6 * * ? *)"],
    ["cron(0 0/6 * * ? *)", 59, "cron(59 0/6 * * ? *)"],
    ["cron(0/20 * * * ? *)", 15, "cron(15/20 * * * ? *)"],
    // Every hour: the run carried out of one hour is the next hour's first run.
    ["cron(0/15 * * * ? *)", 20, "cron(5/15 * * * ? *)"],
    ["cron(0,20 14 * * ? *)", 10, "cron(10,30 14 * * ? *)"],
    ["cron(0/10 6 * * ? *)", 5, "cron(5/10 6 * * ? *)"],
    ["cron(0-20/10 6 * * ? *)", 5, "cron(5-25/10 6 * * ? *)"],
    // Past midnight is exact when the schedule runs every day.
    ["cron(50 23 * * ? *)", 15, "cron(5 0 * * ? *)"],
    ["cron(50 * * * ? *)", 15, "cron(5 * * * ? *)"],
    ["cron(0 10 1 JAN ? 2027-2028)", 5, "cron(5 10 1 JAN ? 2027-2028)"],
    ["cron(0 12 ? * 6#3 *)", 10, "cron(10 12 ? * 6#3 *)"],
    // Hours that wrap midnight keep their text when the hours do not change.
    ["cron(0/30 20-2 ? * MON-FRI *)", 15, "cron(15,45 20-2 ? * MON-FRI *)"],
    ["cron(40 22-1 * * ? *)", 30, "cron(10 0,1,2,23 * * ? *)"],
    // A rate has no phase to shift (Scheduler counts it from the schedule's creation).
    ["rate(1 hour)", 15, "rate(1 hour)"],
  ];
  for (const [expression, minutes, expected] of shifted) {
    it(`shifts ${expression} by ${minutes} to ${expected}`, () =>
      assert.equal(offsetSchedule(expression, minutes), expected));
  }

  const rejected: Array<[string, number, RegExp]> = [
    ["cron(0,30 6 * * ? *)", 45, /some runs into the next hour and not others/],
    ["cron(0/15 6 * * ? *)", 20, /some runs into the next hour and not others/],
    ["cron(50 23 ? * MON-FRI *)", 15, /past midnight/],
    ["cron(50 * ? * MON-FRI *)", 15, /past midnight/],
    ["cron(50 23 L * ? *)", 15, /past midnight/],
    ["cron(50 23 * JAN ? *)", 15, /past midnight/],
    ["cron(50 23 * * ? 2027)", 15, /past midnight/],
    ["cron(0 6 * * ? *)", 60, /offset 60 is not a whole number of minutes from 0 to 59/],
    ["cron(0 6 * * ? *)", -1, /offset -1 is not/],
    ["cron(0 6 * * ? *)", 1.5, /offset 1.5 is not/],
    ["cron(0 6 * * * *)", 5, /exactly one of day-of-month/],
  ];
  for (const [expression, minutes, message] of rejected) {
    it(`rejects ${expression} shifted by ${minutes}`, () =>
      assert.throws(() => offsetSchedule(expression, minutes), message));
  }

  it("fires exactly `minutes` after every run of the original schedule", () => {
    const from = new Date("2026-11-20T00:00:00Z");
    const cases: Array<[string, number, string]> = [
      ["cron(45 9 ? * MON-FRI *)", 20, "UTC"],
      ["cron(40 8-17 ? * MON-FRI *)", 30, "UTC"],
      ["cron(30 0/6 * * ? *)", 45, "Europe/Paris"],
      ["cron(0/20 * * * ? *)", 15, "UTC"],
      ["cron(0/15 * * * ? *)", 20, "UTC"],
      ["cron(50 23 * * ? *)", 15, "America/New_York"],
      ["cron(50 * * * ? *)", 15, "UTC"],
      ["cron(0-20/10 6 * * ? *)", 5, "UTC"],
      ["cron(40 22-1 * * ? *)", 30, "UTC"],
    ];
    for (const [expression, minutes, timezone] of cases) {
      const original = nextRunTimes(parseScheduleExpression(expression), timezone, from, 60);
      const later = nextRunTimes(
        parseScheduleExpression(offsetSchedule(expression, minutes)),
        timezone,
        new Date(from.getTime() + minutes * 60_000),
        60,
      );
      assert.deepEqual(
        later.map((d) => d.toISOString()),
        original.map((d) => new Date(d.getTime() + minutes * 60_000).toISOString()),
        expression,
      );
    }
  });
});
