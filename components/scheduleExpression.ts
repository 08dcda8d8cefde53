/**
 * EventBridge Scheduler expressions: validation and next run times, as pure functions. Scheduler
 * rejects a bad expression only at deploy time, halfway through an update; we reject it before
 * any resource is declared, and the offline plan shows when each job would run.
 *
 * Syntax (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html):
 * `cron(minutes hours day-of-month month day-of-week year)` and `rate(value unit)`.
 */

/** A parsed `rate(...)` expression. */
export interface RateSchedule {
  kind: "rate";
  /** Interval in minutes. */
  everyMinutes: number;
}

/** A parsed `cron(...)` expression; each field is the set of matching values. */
export interface CronSchedule {
  kind: "cron";
  minutes: Set<number>;
  hours: Set<number>;
  /** Day-of-month matcher, `undefined` when the field is `?`. */
  dayOfMonth?: DayMatcher;
  months: Set<number>;
  /** Day-of-week matcher (1 = Sunday … 7 = Saturday), `undefined` when the field is `?`. */
  dayOfWeek?: DayMatcher;
  /** `undefined` means every year. */
  years?: Set<number>;
}

export type ParsedSchedule = RateSchedule | CronSchedule;

/** Matches a calendar day; built from L, W and # forms as well as plain lists. */
type DayMatcher = (day: LocalDay) => boolean;

interface LocalDay {
  year: number;
  month: number;
  day: number;
  /** 1 = Sunday … 7 = Saturday, as in EventBridge. */
  weekday: number;
  daysInMonth: number;
}

