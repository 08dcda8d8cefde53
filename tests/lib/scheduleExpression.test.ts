import * as assert from "node:assert/strict";
import {
  dstWarnings,
  dstWarningsForYear,
  formatDstWarning,
  isValidTimezone,
  nextRunTimes,
  parseScheduleExpression,
  schedulePeriodMinutes,
} from "../../lib/scheduleExpression";

const iso = (dates: Date[]) => dates.map((d) => d.toISOString().replace(":00.000Z", "Z"));

describe("nextRunTimes", () => {
  const table: Array<[string, string, string, string[]]> = [
    [
      "cron(0 6 * * ? *)",
      "Europe/Dublin",
      "2026-11-23T12:00:00Z",
      ["2026-11-24T06:00Z", "2026-11-25T06:00Z", "2026-11-26T06:00Z"],
    ],
    [
      "cron(0 6 * * ? *)",
      "America/New_York",
      "2026-11-23T12:00:00Z",
      ["2026-11-24T11:00Z", "2026-11-25T11:00Z", "2026-11-26T11:00Z"],
    ],
    [
      // 02:30 does not exist in Paris on 2026-03-29 (clocks jump from 02:00 to 03:00): Scheduler
      // skips that run rather than moving it to 03:30.
      "cron(30 2 * * ? *)",
      "Europe/Paris",
      "2026-03-27T12:00:00Z",
      ["2026-03-28T01:30Z", "2026-03-30T00:30Z", "2026-03-31T00:30Z"],
    ],
    [
      "rate(1 hour)",
      "UTC",
      "2026-11-23T12:07:00Z",
      ["2026-11-23T13:07Z", "2026-11-23T14:07Z", "2026-11-23T15:07Z"],
    ],
    [
      "rate(15 minutes)",
      "UTC",
      "2026-11-23T12:00:00Z",
      ["2026-11-23T12:15Z", "2026-11-23T12:30Z", "2026-11-23T12:45Z"],
    ],
    [
      "cron(0 9 ? * MON-FRI *)",
      "UTC",
      "2026-11-27T10:00:00Z",
      ["2026-11-30T09:00Z", "2026-12-01T09:00Z", "2026-12-02T09:00Z"],
    ],
    [
      "cron(0 0 L * ? *)",
      "UTC",
      "2026-02-01T00:00:00Z",
      ["2026-02-28T00:00Z", "2026-03-31T00:00Z", "2026-04-30T00:00Z"],
    ],
    [
      "cron(0 12 ? * 6#3 *)",
      "UTC",
      "2026-11-01T00:00:00Z",
      ["2026-11-20T12:00Z", "2026-12-18T12:00Z", "2027-01-15T12:00Z"],
    ],
    [
      "cron(0 8 15W * ? *)",
      "UTC",
      "2026-08-01T00:00:00Z",
      ["2026-08-14T08:00Z", "2026-09-15T08:00Z", "2026-10-15T08:00Z"],
    ],
    [
      "cron(0/20 14 * * ? *)",
      "UTC",
      "2026-11-23T14:10:00Z",
      ["2026-11-23T14:20Z", "2026-11-23T14:40Z", "2026-11-24T14:00Z"],
    ],
    [
      "cron(0 10 1 JAN ? 2027-2028)",
      "UTC",
      "2026-11-23T00:00:00Z",
      ["2027-01-01T10:00Z", "2028-01-01T10:00Z"],
    ],
    // Scheduler's daylight saving rules: a time clocks jump over is skipped, a time they go
    // back over runs once, at its first occurrence (in the offset before the change).
    [
      // Paris goes back from 03:00 CEST to 02:00 CET on 2026-10-25: 02:30 CEST is 00:30 UTC.
      "cron(30 2 * * ? *)",
      "Europe/Paris",
      "2026-10-24T12:00:00Z",
      ["2026-10-25T00:30Z", "2026-10-26T01:30Z", "2026-10-27T01:30Z"],
    ],
    [
      // West of UTC: New York goes back from 02:00 EDT to 01:00 EST on 2026-11-01.
      "cron(30 1 * * ? *)",
      "America/New_York",
      "2026-10-31T12:00:00Z",
      ["2026-11-01T05:30Z", "2026-11-02T06:30Z", "2026-11-03T06:30Z"],
    ],
    [
      // New York jumps from 02:00 EST to 03:00 EDT on 2026-03-08.
      "cron(30 2 * * ? *)",
      "America/New_York",
      "2026-03-07T12:00:00Z",
      ["2026-03-09T06:30Z", "2026-03-10T06:30Z", "2026-03-11T06:30Z"],
    ],
    [
      // Every 20 minutes through Paris' repeated hour: 02:00, 02:20 and 02:40 run in CEST only.
      "cron(0/20 2-3 * * ? *)",
      "Europe/Paris",
      "2026-10-24T23:30:00Z",
      ["2026-10-25T00:00Z", "2026-10-25T00:20Z", "2026-10-25T00:40Z"],
    ],
    [
      // Lord Howe Island moves by 30 minutes: 02:00 to 02:30 on 2026-10-04 (+10:30 to +11).
      "cron(15 2 * * ? *)",
      "Australia/Lord_Howe",
      "2026-10-02T12:00:00Z",
      ["2026-10-02T15:45Z", "2026-10-04T15:15Z", "2026-10-05T15:15Z"],
    ],
    [
      // ... and back from 02:00 to 01:30 on 2026-04-05: 01:45 runs at +11, not +10:30.
      "cron(45 1 * * ? *)",
      "Australia/Lord_Howe",
      "2026-04-03T12:00:00Z",
      ["2026-04-03T14:45Z", "2026-04-04T14:45Z", "2026-04-05T15:15Z"],
    ],
    [
      // Chatham (+12:45, +13:45 in summer) jumps from 02:45 to 03:45 on 2026-09-27.
      "cron(0 3 * * ? *)",
      "Pacific/Chatham",
      "2026-09-25T12:00:00Z",
      ["2026-09-25T14:15Z", "2026-09-27T13:15Z", "2026-09-28T13:15Z"],
    ],
    [
      // ... and back from 03:45 to 02:45 on 2026-04-05: 03:00 runs at +13:45.
      "cron(0 3 * * ? *)",
      "Pacific/Chatham",
      "2026-04-03T12:00:00Z",
      ["2026-04-03T13:15Z", "2026-04-04T13:15Z", "2026-04-05T14:15Z"],
    ],
    [
      // AWS's example: every 30 minutes from 22:00 to 02:00 the next morning, Monday to Friday
      // (the day fields apply to each run's own day, so Saturday morning has no runs).
      "cron(0/30 22-1 ? * MON-FRI *)",
      "UTC",
      "2026-11-20T23:15:00Z",
      ["2026-11-20T23:30Z", "2026-11-23T00:00Z", "2026-11-23T00:30Z"],
    ],
    [
      // A wrapping range keeps its step across midnight: 22, 0, 2.
      "cron(0 22-3/2 * * ? *)",
      "UTC",
      "2026-11-20T21:00:00Z",
      ["2026-11-20T22:00Z", "2026-11-21T00:00Z", "2026-11-21T02:00Z"],
    ],
    [
      // Leap days only: 12 years for three runs.
      "cron(0 12 29 FEB ? *)",
      "UTC",
      "2026-01-01T00:00:00Z",
      ["2028-02-29T12:00Z", "2032-02-29T12:00Z", "2036-02-29T12:00Z"],
    ],
    [
      // One run, 73 years ahead, midnight in Paris; nothing after it.
      "cron(0 0 1 1 ? 2099)",
      "Europe/Paris",
      "2026-01-01T00:00:00Z",
      ["2098-12-31T23:00Z"],
    ],
    [
      "rate(1 days)",
      "UTC",
      "2026-11-23T12:00:00Z",
      ["2026-11-24T12:00Z", "2026-11-25T12:00Z", "2026-11-26T12:00Z"],
    ],
    [
      // A rate counts elapsed time: 24 hours across the switch, not the same wall-clock time.
      "rate(1 day)",
      "Europe/Paris",
      "2026-03-28T12:00:00Z",
      ["2026-03-29T12:00Z", "2026-03-30T12:00Z", "2026-03-31T12:00Z"],
    ],
    [
      "cron(0 6 ? * 6L *)",
      "UTC",
      "2026-11-01T00:00:00Z",
      ["2026-11-27T06:00Z", "2026-12-25T06:00Z", "2027-01-29T06:00Z"],
    ],
  ];
  for (const [expression, timezone, from, expected] of table) {
    it(`${expression} in ${timezone} after ${from}`, () => {
      const schedule = parseScheduleExpression(expression);
      assert.deepEqual(iso(nextRunTimes(schedule, timezone, new Date(from), 3)), expected);
    });
  }
});

