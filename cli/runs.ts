/**
 * `npm run runs -- [--stack dev] [--region …] [--job …] [--last 20] [--month 2026-11] [--json]`
 * lists the runs under way (live instances, runs between attempts), then run history from the
 * run records in the stack's buckets, newest first, with estimated cost sums per region and
 * month. `npm run runs -- show <run-id>` prints one run: its attempts, its timeline and where its
 * logs are.
 */
import {
  MAX_RUN_RETRY_ATTEMPTS,
  attemptFacts,
  type AttemptSummary,
  type RunRecord,
  type RunUtilization,
} from "../launcher/contract";
import { formatUsd } from "../launcher/prices";
import type { Advice } from "../launcher/rightSizing";
import { formatBytes } from "../launcher/utilization";
import { logsConsoleUrl } from "../launcher/telemetry";
import { CommandSpec, COMMON_FLAGS, formatHelp, parseArgs, UsageError, CliError } from "./args";
import { CliDeps, formatDuration, formatTable, Main, runAsProcess } from "./io";
import { adviseFromAws } from "./instanceAdvice";
import {
  findLiveRuns,
  retryingRunIds,
  retryingRunOf,
  type LiveRun,
  type RetryingRun,
} from "./liveRuns";
import {
  FoundRun,
  listJobRuns,
  mapLimited,
  parseRunId,
  readAttemptRecords,
  readRecord,
  type FoundAttempt,
} from "./runRecords";
import { timelineLines, timelineOf } from "./timeline";
import { readStackOutputs, selectRegions, stackFlag, StackOutputs } from "./stackOutputs";

export const RUNS_SPEC: CommandSpec = {
  usage: "npm run runs --",
  summary:
    "List the runs of a stack's jobs: those under way (live instances, runs between attempts), then those recorded (newest first) with estimated costs per region and month; or show one run with its attempts and timeline.",
  positionals: ["show?", "run-id?"],
  synopsis: ["npm run runs -- [flags]", "npm run runs -- show <run-id> [flags]"],
  flags: [
    COMMON_FLAGS.stack,
    COMMON_FLAGS.region,
    {
      name: "job",
      type: "string",
      placeholder: "<job>",
      description: "only this job",
      pattern: {
        regex: /^[a-z0-9][a-z0-9-]{0,62}$/,
        rule: "a job name (lower-case letters, digits, -)",
      },
    },
    {
      name: "last",
      type: "integer",
      placeholder: "<n>",
      description: "how many runs to list; with --month, default all of the month",
      min: 1,
      max: 10000,
    },
    {
      name: "month",
      type: "string",
      placeholder: "<yyyy-mm>",
      description: "only runs scheduled in this UTC month",
      pattern: { regex: /^\d{4}-(0[1-9]|1[0-2])$/, rule: "a month such as 2026-11" },
    },
    {
      name: "attempt",
      type: "integer",
      placeholder: "<n>",
      description: "with show: the attempt whose timeline to print (default: the last)",
      min: 1,
      max: MAX_RUN_RETRY_ATTEMPTS + 1,
    },
    COMMON_FLAGS.json,
  ],
  notes: [
    "examples:",
    "  npm run runs -- --stack dev",
    "  npm run runs -- --stack prod --region us-east-1 --job nightly-pi --month 2026-11",
    "  npm run runs -- --stack dev show pi-20261123T0600Z",
    "  npm run runs -- --stack dev show pi-20261123T0600Z --attempt 1",
    "",
    "Runs under way come first: live instances of the stack (EC2 DescribeInstances, by their tags)",
    "with their attempt, time since launch and deadline, and runs between two attempts (retrying).",
    "A run joins the history when it ends (its final record is written when its last attempt ends).",
    "Costs are estimates from AWS's prices at launch; n/a: no price was found. ~ marks one computed here.",
    "With --job, the list ends with right-size advice per region from the runs' memory and CPU,",
    "EC2's instance types (DescribeInstanceTypes) and on-demand prices (AWS Price List).",
    "exit status: 0 listed or shown, 1 AWS/Pulumi error or run not found, 2 bad command line",
  ],
};

/** Default number of runs listed. */
export const DEFAULT_LAST = 20;