/** Thrown for an expression Scheduler would reject; the message says which part and why. */
export class ScheduleExpressionError extends Error {}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface FieldRule {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: Record<
  "minutes" | "hours" | "dayOfMonth" | "month" | "dayOfWeek" | "year",
  FieldRule
> = {
  minutes: { name: "minutes", min: 0, max: 59 },
  hours: { name: "hours", min: 0, max: 23 },
  dayOfMonth: { name: "day-of-month", min: 1, max: 31 },
  month: { name: "month", min: 1, max: 12, names: MONTHS },
  dayOfWeek: { name: "day-of-week", min: 1, max: 7, names: WEEKDAYS },
  year: { name: "year", min: 1970, max: 2199 },
};

function parseValue(token: string, rule: FieldRule): number {
  const named = rule.names?.indexOf(token.toUpperCase()) ?? -1;
  const value = named >= 0 ? named + rule.min : /^\d+$/.test(token) ? Number(token) : NaN;
  if (!Number.isInteger(value) || value < rule.min || value > rule.max) {
    const allowed = rule.names
      ? `${rule.min}-${rule.max} or ${rule.names.join(",")}`
      : `${rule.min}-${rule.max}`;
    throw new ScheduleExpressionError(`${rule.name} value "${token}" is out of range ${allowed}`);
  }
  return value;
}

/** Parses a list field (`*`, `a,b`, `a-b`, `a/n`, `a-b/n`, `* /n`) into the set of values. */
function parseSet(field: string, rule: FieldRule): Set<number> {
  const values = new Set<number>();
  for (const part of field.split(",")) {
    const [range, stepText, ...rest] = part.split("/");
    if (rest.length > 0 || range === "") {
      throw new ScheduleExpressionError(`${rule.name} part "${part}" is malformed`);
    }
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) {
      throw new ScheduleExpressionError(
        `${rule.name} step "${stepText}" must be a positive integer`,
      );
    }
    let from: number;
    let to: number;
    if (range === "*") {
      [from, to] = [rule.min, rule.max];
    } else if (range.includes("-")) {
      const [a, b, ...more] = range.split("-");
      if (more.length > 0)
        throw new ScheduleExpressionError(`${rule.name} range "${range}" is malformed`);
      [from, to] = [parseValue(a, rule), parseValue(b, rule)];
      if (from > to) {
        throw new ScheduleExpressionError(`${rule.name} range "${range}" runs backwards`);
      }
    } else {
      from = parseValue(range, rule);
      to = stepText === undefined ? from : rule.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

function parseDayOfMonth(field: string): DayMatcher {
  if (field === "L") return (d) => d.day === d.daysInMonth;
  const weekday = /^(\d{1,2})W$/.exec(field);
  if (weekday) {
    const target = parseValue(weekday[1], FIELDS.dayOfMonth);
    return (d) => d.day === nearestWeekday(d, target);
  }
  const days = parseSet(field, FIELDS.dayOfMonth);
  return (d) => days.has(d.day);
}

/** The `nW` rule: the weekday nearest to day n, never crossing into another month. */
function nearestWeekday(d: LocalDay, target: number): number {
  const day = Math.min(target, d.daysInMonth);
  const weekday = ((d.weekday - 1 + (day - d.day) + 7 * 6) % 7) + 1;
  if (weekday === 7) return day === 1 ? day + 2 : day - 1;
  if (weekday === 1) return day === d.daysInMonth ? day - 2 : day + 1;
  return day;
}

function parseDayOfWeek(field: string): DayMatcher {
  const last = /^(\w+)L$/.exec(field);
  if (field === "L") return (d) => d.weekday === 7;
  if (last) {
    const weekday = parseValue(last[1], FIELDS.dayOfWeek);
    return (d) => d.weekday === weekday && d.day + 7 > d.daysInMonth;
  }
  const nth = /^(\w+)#([1-5])$/.exec(field);
  if (nth) {
    const weekday = parseValue(nth[1], FIELDS.dayOfWeek);
    const occurrence = Number(nth[2]);
    return (d) => d.weekday === weekday && Math.ceil(d.day / 7) === occurrence;
  }
  const weekdays = parseSet(field, FIELDS.dayOfWeek);
  return (d) => weekdays.has(d.weekday);
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\(([^()]*)\)$/;
const UNIT_MINUTES: Record<string, number> = { minute: 1, hour: 60, day: 1440 };

/**
 * Parses a Scheduler `cron(...)` or `rate(...)` expression.
 * @throws ScheduleExpressionError naming the bad part.
 */
export function parseScheduleExpression(expression: string): ParsedSchedule {
  const rate = RATE.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2].replace(/s$/, "");
    if (value < 1) throw new ScheduleExpressionError("rate value must be at least 1");
    if ((value === 1) !== (rate[2] === unit)) {
      throw new ScheduleExpressionError(
        `rate unit must be singular for 1 and plural otherwise (e.g. "rate(1 hour)", "rate(5 minutes)")`,
      );
    }
    return { kind: "rate", everyMinutes: value * UNIT_MINUTES[unit] };
  }
  const cron = CRON.exec(expression);
  if (!cron) {
    throw new ScheduleExpressionError(
      `must be "cron(minutes hours day-of-month month day-of-week year)" or "rate(value unit)"`,
    );
  }
  const fields = cron[1].trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new ScheduleExpressionError(
      `cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`,
    );
  }
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields;
  if ((dayOfMonth === "?") === (dayOfWeek === "?")) {
    throw new ScheduleExpressionError(
      `exactly one of day-of-month ("${dayOfMonth}") and day-of-week ("${dayOfWeek}") must be "?"`,
    );
  }
  return {
    kind: "cron",
    minutes: parseSet(minutes, FIELDS.minutes),
    hours: parseSet(hours, FIELDS.hours),
    dayOfMonth: dayOfMonth === "?" ? undefined : parseDayOfMonth(dayOfMonth),
    months: parseSet(month, FIELDS.month),
    dayOfWeek: dayOfWeek === "?" ? undefined : parseDayOfWeek(dayOfWeek),
    years: year === "*" ? undefined : parseSet(year, FIELDS.year),
  };
}

/** True when `timezone` is an IANA name this runtime (and therefore Scheduler) knows. */
export function isValidTimezone(timezone: string): boolean {
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(timezone)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** Offset of `timezone` from UTC at `utcMs`, in milliseconds. */
function timezoneOffsetMs(timezone: string, utcMs: number): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(new Date(utcMs));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const local = Date.UTC(
    get("year"),
    get("month") - 1,
    get("day"),
    get("hour"),
    get("minute"),
    get("second"),
  );
  return local - Math.floor(utcMs / 1000) * 1000;
}

/** UTC instant of a wall-clock time in `timezone`; a time skipped by DST moves forward by the gap. */
function zonedToUtc(
  timezone: string,
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const guess = wall - timezoneOffsetMs(timezone, wall);
  return wall - timezoneOffsetMs(timezone, guess);
}

/**
 * The next `count` run times strictly after `from`. For `rate`, runs are counted from `from`
 * (Scheduler starts a rate schedule when it is created).
 */
export function nextRunTimes(
  schedule: ParsedSchedule,
  timezone: string,
  from: Date,
  count: number,
): Date[] {
  if (schedule.kind === "rate") {
    return Array.from(
      { length: count },
      (_, i) => new Date(from.getTime() + (i + 1) * schedule.everyMinutes * 60_000),
    );
  }
  const runs: Date[] = [];
  const start = new Date(from.getTime() + timezoneOffsetMs(timezone, from.getTime()));
  // Scan day by day in local time; 5 years covers every satisfiable expression but Feb 29 leap cases.
  for (let dayIndex = 0; dayIndex < 366 * 8 && runs.length < count; dayIndex++) {
    const date = new Date(
      Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate() + dayIndex),
    );
    const local: LocalDay = {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
      weekday: date.getUTCDay() + 1,
      daysInMonth: new Date(
        Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0),
      ).getUTCDate(),
    };
    if (!schedule.months.has(local.month)) continue;
    if (schedule.years && !schedule.years.has(local.year)) continue;
    const dayMatches = schedule.dayOfMonth
      ? schedule.dayOfMonth(local)
      : schedule.dayOfWeek!(local);
    if (!dayMatches) continue;
    for (const hour of [...schedule.hours].sort((a, b) => a - b)) {
      for (const minute of [...schedule.minutes].sort((a, b) => a - b)) {
        const utc = zonedToUtc(timezone, local.year, local.month, local.day, hour, minute);
        if (utc > from.getTime() && runs.length < count && !runs.some((r) => r.getTime() === utc)) {
          runs.push(new Date(utc));
        }
      }
    }
  }
  return runs;
}