describe("parseScheduleExpression", () => {
  const rejected: Array<[string, RegExp]> = [
    ["every day", /must be "cron\(/],
    ["cron(0 6 * * ? * *)", /cron needs 6 fields/],
    ["cron(0 24 * * ? *)", /hours value "24" is out of range 0-23/],
    ["cron(0 6 ? * FUNDAY *)", /day-of-week value "FUNDAY" is out of range 1-7 or SUN/],
    ["cron(0 6 ? ? ? *)", /exactly one of day-of-month/],
    ["cron(0 6 * 13 ? *)", /month value "13" is out of range/],
    ["cron(0 6 5-1 * ? *)", /day-of-month range "5-1" runs backwards; only hours may wrap/],
    ["cron(50-10 6 * * ? *)", /minutes range "50-10" runs backwards/],
    ["cron(0 6 ? * FRI-MON *)", /day-of-week range "FRI-MON" runs backwards/],
    ["cron(0 22-24 * * ? *)", /hours value "24" is out of range 0-23/],
    ["cron(0/0 6 * * ? *)", /step "0" must be a positive integer/],
    ["rate(0 minutes)", /rate value must be at least 1/],
    [
      "rate(5 minute)",
      /rate unit "minute" is singular, which is valid only with the value 1; write "rate\(5 minutes\)"/,
    ],
    ["rate(2 day)", /write "rate\(2 days\)"/],
    ["rate(5 weeks)", /must be "cron\(/],
    ["rate(30 seconds)", /must be "cron\(/],
    ["rate(1.5 hours)", /must be "cron\(/],
  ];
  for (const [expression, message] of rejected) {
    it(`rejects ${expression}`, () =>
      assert.throws(() => parseScheduleExpression(expression), message));
  }

  // Scheduler's guide gives the plural units for any value, its API reference adds the
  // singular ones (used with 1).
  const rates: Array<[string, number]> = [
    ["rate(1 minute)", 1],
    ["rate(1 minutes)", 1],
    ["rate(5 minutes)", 5],
    ["rate(1 hour)", 60],
    ["rate(1 hours)", 60],
    ["rate(1 day)", 1440],
    ["rate(1 days)", 1440],
    ["rate(3 days)", 3 * 1440],
  ];
  for (const [expression, everyMinutes] of rates) {
    it(`accepts ${expression}`, () =>
      assert.deepEqual(parseScheduleExpression(expression), { kind: "rate", everyMinutes }));
  }

  it("reads a wrapping hour range as the hours to midnight and on from it", () => {
    const schedule = parseScheduleExpression("cron(0/30 20-2 ? * MON-FRI *)");
    assert.equal(schedule.kind, "cron");
    if (schedule.kind === "cron") {
      assert.deepEqual(
        [...schedule.hours].sort((a, b) => a - b),
        [0, 1, 2, 20, 21, 22, 23],
      );
    }
  });
});

describe("schedulePeriodMinutes", () => {
  const from = new Date("2026-11-23T00:00:00Z");
  const cases: Array<[string, string, number]> = [
    ["rate(2 hours)", "UTC", 120],
    ["cron(0 6 * * ? *)", "UTC", 1440],
    // Weekdays only: the weekend gap is the longest.
    ["cron(0 9 ? * MON-FRI *)", "UTC", 3 * 1440],
    // Skipped on 2027-03-28 when clocks go forward: 47 hours from 02:30 CET to 02:30 CEST.
    ["cron(30 2 * * ? *)", "Europe/Paris", 47 * 60],
    // 03:30 exists every day: the longest day is the one clocks go back, 25 hours.
    ["cron(30 3 * * ? *)", "Europe/Paris", 25 * 60],
    ["cron(30 2 * * ? *)", "America/New_York", 47 * 60],
    // Every 15 minutes: the repeated hour runs once, so 02:45 CEST to 03:00 CET is 75 minutes.
    ["cron(0/15 * * * ? *)", "Europe/Paris", 75],
    // Lord Howe's half-hour switch: 01:45 (+11) to 02:00 (+10:30) is 45 minutes.
    ["cron(0/15 * * * ? *)", "Australia/Lord_Howe", 45],
    ["cron(15 2 * * ? *)", "Australia/Lord_Howe", 47 * 60 + 30],
    ["cron(0 3 * * ? *)", "Pacific/Chatham", 47 * 60],
    // Gaps of years, found without giving up.
    ["cron(0 12 29 FEB ? *)", "UTC", 4 * 365 * 1440 + 1440],
    // A single run has no gap: a year, as a bound.
    ["cron(0 0 1 1 ? 2099)", "UTC", 366 * 1440],
  ];
  for (const [expression, timezone, minutes] of cases) {
    it(`${expression} in ${timezone}: ${minutes} minutes`, () =>
      assert.equal(
        schedulePeriodMinutes(parseScheduleExpression(expression), timezone, from),
        minutes,
      ));
  }

  it("walks a year of every-minute runs quickly", () => {
    const started = process.hrtime.bigint();
    assert.equal(
      schedulePeriodMinutes(parseScheduleExpression("cron(* * * * ? *)"), "Europe/Paris", from),
      61,
    );
    // About 0.4 s on a quiet machine; the bound catches a walk gone quadratic (minutes, not
    // seconds), not a busy machine (2 s failed under a load of 9 on 2 cores).
    assert.ok(process.hrtime.bigint() - started < 10_000_000_000n, "took more than 10 s");
  });
});

describe("dstWarnings", () => {
  const from = new Date("2026-11-23T00:00:00Z");
  const until = new Date("2027-11-23T00:00:00Z");
  const cases: Array<[string, string, string[]]> = [
    [
      "cron(30 2 * * ? *)",
      "Europe/Paris",
      [
        "is skipped on 2027-03-28 (02:30 does not exist: clocks go forward)",
        "runs once on 2027-10-31 (02:30 occurs twice: runs at the first)",
      ],
    ],
    ["cron(30 3 * * ? *)", "Europe/Paris", []],
    ["cron(30 2 * * ? *)", "UTC", []],
    ["rate(1 hour)", "Europe/Paris", []],
    [
      "cron(30 1 * * ? *)",
      "America/New_York",
      ["runs once on 2027-11-07 (01:30 occurs twice: runs at the first)"],
    ],
    [
      "cron(0/15 2 * * ? *)",
      "Europe/Paris",
      [
        "is skipped on 2027-03-28 at 02:00, 02:15, 02:30, 02:45 (they do not exist: clocks go forward)",
        "runs once on 2027-10-31 at 02:00, 02:15, 02:30, 02:45 (they occur twice: runs at the first)",
      ],
    ],
    [
      "cron(* * * * ? *)",
      "Australia/Lord_Howe",
      [
        "runs once on 2027-04-04 at 30 times from 01:30 to 01:59 (they occur twice: runs at the first)",
        "is skipped on 2027-10-03 at 30 times from 02:00 to 02:29 (they do not exist: clocks go forward)",
      ],
    ],
    [
      "cron(0 3 ? * SUN *)",
      "Pacific/Chatham",
      [
        "runs once on 2027-04-04 (03:00 occurs twice: runs at the first)",
        "is skipped on 2027-09-26 (03:00 does not exist: clocks go forward)",
      ],
    ],
    // Weekdays only: the Sunday switches do not touch it.
    ["cron(30 2 ? * MON-FRI *)", "Europe/Paris", []],
  ];
  for (const [expression, timezone, messages] of cases) {
    it(`${expression} in ${timezone}`, () =>
      assert.deepEqual(
        dstWarnings(parseScheduleExpression(expression), timezone, from, until).map(
          (w) => w.message,
        ),
        messages,
      ));
  }

  it("names the day, the kind and the times", () => {
    assert.deepEqual(
      dstWarnings(parseScheduleExpression("cron(30 2 * * ? *)"), "Europe/Paris", from, until)[0],
      {
        date: "2027-03-28",
        kind: "skipped",
        times: ["02:30"],
        message: "is skipped on 2027-03-28 (02:30 does not exist: clocks go forward)",
      },
    );
  });

  it("looks a year ahead by default", () => {
    assert.deepEqual(
      dstWarningsForYear(
        parseScheduleExpression("cron(30 2 * * ? *)"),
        "Europe/Paris",
        new Date("2027-03-28T00:00:00Z"),
      ).map((w) => w.date),
      ["2027-03-28", "2027-10-31", "2028-03-26"],
    );
  });

  it("formats a warning for the plan and the deploy log", () => {
    const [skipped] = dstWarnings(
      parseScheduleExpression("cron(30 2 * * ? *)"),
      "Europe/Paris",
      from,
      until,
    );
    assert.equal(
      formatDstWarning("nightly-pi", "cron(30 2 * * ? *)", "Europe/Paris", skipped),
      "nightly-pi: cron(30 2 * * ? *) in Europe/Paris is skipped on 2027-03-28 (02:30 does not exist: clocks go forward)",
    );
  });

  it("rejects an unknown time zone, naming it", () =>
    assert.throws(
      () => dstWarnings(parseScheduleExpression("cron(0 6 * * ? *)"), "Mars/Olympus", from, until),
      /time zone "Mars\/Olympus" is not an IANA time zone/,
    ));
});

describe("isValidTimezone", () => {
  for (const [zone, valid] of [
    ["UTC", true],
    ["Europe/Paris", true],
    ["America/Argentina/Buenos_Aires", true],
    ["Europe/Atlantis", false],
    ["", false],
    ["../etc/passwd", false],
  ] as const) {
    it(`${JSON.stringify(zone)} is ${valid ? "valid" : "invalid"}`, () =>
      assert.equal(isValidTimezone(zone), valid));
  }
});