/** One line of the cost summary. */
export interface CostSum {
  region: string;
  month: string;
  runs: number;
  succeeded: number;
  failed: number;
  estimatedCostUsd: number;
  /** Runs without any estimate (type or region missing from the price table). */
  unpriced: number;
}

/** Sums estimated cost (and counts runs) per region and UTC month of the scheduled time. */
export function costSums(runs: FoundRun[]): CostSum[] {
  const sums = new Map<string, CostSum>();
  for (const run of runs) {
    const month = (run.record.scheduledTime ?? run.record.startedAt ?? "").slice(0, 7) || "?";
    const key = `${run.region} ${month}`;
    const sum = sums.get(key) ?? {
      region: run.region,
      month,
      runs: 0,
      succeeded: 0,
      failed: 0,
      estimatedCostUsd: 0,
      unpriced: 0,
    };
    sum.runs++;
    if (run.record.status === "succeeded") sum.succeeded++;
    else sum.failed++;
    if (run.costUsd === undefined) sum.unpriced++;
    else sum.estimatedCostUsd = Math.round((sum.estimatedCostUsd + run.costUsd) * 1e6) / 1e6;
    sums.set(key, sum);
  }
  return [...sums.values()].sort((a, b) =>
    a.month === b.month ? a.region.localeCompare(b.region) : b.month.localeCompare(a.month),
  );
}

function costText(run: FoundRun): string {
  if (run.costUsd === undefined) return "n/a";
  return `${run.costEstimatedHere ? "~" : ""}${formatUsd(run.costUsd)}`;
}

function scheduledText(run: FoundRun): string {
  const time = run.record.scheduledTime ?? parseRunId(run.record.runId).time.toISOString();
  return time.replace(/:\d{2}(\.\d{3})?Z$/, "").replace("T", " ");
}

/** The `memory` and `cpu` lines of `show` for a run's utilization. */
export function utilizationRows(u: RunUtilization): Array<[string, string]> {
  const share = (percent: number | null) => (percent === null ? "" : ` (${percent}%)`);
  const of = u.instanceMemoryBytes === null ? "" : ` of ${formatBytes(u.instanceMemoryBytes)}`;
  const memory =
    u.peakMemoryBytes === null || u.meanMemoryBytes === null
      ? "not sampled"
      : `peak ${formatBytes(u.peakMemoryBytes)}${share(u.peakMemoryPercent)}, mean ${formatBytes(u.meanMemoryBytes)}${share(u.meanMemoryPercent)}${of}`;
  const oom =
    u.oomKilled === true
      ? "; OOM-killed"
      : u.oomKilled === false
        ? "; not OOM-killed"
        : "; OOM kill not known";
  const vcpus = u.instanceVcpus === null ? "the vCPUs" : `${u.instanceVcpus} vCPUs`;
  const cpu =
    u.meanCpuPercent === null || u.p95CpuPercent === null
      ? "not sampled"
      : `mean ${u.meanCpuPercent}%, p95 ${u.p95CpuPercent}% of ${vcpus}`;
  return [
    ["memory", `${memory}${oom}`],
    ["cpu", `${cpu}; ${u.samples} sample(s), one every ${u.intervalSeconds} s or so`],
  ];
}

/**
 * Right-size advice per region for `job`'s runs (newest first): one line each. An AWS error
 * (e.g. a missing `pricing:GetProducts` permission) becomes the region's line, not a failure:
 * the list is still worth having.
 */
async function adviceByRegion(
  deps: CliDeps,
  job: string,
  runs: FoundRun[],
): Promise<Array<{ region: string; advice?: Advice; error?: string }>> {
  const regions = [...new Set(runs.map((r) => r.region))].sort();
  return Promise.all(
    regions.map(async (region) => {
      try {
        const mine = runs.filter((r) => r.region === region && r.record.job === job);
        return {
          region,
          advice: await adviseFromAws(deps.ec2(region), deps.pricing(), region, mine),
        };
      } catch (error) {
        const { name, message } = error as Error;
        return { region, error: `no advice: ${name}: ${message}` };
      }
    }),
  );
}

/** The environment whose instances are the stack's: its output, or the stack's name. */
function environmentOf(outputs: StackOutputs): string | undefined {
  return outputs.environment ?? outputs.stack;
}

/** `2026-11-23T10:20:00Z` → `2026-11-23 10:20`. */
function minuteText(time: string): string {
  return time.replace(/:\d{2}(\.\d{3})?Z$/, "").replace("T", " ");
}