/** The longest gap between consecutive runs over the next 24, in minutes: what a missed-run alarm waits for. */
export function schedulePeriodMinutes(
  schedule: ParsedSchedule,
  timezone: string,
  from: Date,
): number {
  if (schedule.kind === "rate") return schedule.everyMinutes;
  const runs = nextRunTimes(schedule, timezone, from, 24);
  let longest = 0;
  for (let i = 1; i < runs.length; i++) {
    longest = Math.max(longest, (runs[i].getTime() - runs[i - 1].getTime()) / 60_000);
  }
  return longest || 366 * 1440;
}

/** Writes a set of field values back as cron text: `*`, `a`, `a-b`, `a/n`, `a-b/n` or a list. */
function formatSet(values: Set<number>, rule: FieldRule): string {
  const sorted = [...values].sort((a, b) => a - b);
  const [first, last] = [sorted[0], sorted[sorted.length - 1]];
  if (sorted.length === rule.max - rule.min + 1) return "*";
  if (sorted.length === 1) return String(first);
  const step = sorted[1] - first;
  const evenlySpaced = sorted.every((v, i) => v === first + i * step);
  if (evenlySpaced && step === 1) return `${first}-${last}`;
  if (evenlySpaced && sorted.length > 2) {
    return last + step > rule.max ? `${first}/${step}` : `${first}-${last}/${step}`;
  }
  return sorted.join(",");
}

/**
 * Shifts a schedule `minutes` later in wall-clock time, so the regions that share a job do not all
 * launch in the same minute. A cron expression gets new minutes (carrying into the hours); the
 * shifted expression fires exactly `minutes` after each run of the original one. A rate
 * expression is returned unchanged: Scheduler counts a rate from the moment the schedule is
 * created, so regions are already out of step, and fixing a phase would need a `startDate`, a
 * timestamp that would change on every deployment.
 * @param minutes 0-59.
 * @throws ScheduleExpressionError when no single cron expression fires at exactly the shifted
 *   times: some runs would cross into the next hour and others not (e.g. `cron(0,30 6 * * ? *)`
 *   shifted by 45), or runs would cross midnight in a schedule limited to certain days, months
 *   or years (the day fields cannot follow them).
 */
export function offsetSchedule(expression: string, minutes: number): string {
  if (!Number.isInteger(minutes) || minutes < 0 || minutes > 59) {
    throw new ScheduleExpressionError(
      `offset ${minutes} is not a whole number of minutes from 0 to 59`,
    );
  }
  const schedule = parseScheduleExpression(expression);
  if (schedule.kind === "rate" || minutes === 0) return expression;
  const [, hourField, dayOfMonth, month, dayOfWeek, year] = CRON.exec(expression)![1]
    .trim()
    .split(/\s+/);

  const shifted = new Set<number>();
  let crossesMidnight = false;
  for (const hour of schedule.hours) {
    for (const minute of schedule.minutes) {
      const time = hour * 60 + minute + minutes;
      crossesMidnight ||= time >= 24 * 60;
      shifted.add(time % (24 * 60));
    }
  }
  const hours = new Set([...shifted].map((t) => Math.floor(t / 60)));
  const minuteValues = new Set([...shifted].map((t) => t % 60));
  if (hours.size * minuteValues.size !== shifted.size) {
    throw new ScheduleExpressionError(
      `"${expression}" shifted by ${minutes} minutes would move some runs into the next hour and not others, which one cron expression cannot list; use an offset that keeps every run in its hour or carries every run over`,
    );
  }
  const everyDay =
    ((dayOfMonth === "*" && dayOfWeek === "?") || (dayOfMonth === "?" && dayOfWeek === "*")) &&
    month === "*" &&
    year === "*";
  if (crossesMidnight && !everyDay) {
    throw new ScheduleExpressionError(
      `"${expression}" shifted by ${minutes} minutes would move runs past midnight into days its day-of-month, month, day-of-week or year fields do not allow; use a smaller offset`,
    );
  }
  const sameHours =
    hours.size === schedule.hours.size && [...hours].every((h) => schedule.hours.has(h));
  const hourText = sameHours ? hourField : formatSet(hours, FIELDS.hours);
  return `cron(${formatSet(minuteValues, FIELDS.minutes)} ${hourText} ${dayOfMonth} ${month} ${dayOfWeek} ${year})`;
}
