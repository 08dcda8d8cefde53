/**
 * An attempt's timings (`RunTimings`, launcher/contract.ts) as `npm run runs -- show` prints
 * them: each phase's end as an offset from the scheduled time and the phase's duration, then the
 * seconds billed outside the container and the schedule → container-start latency.
 */
import type { RunTimings } from "../launcher/contract";
import { formatBytes } from "../launcher/utilization";

/** One line of the timeline: a moment the attempt reached. */
export interface TimelineEvent {
  event: string;
  /** Seconds from the scheduled time (negative when a clock ran ahead of it). */
  offsetSeconds: number;
  /** Seconds since the previous known event: the phase this event ends; none for the first. */
  phaseSeconds?: number;
  /** Something to say beside it, e.g. the pulled image's size. */
  note?: string;
}

/** What the timeline sums up; a figure whose times are missing is absent. */
export interface TimelineSummary {
  events: TimelineEvent[];
  /**
   * Billed seconds outside the container: from the instance's launch (or, without EC2's launch
   * time, the init script's start minus the boot seconds) to the record, minus the container's
   * run. As the init script's `RunOverheadSeconds` counts them.
   */
  overheadSeconds?: number;
  /** Seconds from the scheduled time to the container's start (`RunStartLatencySeconds`). */
  startLatencySeconds?: number;
  /** Seconds the container ran. */
  containerSeconds?: number;
}

const ms = (time: string | null | undefined): number | undefined => {
  if (!time) return undefined;
  const t = Date.parse(time);
  return Number.isFinite(t) ? t : undefined;
};

/**
 * The timeline of `timings`: its known moments in the order of an attempt's phases, each with
 * its offset from the scheduled time; undefined without a scheduled time to count from.
 */
export function timelineOf(timings: RunTimings): TimelineSummary | undefined {
  const scheduled = ms(timings.scheduledTime);
  if (scheduled === undefined) return undefined;
  const boot =
    timings.bootSeconds !== null && Number.isFinite(timings.bootSeconds)
      ? `boot ${formatSeconds(timings.bootSeconds)}`
      : undefined;
  const steps: Array<[string, string | null, string?]> = [
    ["launch requested", timings.launchRequestedAt],
    ["RunInstances accepted", timings.runInstancesAcceptedAt],
    ["instance launched", timings.instanceLaunchTime],
    ["init script started", timings.initScriptStartedAt, boot],
    ["Docker ready", timings.dockerReadyAt],
    ["registry login done", timings.registryLoggedInAt],
    [
      "image pulled",
      timings.imagePulledAt,
      timings.imageSizeBytes !== null ? formatBytes(timings.imageSizeBytes) : undefined,
    ],
    ["container started", timings.containerStartedAt],
    ["container exited", timings.containerExitedAt],
    ["record written", timings.recordWrittenAt],
  ];
  const events: TimelineEvent[] = [{ event: "scheduled", offsetSeconds: 0 }];
  let previous = scheduled;
  for (const [event, time, note] of steps) {
    const at = ms(time);
    if (at === undefined) continue;
    events.push({
      event,
      offsetSeconds: (at - scheduled) / 1000,
      phaseSeconds: (at - previous) / 1000,
      ...(note ? { note } : {}),
    });
    previous = at;
  }
  const started = ms(timings.containerStartedAt);
  const exited = ms(timings.containerExitedAt);
  const containerSeconds =
    started !== undefined && exited !== undefined ? (exited - started) / 1000 : undefined;
  const initStarted = ms(timings.initScriptStartedAt);
  const billedFrom =
    ms(timings.instanceLaunchTime) ??
    (initStarted !== undefined && timings.bootSeconds !== null
      ? initStarted - timings.bootSeconds * 1000
      : undefined);
  const recorded = ms(timings.recordWrittenAt);
  // A container that never started ran for no time: every billed second was overhead.
  const overheadSeconds =
    billedFrom !== undefined &&
    recorded !== undefined &&
    (started === undefined) === (exited === undefined)
      ? (recorded - billedFrom) / 1000 - (containerSeconds ?? 0)
      : undefined;
  return {
    events,
    ...(overheadSeconds !== undefined ? { overheadSeconds } : {}),
    ...(started !== undefined ? { startLatencySeconds: (started - scheduled) / 1000 } : {}),
    ...(containerSeconds !== undefined ? { containerSeconds } : {}),
  };
}

/**
 * Seconds to a tenth under a minute, else minutes and seconds, else hours and minutes:
 * `0.4s`, `62.25` → `1m 02.3s`, `3723` → `1h 02m 03s`; a negative value gets a `-`.
 */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "-";
  const sign = seconds < 0 ? "-" : "";
  const tenths = Math.round(Math.abs(seconds) * 10);
  const s = tenths / 10;
  if (s < 60) return `${sign}${s.toFixed(1)}s`;
  if (s < 3600) {
    const minutes = Math.floor(tenths / 600);
    const rest = ((tenths % 600) / 10).toFixed(1).padStart(4, "0");
    return `${sign}${minutes}m ${rest}s`;
  }
  const whole = Math.round(s);
  const h = Math.floor(whole / 3600);
  const m = String(Math.floor((whole % 3600) / 60)).padStart(2, "0");
  const sec = String(whole % 60).padStart(2, "0");
  return `${sign}${h}h ${m}m ${sec}s`;
}

/** The timeline as lines: offset, event, the phase's duration, and the summary lines. */
export function timelineLines(summary: TimelineSummary): string[] {
  const rows = summary.events.map((e) => [
    `${e.offsetSeconds < 0 ? "" : "+"}${formatSeconds(e.offsetSeconds)}`,
    e.event,
    e.phaseSeconds === undefined ? "" : formatSeconds(e.phaseSeconds),
    e.note ?? "",
  ]);
  const width = (i: number) => Math.max(...rows.map((r) => r[i].length));
  const lines = rows.map(([at, event, took, note]) =>
    `${at.padStart(width(0))}  ${event.padEnd(width(1))}  ${took.padStart(width(2))}${note ? `  (${note})` : ""}`.trimEnd(),
  );
  if (summary.startLatencySeconds !== undefined) {
    lines.push(`schedule → container start: ${formatSeconds(summary.startLatencySeconds)}`);
  }
  if (summary.overheadSeconds !== undefined) {
    lines.push(
      `overhead: ${formatSeconds(summary.overheadSeconds)} billed outside the container (instance launch to record${summary.containerSeconds !== undefined ? `, minus the container's ${formatSeconds(summary.containerSeconds)}` : ""})`,
    );
  }
  return lines;
}