/** The deadline column of a live run: the time, and how long until it (or since). */
function deadlineText(run: LiveRun): string {
  if (run.deadline === undefined) return "-";
  const left = run.deadlineInSeconds;
  if (left === undefined) return minuteText(run.deadline);
  return `${minuteText(run.deadline)} (${left >= 0 ? `in ${formatDuration(left)}` : `${formatDuration(-left)} ago`})`;
}

/** The runs under way in the selected regions: live instances, and runs between attempts. */
interface UnderWay {
  live: LiveRun[];
  retrying: RetryingRun[];
  /** Per region whose instances could not be listed, why (the history is still worth having). */
  errors: string[];
}

async function runsUnderWay(
  deps: CliDeps,
  environment: string | undefined,
  regions: string[],
  job: string | undefined,
  listings: Array<{
    region: string;
    bucket: string;
    job: string;
    withAttempts: string[];
    recorded: string[];
  }>,
  inMonth: (runId: string) => boolean,
): Promise<UnderWay> {
  const errors: string[] = [];
  const live: LiveRun[] = [];
  if (environment === undefined) {
    errors.push(
      "live instances not listed: the stack's environment is unknown; name it with --stack, or deploy this version of the program (its environment output)",
    );
  } else {
    const found = await mapLimited(regions, 4, async (region) => {
      try {
        return await findLiveRuns(deps.ec2(region), region, environment, deps.now(), { job });
      } catch (error) {
        const { name, message } = error as Error;
        errors.push(`live instances of ${region} not listed: ${name}: ${message}`);
        return [];
      }
    });
    live.push(...found.flat().filter((r) => inMonth(r.runId)));
  }
  const between = listings.flatMap((l) =>
    retryingRunIds(
      l.withAttempts,
      l.recorded,
      live.filter((r) => r.region === l.region).map((r) => r.runId),
    )
      .filter(inMonth)
      .map((runId) => ({ ...l, runId })),
  );
  const retrying = (
    await mapLimited(between, 4, async (r) => {
      const attempts = await readAttemptRecords(deps.s3(r.region), r.bucket, r.runId);
      const last = attempts.at(-1);
      return last && retryingRunOf(r.region, r.runId, r.job, last);
    })
  ).filter((r): r is RetryingRun => r !== undefined);
  return { live, retrying, errors };
}

/** The lines of the runs under way, none when there are none. */
function underWayLines(scope: string, underWay: UnderWay): string[] {
  const { live, retrying, errors } = underWay;
  const lines: string[] = [];
  if (live.length + retrying.length > 0) {
    lines.push(`Runs under way (${scope}): ${live.length} live, ${retrying.length} retrying`);
    lines.push(
      formatTable(
        ["RUN ID", "REGION", "STATE", "ATTEMPT", "TYPE", "MARKET", "ELAPSED", "DEADLINE (UTC)"],
        [
          ...live.map((r) => [
            r.runId,
            r.region,
            r.state,
            String(r.attempt),
            r.instanceType ?? "-",
            r.purchaseOption,
            formatDuration(r.elapsedSeconds),
            deadlineText(r),
          ]),
          ...retrying.map((r) => [
            r.runId,
            r.region,
            "retrying",
            `${r.attempt} ${r.status}`,
            r.instanceType ?? "-",
            r.purchaseOption ?? "-",
            "-",
            "-",
          ]),
        ],
      ),
    );
  }
  lines.push(...errors.map((e) => `(${e})`));
  if (lines.length > 0) lines.push("");
  return lines;
}

