import * as assert from "node:assert/strict";
import {
  isValidTimezone,
  nextRunTimes,
  parseScheduleExpression,
  schedulePeriodMinutes,
} from "../../components/scheduleExpression";

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
      // 02:30 does not exist in Paris on 2026-03-29 (clocks jump from 02:00 to 03:00).
      "cron(30 2 * * ? *)",
      "Europe/Paris",
      "2026-03-27T12:00:00Z",
      ["2026-03-28T01:30Z", "2026-03-29T01:30Z", "2026-03-30T00:30Z"],
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
    ["cron(0 6 5-1 * ? *)", /range "5-1" runs backwards/],
    ["cron(0/0 6 * * ? *)", /step "0" must be a positive integer/],
    ["rate(0 minutes)", /rate value must be at least 1/],
    ["rate(5 minute)", /singular for 1 and plural otherwise/],
    ["rate(5 weeks)", /must be "cron\(/],
  ];
  for (const [expression, message] of rejected) {
    it(`rejects ${expression}`, () =>
      assert.throws(() => parseScheduleExpression(expression), message));
  }
});

describe("schedulePeriodMinutes", () => {
  it("is the interval of a rate and the longest gap of a cron", () => {
    const from = new Date("2026-11-23T00:00:00Z");
    assert.equal(schedulePeriodMinutes(parseScheduleExpression("rate(2 hours)"), "UTC", from), 120);
    assert.equal(
      schedulePeriodMinutes(parseScheduleExpression("cron(0 6 * * ? *)"), "UTC", from),
      1440,
    );
    // Weekdays only: the weekend gap is the longest.
    assert.equal(
      schedulePeriodMinutes(parseScheduleExpression("cron(0 9 ? * MON-FRI *)"), "UTC", from),
      3 * 1440,
    );
  });
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
