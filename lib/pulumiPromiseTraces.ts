/**
 * Pulumi records a stack trace for every promise it creates (`debuggablePromise` in
 * @pulumi/pulumi/runtime/debuggable.js reads `new Error().stack` at once), to print them only if
 * the program exits with promises still pending. Under ts-node, which `pulumi` uses for a
 * TypeScript program, each of those traces is formatted through source maps: measured here at
 * about a fifth of an evaluation's CPU, growing with every resource (bench "evaluation").
 */
import * as path from "node:path";

/** Pulumi's own switch for debugging leaked promises: with it set, traces stay formatted. */
export const PULUMI_PROMISE_LEAK_DEBUG_VARIABLE = "PULUMI_DEBUG_PROMISE_LEAKS";

const DEBUGGABLE_MODULE = path.join("@pulumi", "pulumi", "runtime", "debuggable.js");

type StackFormatter = (error: Error, frames: NodeJS.CallSite[]) => unknown;

/**
 * The formatter that leaves the traces Pulumi takes for its promises unformatted (one line naming
 * their origin) and hands every other error to `format`.
 */
export function pulumiPromiseTraceFormatter(format: StackFormatter): StackFormatter {
  return (error, frames) =>
    frames[0]?.getFileName()?.endsWith(DEBUGGABLE_MODULE)
      ? `${String(error)}\n    at ${frames[0].getFunctionName()} (a Pulumi promise's trace, not formatted)`
      : format(error, frames);
}

/**
 * Installs {@link pulumiPromiseTraceFormatter} over the current stack formatter (source-map
 * support's, under ts-node), once; a no-op without one (plain Node formats lazily and cheaply) or
 * when `PULUMI_DEBUG_PROMISE_LEAKS` is set, so that a leak can still be traced to its source.
 */
export function leavePulumiPromiseTracesUnformatted(env: NodeJS.ProcessEnv = process.env): boolean {
  const format = Error.prepareStackTrace as
    (StackFormatter & { pulumiTracesUnformatted?: true }) | undefined;
  if (!format || format.pulumiTracesUnformatted || env[PULUMI_PROMISE_LEAK_DEBUG_VARIABLE]) {
    return false;
  }
  Error.prepareStackTrace = Object.assign(pulumiPromiseTraceFormatter(format), {
    pulumiTracesUnformatted: true as const,
  }) as typeof Error.prepareStackTrace;
  return true;
}