/** Lists the runs; returns the exit status. */
async function listRuns(
  deps: CliDeps,
  outputs: StackOutputs,
  flags: Record<string, unknown>,
): Promise<number> {
  const regions = selectRegions(outputs, flags.region as string | undefined);
  const job = flags.job as string | undefined;
  const month = flags.month as string | undefined;
  const last =
    (flags.last as number | undefined) ?? (month ? Number.MAX_SAFE_INTEGER : DEFAULT_LAST);
  const sources = regions.flatMap(([region, out]) =>
    Object.keys(out.jobs)
      .filter((name) => job === undefined || name === job)
      .map((name) => ({ region, bucket: out.bucketName, job: name })),
  );
  if (job !== undefined && sources.length === 0) {
    const known = [...new Set(regions.flatMap(([, out]) => Object.keys(out.jobs)))].join(", ");
    throw new UsageError(`--job: "${job}" is not a job of the selected regions (${known})`);
  }
  const inMonth = (runId: string) =>
    month === undefined || parseRunId(runId).time.toISOString().startsWith(month);

  const listings = await mapLimited(sources, 4, async (source) => ({
    ...source,
    ...(await listJobRuns(deps.s3(source.region), source.bucket, source.job)),
  }));
  const underWay = await runsUnderWay(
    deps,
    environmentOf(outputs),
    [...new Set(sources.map((s) => s.region))],
    job,
    listings,
    inMonth,
  );
  const listed = listings
    .flatMap(({ recorded, withAttempts: _, ...source }) =>
      recorded.map((runId) => ({ ...source, runId, time: parseRunId(runId).time })),
    )
    .filter((r) => inMonth(r.runId))
    .sort((a, b) => b.time.getTime() - a.time.getTime() || a.region.localeCompare(b.region))
    .slice(0, last);
  const runs = (
    await mapLimited(listed, 8, (r) => readRecord(deps.s3(r.region), r.region, r.bucket, r.runId))
  ).filter((r): r is FoundRun => r !== undefined);
  const sums = costSums(runs);
  const advice = job !== undefined && runs.length > 0 ? await adviceByRegion(deps, job, runs) : [];

  if (flags.json) {
    deps.io.out(
      JSON.stringify(
        {
          stack: outputs.stack ?? null,
          live: underWay.live,
          retrying: underWay.retrying,
          ...(underWay.errors.length ? { errors: underWay.errors } : {}),
          runs: runs.map((r) => ({
            region: r.region,
            record: `s3://${r.bucket}/${r.key}`,
            durationSeconds: r.durationSeconds ?? null,
            estimatedCostUsd: r.costUsd ?? null,
            costEstimatedByCli: r.costEstimatedHere,
            ...r.record,
          })),
          costs: sums,
          ...(job !== undefined ? { advice } : {}),
        },
        null,
        2,
      ),
    );
    return 0;
  }

  const scope = `stack ${outputs.stack ?? "(selected)"}, ${regions.length === 1 ? "region" : "regions"} ${regions.map(([r]) => r).join(", ")}${job ? `, job ${job}` : ""}${month ? `, ${month}` : ""}`;
  for (const line of underWayLines(scope, underWay)) deps.io.out(line);
  if (runs.length === 0) {
    const jobs = [...new Set(sources.map((s) => s.job))];
    deps.io.out(
      `No runs recorded (${scope}). A run writes its record when it ends; start one with:\n  npm run launch -- ${stackFlag(outputs)}--job ${jobs[0] ?? "<job>"}`,
    );
    return 0;
  }
  deps.io.out(`Runs of ${scope}: ${runs.length} shown, newest first`);
  deps.io.out(
    formatTable(
      [
        "RUN ID",
        "REGION",
        "SCHEDULED (UTC)",
        "STATUS",
        "ATTEMPTS",
        "TYPE",
        "MARKET",
        "DURATION",
        "EST. COST",
      ],
      runs.map((r) => [
        r.record.runId,
        r.region,
        scheduledText(r),
        r.record.status,
        String(r.record.runAttempts?.length || r.record.attempt || 1),
        r.record.instanceType ?? "-",
        r.record.purchaseOption ?? "-",
        formatDuration(r.durationSeconds),
        costText(r),
      ]),
      [4, 7, 8],
    ),
  );
  deps.io.out("");
  deps.io.out("Estimated cost per region and month (the runs above):");
  deps.io.out(
    formatTable(
      ["MONTH", "REGION", "RUNS", "SUCCEEDED", "OTHER", "EST. COST"],
      sums.map((s) => [
        s.month,
        s.region,
        String(s.runs),
        String(s.succeeded),
        String(s.failed),
        `${formatUsd(s.estimatedCostUsd)}${s.unpriced ? ` (+${s.unpriced} unpriced)` : ""}`,
      ]),
      [2, 3, 4, 5],
    ),
  );
  if (runs.some((r) => r.costEstimatedHere)) {
    deps.io.out("~ estimated here from the record's times and the prices it carries.");
  }
  deps.io.out(
    "Between runs nothing runs: the idle cost is storage only (results, run records, images, logs).",
  );
  for (const { region, advice: found, error } of advice) {
    deps.io.out("");
    deps.io.out(`Right-size advice for job ${job} in ${region}: ${found?.text ?? error}`);
  }
  return 0;
}

