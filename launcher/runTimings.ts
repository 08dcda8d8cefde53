/**
 * What an attempt's timings (`RunTimings`, launcher/contract.ts) say about its overhead: the
 * definitions of the init script's `RunOverheadSeconds` and `RunStartLatencySeconds` metrics,
 * which the script computes on the instance with the same millisecond arithmetic
 * (`measure_timings` in launcher/initScript.ts), so that tests can compare the two.
 */
import type { RunTimings } from "./contract";

const ms = (iso: string | null): number | undefined =>
  iso === null ? undefined : Date.parse(iso) || undefined;

/**
 * When billing began: EC2's launch time of the instance, or, without it, its boot (the init
 * script's start minus the kernel's uptime then). Undefined when neither is known.
 */
export function billedFromMs(timings: RunTimings): number | undefined {
  const launched = ms(timings.instanceLaunchTime);
  if (launched !== undefined) return launched;
  const started = ms(timings.initScriptStartedAt);
  if (started === undefined || timings.bootSeconds === null) return undefined;
  return started - Math.round(timings.bootSeconds * 1000);
}

/**
 * Billed seconds outside the container: from {@link billedFromMs} to the record, minus the
 * container's run (nothing when it never started). Undefined when the start is unknown.
 */
export function overheadSeconds(timings: RunTimings): number | undefined {
  const from = billedFromMs(timings);
  const record = ms(timings.recordWrittenAt);
  if (from === undefined || record === undefined) return undefined;
  const [started, exited] = [ms(timings.containerStartedAt), ms(timings.containerExitedAt)];
  const ran = started !== undefined && exited !== undefined ? exited - started : 0;
  return (record - from - ran) / 1000;
}

/** Seconds from the scheduled time to the container's start; undefined if it never started. */
export function startLatencySeconds(timings: RunTimings): number | undefined {
  const [scheduled, started] = [ms(timings.scheduledTime), ms(timings.containerStartedAt)];
  return scheduled === undefined || started === undefined
    ? undefined
    : (started - scheduled) / 1000;
}
