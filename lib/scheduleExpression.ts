/**
 * EventBridge Scheduler expressions: validation and next run times, as pure functions. Scheduler
 * rejects a bad expression only at deploy time, halfway through an update; we reject it before
 * any resource is declared, and the offline plan shows when each job would run.
 *
 * Syntax (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html):
 * `cron(minutes hours day-of-month month day-of-week year)` and `rate(value unit)`.
 *
 * Daylight saving time, as Scheduler applies it to cron schedules
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#daylist-savings-time,
 * https://repost.aws/knowledge-center/eventbridge-scheduler-adjust-dst): a wall-clock time that
 * does not exist in the zone (clocks go forward) is skipped, not moved; a time that occurs twice
 * (clocks go back) runs once, at its first occurrence. Zone offsets come from luxon's IANA zones.
 */
import { DateTime, IANAZone } from "luxon";

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
  /** A range may run past `max` and on from `min`, e.g. hours `20-2`. */
  wraps?: boolean;
}

const FIELDS: Record<
  "minutes" | "hours" | "dayOfMonth" | "month" | "dayOfWeek" | "year",
  FieldRule
> = {
  minutes: { name: "minutes", min: 0, max: 59 },
  // AWS's own example `cron(0/30 20-2 ? * MON-FRI *)` runs from 22:00 to 02:00 the next morning
  // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html#eb-cron-expressions).
  hours: { name: "hours", min: 0, max: 23, wraps: true },
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
      if (from > to && !rule.wraps) {
        throw new ScheduleExpressionError(
          `${rule.name} range "${range}" runs backwards; only hours may wrap (e.g. "20-2")`,
        );
      }
      if (from > to) to += rule.max - rule.min + 1;
    } else {
      from = parseValue(range, rule);
      to = stepText === undefined ? from : rule.max;
    }
    const span = rule.max - rule.min + 1;
    for (let v = from; v <= to; v += step) values.add(((v - rule.min) % span) + rule.min);
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
    // Scheduler's guide lists the plural units for any value (so `rate(1 days)` is valid,
    // https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#rate-based);
    // its API reference adds the singular ones
    // (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html#scheduler-CreateSchedule-request-ScheduleExpression),
    // which every AWS example, and EventBridge's own rule, uses only with 1
    // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html).
    if (value !== 1 && rate[2] === unit) {
      throw new ScheduleExpressionError(
        `rate unit "${unit}" is singular, which is valid only with the value 1; write "rate(${value} ${unit}s)"`,
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
  return IANAZone.isValidZone(timezone);
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** Further ahead than `schedulePeriodMinutes` and the DST warnings look by default. */
const YEAR_MS = 366 * DAY_MS;

function zoneOf(timezone: string): IANAZone {
  const zone = IANAZone.create(timezone);
  if (!zone.isValid) {
    throw new ScheduleExpressionError(
      `time zone "${timezone}" is not an IANA time zone (e.g. "UTC", "Europe/Paris")`,
    );
  }
  return zone;
}

/** Offset of `zone` from UTC at `utcMs`, in milliseconds. */
function offsetMs(zone: IANAZone, utcMs: number): number {
  return zone.offset(utcMs) * MINUTE_MS;
}

/** One wall-clock time a cron expression names, and what Scheduler does with it. */
interface WallRun {
  /** The wall-clock time, as if it were UTC (`Date.UTC(year, month - 1, day, hour, minute)`). */
  wall: number;
  /** When it runs; for a skipped time, where it would have been. */
  instant: number;
  /** The time does not exist that day: clocks go forward over it. */
  skipped: boolean;
  /** The time occurs twice that day: it runs at the first occurrence only. */
  repeated: boolean;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Every wall-clock time the cron expression names, in order, from the local day before `fromMs`
 * (so no run is missed when a transition crosses midnight) up to the last year Scheduler knows.
 * Years, months and days that cannot match are skipped whole, so a run decades ahead (a far year
 * field, 29 February after a century year) costs no more than the days it actually names.
 */
function* wallRuns(schedule: CronSchedule, zone: IANAZone, fromMs: number): Generator<WallRun> {
  const start = DateTime.fromMillis(fromMs - DAY_MS, { zone });
  const months = [...schedule.months].sort((a, b) => a - b);
  const hours = [...schedule.hours].sort((a, b) => a - b);
  const minutes = [...schedule.minutes].sort((a, b) => a - b);
  const matchDay = (schedule.dayOfMonth ?? schedule.dayOfWeek)!;
  for (let year = start.year; year <= FIELDS.year.max; year++) {
    if (schedule.years && !schedule.years.has(year)) continue;
    for (const month of months) {
      if (year === start.year && month < start.month) continue;
      const length = daysInMonth(year, month);
      const firstDay = year === start.year && month === start.month ? start.day : 1;
      for (let day = firstDay; day <= length; day++) {
        const midnight = Date.UTC(year, month - 1, day);
        const weekday = new Date(midnight).getUTCDay() + 1;
        if (!matchDay({ year, month, day, weekday, daysInMonth: length })) continue;
        yield* runsOnDay(zone, midnight, hours, minutes);
      }
    }
  }
}

function* runsOnDay(
  zone: IANAZone,
  midnight: number,
  hours: number[],
  minutes: number[],
): Generator<WallRun> {
  // UTC offsets lie within -12 h and +14 h, so these instants bracket the whole local day. Zones
  // change offset at most a few times a year, never twice within two days: equal offsets on
  // both sides and in the middle mean the day has no transition.
  const before = offsetMs(zone, midnight - 15 * HOUR_MS);
  const after = offsetMs(zone, midnight + 37 * HOUR_MS);
  const steady = before === after && offsetMs(zone, midnight + 12 * HOUR_MS - before) === before;
  for (const hour of hours) {
    for (const minute of minutes) {
      const wall = midnight + hour * HOUR_MS + minute * MINUTE_MS;
      if (steady) {
        yield { wall, instant: wall - before, skipped: false, repeated: false };
        continue;
      }
      // The instants that read `wall` on the zone's clock: none when clocks jump over it,
      // two when they go back over it; Scheduler runs the first.
      const instants = [...new Set([before, after])]
        .map((offset) => wall - offset)
        .filter((instant) => instant + offsetMs(zone, instant) === wall)
        .sort((a, b) => a - b);
      yield instants.length === 0
        ? { wall, instant: wall - before, skipped: true, repeated: false }
        : { wall, instant: instants[0], skipped: false, repeated: instants.length > 1 };
    }
  }
}

/** The instants a schedule runs at, strictly after `fromMs`, in order. */
function* runInstants(
  schedule: ParsedSchedule,
  timezone: string,
  fromMs: number,
): Generator<number> {
  if (schedule.kind === "rate") {
    // A rate counts elapsed time, not wall-clock time, so DST does not move it
    // (https://repost.aws/knowledge-center/eventbridge-scheduler-adjust-dst).
    for (let instant = fromMs; ;) yield (instant += schedule.everyMinutes * MINUTE_MS);
  } else {
    for (const run of wallRuns(schedule, zoneOf(timezone), fromMs)) {
      if (!run.skipped && run.instant > fromMs) yield run.instant;
    }
  }
}

/**
 * The next `count` run times strictly after `from`, as Scheduler runs them: a cron time that
 * does not exist in `timezone` that day is skipped, one that occurs twice runs at the first. For
 * `rate`, runs are counted from `from` (Scheduler starts a rate schedule when it is created).
 * Fewer than `count` when the expression runs fewer times before the end of its year range.
 * @throws ScheduleExpressionError when `timezone` is not an IANA time zone.
 */
export function nextRunTimes(
  schedule: ParsedSchedule,
  timezone: string,
  from: Date,
  count: number,
): Date[] {
  const runs: Date[] = [];
  if (count < 1) return runs;
  for (const instant of runInstants(schedule, timezone, from.getTime())) {
    runs.push(new Date(instant));
    if (runs.length >= count) break;
  }
  return runs;
}

/**
 * The longest gap between consecutive runs in the year after `from` (up to the first run past
 * it), in minutes: what a missed-run alarm must wait for. A year holds both DST transitions, so
 * a nightly run at a time that is skipped one night (02:30 in Europe/Paris) has a 48-hour gap.
 * 366 days when the schedule runs at most once.
 */
export function schedulePeriodMinutes(
  schedule: ParsedSchedule,
  timezone: string,
  from: Date,
): number {
  if (schedule.kind === "rate") return schedule.everyMinutes;
  const horizon = from.getTime() + YEAR_MS;
  let previous: number | undefined;
  let longest = 0;
  for (const instant of runInstants(schedule, timezone, from.getTime())) {
    if (previous !== undefined) longest = Math.max(longest, instant - previous);
    if (instant > horizon && previous !== undefined) break;
    previous = instant;
  }
  return longest / MINUTE_MS || 366 * 1440;
}

/** A cron time that a DST transition of its zone skips or repeats on one day. */
export interface DstWarning {
  /** The local date, `YYYY-MM-DD`. */
  date: string;
  /** `skipped`: the times do not exist that day; `once`: they occur twice and run at the first. */
  kind: "skipped" | "once";
  /** The affected wall-clock times, `HH:MM`. */
  times: string[];
  /**
   * What happens, to follow `<job>: <expression> in <zone> `, e.g. `is skipped on 2027-03-28
   * (02:30 does not exist: clocks go forward)`.
   */
  message: string;
}

function warningMessage(date: string, kind: DstWarning["kind"], times: string[]): string {
  const [first, last] = [times[0], times[times.length - 1]];
  const at =
    times.length === 1
      ? ""
      : times.length <= 4
        ? ` at ${times.join(", ")}`
        : ` at ${times.length} times from ${first} to ${last}`;
  const which = times.length === 1 ? `${first} does` : "they do";
  return kind === "skipped"
    ? `is skipped on ${date}${at} (${which} not exist: clocks go forward)`
    : `runs once on ${date}${at} (${times.length === 1 ? `${first} occurs` : "they occur"} twice: runs at the first)`;
}

/**
 * The days between `from` and `until` on which a DST transition of `timezone` skips or repeats a
 * time the cron expression names, one entry per day and kind, in order. `[]` for a rate, which
 * DST does not affect. `npm run plan` and `pulumi up` show these, since the plan's next runs do
 * not reveal a run that silently does not happen months later.
 * @throws ScheduleExpressionError when `timezone` is not an IANA time zone.
 */
export function dstWarnings(
  schedule: ParsedSchedule,
  timezone: string,
  from: Date,
  until: Date,
): DstWarning[] {
  if (schedule.kind === "rate") return [];
  const days: Array<Omit<DstWarning, "message">> = [];
  for (const run of wallRuns(schedule, zoneOf(timezone), from.getTime())) {
    if (run.instant > until.getTime()) break;
    if (run.instant <= from.getTime() || !(run.skipped || run.repeated)) continue;
    const iso = new Date(run.wall).toISOString();
    const [date, time] = [iso.slice(0, 10), iso.slice(11, 16)];
    const kind = run.skipped ? "skipped" : "once";
    const last = days[days.length - 1];
    if (last && last.date === date && last.kind === kind) last.times.push(time);
    else days.push({ date, kind, times: [time] });
  }
  return days.map((day) => ({ ...day, message: warningMessage(day.date, day.kind, day.times) }));
}

/** {@link dstWarnings} over the next year, for `pulumi up` and `npm run plan` to print. */
export function dstWarningsForYear(
  schedule: ParsedSchedule,
  timezone: string,
  from: Date,
): DstWarning[] {
  return dstWarnings(schedule, timezone, from, new Date(from.getTime() + YEAR_MS));
}

/**
 * One line for a person reading a plan or a deploy log, e.g. `nightly-pi: cron(30 2 * * ? *) in
 * Europe/Paris is skipped on 2027-03-28 (02:30 does not exist: clocks go forward)`.
 */
export function formatDstWarning(
  job: string,
  expression: string,
  timezone: string,
  warning: DstWarning,
): string {
  return `${job}: ${expression} in ${timezone} ${warning.message}`;
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