/** Where a run was found: its final record, or else what it has so far. */
export interface LocatedRun {
  region: string;
  bucket: string;
  /** The run's final record, once its last attempt ended. */
  found?: FoundRun;
  /** Its attempt records (read only when it has no final record yet), oldest first. */
  attempts: FoundAttempt[];
  /** Its attempt under way, if an instance of it is alive. */
  live?: LiveRun;
}

/**
 * Finds a run in the stack's buckets: its record, or, for a run that has none yet, its attempt
 * records and its live instance. Throws when none of them exists in any region of its job.
 */
export async function findRun(
  deps: CliDeps,
  outputs: StackOutputs,
  runId: string,
  region: string | undefined,
): Promise<LocatedRun> {
  const { job } = parseRunId(runId);
  const regions = selectRegions(outputs, region).filter(([, out]) => job in out.jobs);
  if (regions.length === 0) {
    throw new CliError(
      `no region of stack ${outputs.stack ?? "(selected)"} runs job "${job}" (the job of run ${runId})`,
    );
  }
  const records = await Promise.all(
    regions.map(([name, out]) => readRecord(deps.s3(name), name, out.bucketName, runId)),
  );
  const recorded = records.findIndex((r) => r !== undefined);
  if (recorded !== -1) {
    const [name, out] = regions[recorded];
    return { region: name, bucket: out.bucketName, found: records[recorded], attempts: [] };
  }
  const environment = environmentOf(outputs);
  const partial = await Promise.all(
    regions.map(async ([name, out]) => ({
      region: name,
      bucket: out.bucketName,
      attempts: await readAttemptRecords(deps.s3(name), out.bucketName, runId),
      live:
        environment === undefined
          ? undefined
          : (await findLiveRuns(deps.ec2(name), name, environment, deps.now(), { job, runId })).at(
              -1,
            ),
    })),
  );
  const seen = partial.find((p) => p.live !== undefined || p.attempts.length > 0);
  if (!seen) {
    throw new CliError(
      `no run record for ${runId} in ${regions.map(([name, out]) => `s3://${out.bucketName} (${name})`).join(", ")}, no attempt record and no live instance of it; a run writes its record when it ends: if it is just starting, follow it with npm run logs -- ${stackFlag(outputs)}${runId}`,
    );
  }
  return seen.live ? seen : { ...seen, live: undefined };
}

/** An attempt record as the attempts table lists it. */
export function attemptSummaryOf(found: FoundAttempt): AttemptSummary {
  const { record } = found;
  return {
    ...attemptFacts(record, record.attempt ?? found.attempt),
    story: record.message ?? record.status,
  };
}

/** The attempt under way as the attempts table lists it. */
function liveSummaryOf(run: LiveRun): AttemptSummary {
  return {
    attempt: run.attempt,
    status: run.state,
    instanceId: run.instanceId,
    instanceType: run.instanceType ?? null,
    purchaseOption: run.purchaseOption,
    startedAt: run.launchTime ?? null,
    endedAt: null,
    story: `under way for ${formatDuration(run.elapsedSeconds)}; deadline ${deadlineText(run)}`,
  };
}

/** The attempts of a run as a table. */
export function attemptLines(attempts: AttemptSummary[]): string[] {
  const time = (t?: string | null) => (t ? t.replace("T", " ").replace(/(\.\d{3})?Z$/, "") : "-");
  return formatTable(
    ["#", "STATUS", "EXIT", "INSTANCE", "STARTED (UTC)", "ENDED (UTC)", "STORY"],
    attempts.map((a) => [
      String(a.attempt),
      a.status,
      a.exitCode === undefined || a.exitCode === null ? "-" : String(a.exitCode),
      [a.instanceId, a.instanceType, a.purchaseOption].filter(Boolean).join(" ") || "-",
      time(a.startedAt),
      time(a.endedAt),
      a.story,
    ]),
    [0, 2],
  ).split("\n");
}

/** The attempts, then the timeline of the attempt whose record carries timings. */
function attemptsAndTimeline(
  deps: CliDeps,
  attempts: AttemptSummary[],
  timed: RunRecord | undefined,
): void {
  if (attempts.length > 0) {
    deps.io.out(`Attempts (${attempts.length}):`);
    for (const line of attemptLines(attempts)) deps.io.out(`  ${line}`);
  }
  const timeline = timed?.timings ? timelineOf(timed.timings) : undefined;
  if (timeline && timed?.timings) {
    deps.io.out(
      `Timeline of attempt ${timed.attempt ?? 1}, from the scheduled time ${timed.timings.scheduledTime}:`,
    );
    for (const line of timelineLines(timeline)) deps.io.out(`  ${line}`);
  }
}

/** Prints `rows` as aligned key-value lines; a value's further lines are indented under it. */
function printRows(deps: CliDeps, rows: Array<[string, string]>): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [key, value] of rows) {
    const [first, ...more] = value.split("\n");
    deps.io.out(`  ${key.padEnd(width)}  ${first}`);
    for (const line of more) deps.io.out(`  ${"".padEnd(width)}  ${line}`);
  }
}

/** A run that has not ended: its attempt under way or the one it waits after, its attempts. */
function showUnderWay(
  deps: CliDeps,
  outputs: StackOutputs,
  runId: string,
  located: LocatedRun,
  json: boolean,
  attempt: number | undefined,
): number {
  const { job } = parseRunId(runId);
  const attempts = located.attempts.map(attemptSummaryOf);
  const lastRecord = located.attempts.at(-1);
  if (located.live) attempts.push(liveSummaryOf(located.live));
  const logGroup = outputs.regions[located.region].jobs[job]?.logGroupName;
  if (json) {
    deps.io.out(
      JSON.stringify(
        {
          region: located.region,
          runId,
          job,
          status: located.live ? "live" : "retrying",
          live: located.live ?? null,
          attempts,
          attemptRecords: located.attempts.map((a) => `s3://${located.bucket}/${a.key}`),
          timeline: lastRecord?.record.timings
            ? (timelineOf(lastRecord.record.timings) ?? null)
            : null,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  const live = located.live;
  const status = live
    ? `${live.state}: attempt ${live.attempt} on ${live.instanceId}, ${formatDuration(live.elapsedSeconds)} since launch; deadline ${deadlineText(live)}`
    : `retrying: attempt ${lastRecord?.attempt ?? "?"} ended ${lastRecord?.record.status ?? "?"}${lastRecord?.record.endedAt ? ` at ${lastRecord.record.endedAt}` : ""}; the next attempt starts after the retry policy's backoff`;
  deps.io.out(
    `Run ${runId} (job ${job}, stack ${outputs.stack ?? "(selected)"}, region ${located.region}): under way, no final record yet`,
  );
  printRows(deps, [
    ["status", status],
    [
      "logs",
      `npm run logs -- ${stackFlag(outputs)}${runId}${logGroup ? ` (group ${logGroup})` : ""}`,
    ],
  ]);
  attemptsAndTimeline(
    deps,
    attempts,
    chosenAttempt(runId, located.attempts, attempt) ?? lastRecord?.record,
  );
  return 0;
}

/**
 * The record of attempt `wanted` among `found` (undefined when none is wanted); throws naming
 * the attempts there are when the run has no record of it.
 */
function chosenAttempt(
  runId: string,
  found: FoundAttempt[],
  wanted: number | undefined,
): RunRecord | undefined {
  if (wanted === undefined) return undefined;
  const hit = found.find((a) => (a.record.attempt ?? a.attempt) === wanted);
  if (hit) return hit.record;
  const known = found.map((a) => a.record.attempt ?? a.attempt);
  throw new CliError(
    `--attempt: run ${runId} has no record of attempt ${wanted}; ${known.length ? `its attempt records: ${known.join(", ")}` : "it has no attempt records"}`,
  );
}

async function showRun(
  deps: CliDeps,
  outputs: StackOutputs,
  runId: string,
  flags: Record<string, unknown>,
): Promise<number> {
  const located = await findRun(deps, outputs, runId, flags.region as string | undefined);
  const attempt = flags.attempt as number | undefined;
  if (!located.found) {
    return showUnderWay(deps, outputs, runId, located, Boolean(flags.json), attempt);
  }
  const run = located.found;
  const { record } = run;
  const logGroup = record.logGroup ?? outputs.regions[run.region].jobs[record.job]?.logGroupName;
  const logStream = record.logStream ?? record.runId;
  // The run's record holds its last attempt's timings; an earlier one's are in its own record.
  const timed =
    attempt === undefined || attempt === (record.attempt ?? 1)
      ? record
      : chosenAttempt(
          runId,
          await readAttemptRecords(deps.s3(run.region), run.bucket, runId),
          attempt,
        );
  if (flags.json) {
    deps.io.out(
      JSON.stringify(
        {
          region: run.region,
          record: `s3://${run.bucket}/${run.key}`,
          durationSeconds: run.durationSeconds ?? null,
          estimatedCostUsd: run.costUsd ?? null,
          costEstimatedByCli: run.costEstimatedHere,
          logs: logGroup
            ? { logGroup, logStream, url: logsConsoleUrl(run.region, logGroup, logStream) }
            : null,
          timeline: timed?.timings ? (timelineOf(timed.timings) ?? null) : null,
          ...record,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  const status = [
    record.status,
    record.phase ? `phase ${record.phase}` : "",
    record.exitCode !== undefined && record.exitCode !== null ? `exit code ${record.exitCode}` : "",
  ].filter(Boolean);
  const instance = [
    record.instanceId,
    record.instanceType,
    record.purchaseOption,
    record.availabilityZone ? `in ${record.availabilityZone}` : "",
  ].filter(Boolean);
  const rows: Array<[string, string]> = [
    ["status", status.length > 1 ? `${status[0]} (${status.slice(1).join(", ")})` : status[0]],
    ["message", record.message ?? "-"],
    ["scheduled", record.scheduledTime ?? "-"],
    ["started", record.startedAt ?? "-"],
    ["ended", record.endedAt ?? "-"],
    ["duration", formatDuration(run.durationSeconds)],
    ["instance", instance.length ? instance.join(" ") : "-"],
    ["estimated cost", costText(run)],
    [
      "image",
      record.imageDigest ? `${record.imageUri} (${record.imageDigest})` : (record.imageUri ?? "-"),
    ],
    ...(record.summary ? ([["result", record.summary]] as Array<[string, string]>) : []),
    ...(record.utilization ? utilizationRows(record.utilization) : []),
    ...(record.deadline ? ([["deadline", record.deadline]] as Array<[string, string]>) : []),
    ["record", `s3://${run.bucket}/${run.key}`],
    [
      "logs",
      logGroup
        ? `group ${logGroup}, stream ${logStream}\nnpm run logs -- ${stackFlag(outputs)}${record.runId}\n${logsConsoleUrl(run.region, logGroup, logStream)}`
        : "-",
    ],
  ];
  deps.io.out(
    `Run ${record.runId} (job ${record.job}, stack ${outputs.stack ?? record.environment ?? "(selected)"}, region ${run.region})`,
  );
  printRows(deps, rows);
  attemptsAndTimeline(deps, record.runAttempts ?? [], timed);
  return 0;
}

/** `npm run runs`. */
export const main: Main = async (argv, deps) => {
  const args = parseArgs(argv, RUNS_SPEC);
  if (args.help) {
    deps.io.out(formatHelp(RUNS_SPEC));
    return 0;
  }
  const [command, runId] = args.positionals;
  if (command !== undefined && command !== "show") {
    throw new UsageError(
      `unexpected argument ${JSON.stringify(command)}: the only command is "show <run-id>"; see npm run runs -- --help`,
    );
  }
  if (command !== "show" && args.flags.attempt !== undefined) {
    throw new UsageError(
      "--attempt applies to show only: npm run runs -- show <run-id> --attempt <n>",
    );
  }
  if (command === "show") {
    if (runId === undefined)
      throw new UsageError("show needs a <run-id>, e.g. show pi-20261123T0600Z");
    parseRunId(runId);
    for (const flag of ["job", "last", "month"]) {
      if (args.flags[flag] !== undefined) throw new UsageError(`--${flag} does not apply to show`);
    }
  }
  const outputs = await readStackOutputs(args.flags.stack as string | undefined, deps.pulumi);
  return command === "show"
    ? showRun(deps, outputs, runId!, args.flags)
    : listRuns(deps, outputs, args.flags);
};

if (require.main === module) runAsProcess(main);
